"""Benchmarks for `licit bench --audit`: what logging a decision costs, measured against the
bare durable commit rate of the same disk in the same run.

This machine's disk and cores are shared: the time a durable commit takes can change tenfold
within seconds. So every figure is measured in rounds taken in turn (interleaved): each round
runs every measure for a share of its work, and a slow moment falls on all of them alike.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from audit.log import DecisionLog
from audit.records import Item, prepare_entry

_FORK = multiprocessing.get_context("fork")  # record workers inherit their prepared decisions


class Measure(Protocol):
    def run(self, units: int) -> float:
        """Seconds to do `units` more of its work."""

    def close(self) -> None: ...


def interleaved(measures: dict[str, Measure], units: int, rounds: int = 10) -> dict[str, float]:
    """Units per second of each measure, each doing `units` in `rounds` rounds taken in turn."""
    share = max(units // rounds, 1)
    elapsed = dict.fromkeys(measures, 0.0)
    for _ in range(rounds):
        for name, measure in measures.items():
            elapsed[name] += measure.run(share)
    return {name: share * rounds / seconds for name, seconds in elapsed.items()}


def typical_row_bytes(items: list[Item]) -> int:
    """Bytes of the decisions row the typical one of `items` is stored as."""
    key = secrets.token_bytes(16)
    entries = [prepare_entry(d, f, s, key) for d, f, _, s in items]
    # hashes and timestamps come to about 200 bytes
    return round(sum(len(e.decision_json) + len(e.flow_json) for e in entries) / len(entries)) + 200


class BareCommits:
    """Durable commits with the log's settings (WAL, synchronous=FULL), one row of `row_bytes`
    each, in `directory` (the log's disk)."""

    def __init__(self, directory: Path, row_bytes: int):
        self._row = os.urandom(row_bytes)
        self._conn = sqlite3.connect(directory / "bare.db", isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")

    def run(self, units: int) -> float:
        started = time.perf_counter()
        for _ in range(units):
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute("INSERT INTO rows(body) VALUES (?)", (self._row,))
            self._conn.execute("COMMIT")
        return time.perf_counter() - started

    def close(self) -> None:
        self._conn.close()


class Workers:
    """`count` worker processes, each made by `start_worker(number, commands, barrier)`, told how
    many units to do each round; a round is timed from their release to the last one's end."""

    def __init__(self, context, count: int, start_worker: Callable):
        self._barrier = context.Barrier(count + 1)
        pipes = [context.Pipe() for _ in range(count)]
        self._commands = [ours for ours, _ in pipes]
        self._processes = [start_worker(number, theirs, self._barrier) for number, (_, theirs) in enumerate(pipes)]
        for process in self._processes:
            process.start()
        self._barrier.wait()  # each is ready (its log open, its engine loaded)

    def run(self, units: int) -> float:
        for number, commands in enumerate(self._commands):
            commands.send(units // len(self._commands) + (number < units % len(self._commands)))
        self._barrier.wait()
        started = time.perf_counter()
        self._barrier.wait()
        return time.perf_counter() - started

    def close(self) -> None:
        for commands in self._commands:
            commands.send(None)
        for process in self._processes:
            process.join()
        if any(process.exitcode for process in self._processes):
            raise RuntimeError("a benchmark worker failed")


def serve_rounds(commands, barrier, do: Callable[[int], None]) -> None:
    """A worker's loop: ready, then each round `do(units)` between the barrier's two waits."""
    barrier.wait()
    while (units := commands.recv()) is not None:
        barrier.wait()
        do(units)
        barrier.wait()


def recording_processes(path: Path, key: bytes, items: list[Item], processes: int) -> Workers:
    """DecisionLog.record alone, from `processes` processes, each with its own DecisionLog on the
    log at `path`, each recording its share of `items` (whose decision ids must differ)."""
    shares = [items[number::processes] for number in range(processes)]
    return Workers(_FORK, processes, lambda number, commands, barrier: _FORK.Process(
        target=_record_worker, args=(path, key, shares[number], commands, barrier)))


def _record_worker(path: Path, key: bytes, items: list[Item], commands, barrier) -> None:
    pending = iter(items)
    with DecisionLog(path, key=key, timeout=60) as log:
        serve_rounds(commands, barrier, lambda units: [log.record(*next(pending)) for _ in range(units)])


def record_measures(directory: Path, items: list[Item], processes: int) -> dict[str, Measure]:
    """Bare commits of a row of `items`' size, and DecisionLog.record alone from one process and
    from `processes`."""
    key = secrets.token_hex(16).encode()
    for name in ("records-1.db", "records-n.db"):
        DecisionLog(directory / name, key=key).close()
    return {"bare": BareCommits(directory, typical_row_bytes(items[:200])),
            "record 1": recording_processes(directory / "records-1.db", key, items, 1),
            "record n": recording_processes(directory / "records-n.db", key, items, processes)}
