"""Work over the records of a decision log, divided into spans of sequence numbers, each span read
and processed by a worker process with its own engines (audit.spans reads them).

A job is a picklable description of the work (frozen dataclass): `start(conn)` builds what a
process needs once (engines), `run(state, records)` turns one span's records into a part, a small
summary the caller merges. Only spans go to the workers and only parts come back, so memory stays
flat whatever the log's size, and the same division could be handed to the machines of a cluster
that share the log's file. Parts come back in span order, whatever the order they finish in.
"""
from __future__ import annotations

import collections
import multiprocessing
import os
import signal
import sqlite3
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from audit.schema import open_reader
from audit import AuditError
from audit.spans import LoggedRecord, Selection, Span, plan_spans, read_span
from rules.errors import LicitError

__all__ = ["SpanJob", "SpanWorkError", "default_workers", "run_spans", "SPAN_WIDTH"]

SPAN_WIDTH = 2_000  # sequence numbers per span: about half a second of work, so progress and Ctrl-C are prompt
_IN_FLIGHT_PER_WORKER = 4  # spans queued ahead per worker: enough to keep it busy while parts are merged


class SpanJob(Protocol):
    def start(self, conn: sqlite3.Connection) -> Any: ...

    def run(self, state: Any, records: Iterator[LoggedRecord]) -> Any: ...


class SpanWorkError(LicitError):
    """A job failed in a worker process; the message is the one the job raised there."""


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


def plan(db: str | os.PathLike, selection: Selection, width: int = SPAN_WIDTH) -> list[Span]:
    """The spans of the log `db` that hold records of `selection` (audit.spans.plan_spans)."""
    conn, _ = open_reader(db)
    try:
        return plan_spans(conn, selection, width)
    except sqlite3.Error as error:
        raise AuditError(f"cannot read decision log {db}: {error}") from None
    finally:
        conn.close()


def run_spans(db: str | os.PathLike, selection: Selection, job: SpanJob, spans: list[Span], *,
              workers: int | None = None) -> Iterator[Any]:
    """The part of each span, in span order. With one worker (or one span) the work runs in this
    process; otherwise in `workers` processes. A log that cannot be read raises AuditError, any other
    LicitError of a job SpanWorkError with its message."""
    workers = min(workers or default_workers(), len(spans))
    if workers <= 1:
        try:
            yield from (_run_span(os.fspath(db), selection, job, span) for span in spans)
        finally:
            _stop()
        return
    # spawn: a fresh interpreter per worker, as on every platform; fork would copy this process's threads' locks
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_interrupts)
    try:
        pending: collections.deque[Future] = collections.deque()
        remaining = iter(spans)
        for span in remaining:
            pending.append(pool.submit(_run_span, os.fspath(db), selection, job, span))
            if len(pending) >= workers * _IN_FLIGHT_PER_WORKER:
                break
        while pending:
            try:
                part = pending.popleft().result()
            except BrokenProcessPool:
                raise SpanWorkError("a worker process died (killed, or out of memory): the work is incomplete, "
                                    "run it again") from None
            following = next(remaining, None)
            if following is not None:
                pending.append(pool.submit(_run_span, os.fspath(db), selection, job, following))
            yield part
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _ignore_interrupts() -> None:
    # Ctrl-C reaches every process of the terminal's group: the parent stops the work, workers finish their span
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# per process, the last job started: (log, job, connection, job state)
_started: tuple[str, SpanJob, sqlite3.Connection, Any] | None = None


def _run_span(db: str, selection: Selection, job: SpanJob, span: Span) -> Any:
    global _started
    try:
        if _started is None or _started[:2] != (db, job):
            _stop()
            conn, _ = open_reader(db)
            _started = db, job, conn, None
            _started = db, job, conn, job.start(conn)
        return job.run(_started[3], read_span(_started[2], span, selection))
    except sqlite3.Error as error:
        raise AuditError(f"cannot read decision log {db}: {error}") from None
    except LicitError as error:
        # as a plain message: LicitError subclasses with their own fields do not survive pickling
        raise (AuditError if isinstance(error, AuditError) else SpanWorkError)(str(error)) from None


def _stop() -> None:
    global _started
    if _started is not None:
        _started[2].close()
        _started = None
