"""Group commit: one durable transaction carries the decisions of every writer waiting.

A durable commit costs an fsync whatever it carries, so writers that arrive while
one commits share the next commit, at two levels:

- Threads of one process hand their records to a CommitQueue. Whichever thread
  finds no commit under way commits everything queued (leader/follower); the
  others wait in memory and are woken when their records are on disk.
- Processes take turns by flock(2) on `<log>-spool/lock` (FileTurn). A process
  whose committing thread finds the turn taken leaves its prepared batch in the
  spool and waits; whoever holds the turn next commits every spooled batch with
  its own. A waiter that finds its spool file gone knows its batch is committed:
  spool files are removed only after the transaction carrying them has committed.

Beside the log `<log>` (writers create it, readers never look at it):

    <log>-spool/lock            flock(2) held by the process whose turn it is
    <log>-spool/<name>.entry    a prepared, redacted batch waiting for a turn

A spool file holds exactly what the log stores (the redacted flow), never an
identifier in clear. A batch whose writer was killed while it waited may still be
committed by the next writer: the log can hold a decision its caller never
received, never the reverse.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from audit.errors import AuditWriteError
from audit.records import Entry, StoredRuleset

__all__ = ["SETTLED", "TAKEN", "TIMED_OUT", "CommitQueue", "FileTurn", "Spool", "Submission", "spool_directory"]

_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 20e-6, 500e-6
TAKEN, SETTLED, TIMED_OUT = "taken", "settled", "timed out"


def spool_directory(log_path: Path) -> Path:
    return Path(f"{os.fspath(log_path)}-spool")


@dataclass(eq=False)
class Submission:
    """One caller's records (all or none), and what became of them."""

    entries: list[Entry]
    rulesets: list[StoredRuleset]
    seq: int | None = None  # the last record's sequence number, once committed
    error: Exception | None = None
    done: bool = field(default=False, repr=False)


class CommitQueue:
    """Threads of one process: whoever finds no commit under way commits for everyone queued."""

    def __init__(self, log_path: Path):
        self._log_path = log_path
        self._changed = threading.Condition()
        self._queued: list[Submission] = []
        self._committing = False
        self._closed = False

    def submit(self, submission: Submission, commit: Callable[[list[Submission]], None], deadline: float) -> int:
        """Queue `submission` and return its last sequence number once it is committed,
        by this thread or another; raises its error. `commit(batch)` must set `seq` or
        `error` on each submission of the batch. A submission still queued at
        `deadline` (time.monotonic) is withdrawn; one already inside a commit waits for
        it, which that commit's own deadline bounds."""
        with self._changed:
            if self._closed:
                raise AuditWriteError(f"cannot write decision log {self._log_path}: it is closed")
            self._queued.append(submission)
            while not submission.done:
                if not self._committing:
                    batch, self._queued = self._queued, []
                    self._committing = True
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 and submission in self._queued:
                    self._queued.remove(submission)
                    raise AuditWriteError(
                        f"cannot write decision log {self._log_path}: database is locked "
                        f"(other writers of this process held it past the timeout)"
                    )
                self._changed.wait(max(remaining, 0.01))
            else:
                return _result(submission)
        try:
            commit(batch)
        finally:
            with self._changed:
                for queued in batch:
                    if queued.seq is None and queued.error is None:  # commit itself was interrupted
                        queued.error = AuditWriteError(
                            f"cannot write decision log {self._log_path}: commit interrupted")
                    queued.done = True
                self._committing = False
                self._changed.notify_all()
        return _result(submission)

    def close(self, deadline: float) -> None:
        """Refuse new submissions and fail queued ones; wait (until `deadline`) for a commit under way."""
        with self._changed:
            self._closed = True
            for queued in self._queued:
                queued.error = AuditWriteError(f"cannot write decision log {self._log_path}: it was closed")
                queued.done = True
            self._queued = []
            self._changed.notify_all()
            while self._committing and time.monotonic() < deadline:
                self._changed.wait(deadline - time.monotonic())


def _result(submission: Submission) -> int:
    if submission.error is not None:
        raise submission.error
    return submission.seq


class FileTurn:
    """The right to write the log among processes: an flock(2), taken by one thread at a time."""

    def __init__(self, directory: Path, file_mode: int):
        # flock needs no write access: a writer refused by the log itself then hears why from SQLite.
        self._fd = os.open(directory / "lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, file_mode)

    def try_take(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def take(self, deadline: float, settled: Callable[[], bool] = lambda: False) -> str:
        """Wait for the turn until `deadline` (time.monotonic), or until `settled()`:
        TAKEN, SETTLED (the turn is not held) or TIMED_OUT.

        flock has no timeout: poll, with pauses short beside a commit so that neither
        the turn nor a waiter whose batch a commit has settled is left idle."""
        pause = _FIRST_PAUSE_S
        while not self.try_take():
            if settled():
                return SETTLED
            if time.monotonic() >= deadline:
                return TIMED_OUT
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE_S)
        return TAKEN

    def give_back(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class Spool:
    """Batches waiting for a process's turn, one file each, oldest first."""

    BATCH = 256  # spool files taken into one transaction, besides the writer's own records

    def __init__(self, directory: Path, file_mode: int):
        self.directory = directory
        self._file_mode = file_mode
        self._names = itertools.count()
        self._empty_at: int | None = None  # the directory's mtime when last found empty

    def put(self, entries: list[Entry]) -> Path:
        """Leave `entries` for the next writer; no fsync: until committed they are not durable anyway."""
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(self._names)}"
        written = self.directory / f"{name}.tmp"
        with open(os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, self._file_mode), "w") as file:
            file.write(_dump(entries))
        waiting = written.with_suffix(".entry")
        os.rename(written, waiting)  # whole or absent, for whoever reads the spool
        return waiting

    def waiting(self, exclude: Path | None = None) -> list[tuple[Path, list[Entry]]]:
        """Up to BATCH spooled batches, oldest first; files that vanish or do not parse are skipped.

        An unchanged directory that held nothing last time is not listed again (a
        batch spooled within the same clock tick is then left to its own writer,
        which commits it in its turn)."""
        changed_at = os.stat(self.directory).st_mtime_ns
        if changed_at == self._empty_at:
            return []
        with os.scandir(self.directory) as found:
            names = sorted(item.name for item in found if item.name.endswith(".entry"))
        taken = []
        for name in names:
            path = self.directory / name
            if path == exclude:
                continue
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                taken.append((path, _load(path.read_text())))
            if len(taken) == self.BATCH:
                break
        self._empty_at = changed_at if not names else None
        return taken

    @staticmethod
    def remove(paths) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def remove_abandoned(self, older_than_s: float = 3600.0) -> None:
        """Half-written files of writers killed while spooling; never read, so only tidied."""
        cutoff = time.time() - older_than_s
        with os.scandir(self.directory) as found:
            stale = [item.path for item in found if item.name.endswith(".tmp") and _modified(item) < cutoff]
        self.remove(stale)


def _modified(item: os.DirEntry) -> float:
    """A live writer renames its .tmp file at any moment: a file gone since the listing is not stale."""
    try:
        return item.stat().st_mtime
    except FileNotFoundError:
        return math.inf


def _dump(entries: list[Entry]) -> str:
    return json.dumps([dict(dataclasses.asdict(entry), body=entry.body.decode()) for entry in entries],
                      ensure_ascii=False)


def _load(text: str) -> list[Entry]:
    batch = json.loads(text)
    if not isinstance(batch, list) or not batch:
        raise ValueError("a spool file holds a non-empty list of records")
    return [Entry(**dict(fields, body=fields["body"].encode())) for fields in batch]
