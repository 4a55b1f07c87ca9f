"""Benchmarks for `licit bench --audit`: what logging a decision costs, measured
against the bare durable commit rate of the same disk in the same run."""

from __future__ import annotations

import multiprocessing
import os
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path

from audit.log import DecisionLog
from audit.records import Item, prepare_entry

_FORK = multiprocessing.get_context("fork")  # workers inherit their prepared decisions


def typical_row_bytes(items: list[Item]) -> int:
    """Bytes of the decisions row the typical one of `items` is stored as."""
    key = secrets.token_bytes(16)
    entries = [prepare_entry(d, f, s, key) for d, f, _, s in items]
    # hashes, timestamps and generated lookup columns come to about 400 bytes
    return round(sum(len(e.decision_json) + len(e.flow_json) for e in entries) / len(entries)) + 400


def bare_commit_rate(beside: str | os.PathLike, *, row_bytes: int, commits: int = 2000) -> float:
    """Durable commits per second with the log's settings (WAL, synchronous=FULL),
    one row of `row_bytes` per commit, in a temporary file in the log's directory."""
    row = os.urandom(row_bytes)
    with tempfile.TemporaryDirectory(dir=_directory(beside)) as scratch:
        conn = sqlite3.connect(Path(scratch, "bare.db"), isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body BLOB NOT NULL)")
            started = time.perf_counter()
            for _ in range(commits):
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO rows(body) VALUES (?)", (row,))
                conn.execute("COMMIT")
            return commits / (time.perf_counter() - started)
        finally:
            conn.close()


def record_rate(beside: str | os.PathLike, items: list[Item], *, processes: int = 1) -> float:
    """Decisions logged per second by DecisionLog.record, all `processes` together,
    each with its own DecisionLog on one fresh log in the log's directory, each
    recording its share of `items` (whose decision ids must differ)."""
    key = secrets.token_hex(16).encode()
    with tempfile.TemporaryDirectory(dir=_directory(beside)) as scratch:
        path = Path(scratch, "bench.db")
        DecisionLog(path, key=key).close()
        shares = [items[number::processes] for number in range(processes)]
        start = _FORK.Barrier(processes + 1)
        elapsed = run_together([_FORK.Process(target=_record_worker, args=(path, key, share, start))
                                for share in shares], start)
        return len(items) / elapsed


def run_together(workers: list, start) -> float:
    """Start `workers`, which wait on the barrier `start` once ready (as this process does), and
    return the seconds from their release to the end of the last; RuntimeError if one failed."""
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    if any(worker.exitcode for worker in workers):
        raise RuntimeError("a benchmark worker failed")
    return elapsed


def audit_benchmark(beside: str | os.PathLike, items: list[Item], *, processes: int = 4) -> dict:
    """The numbers `licit bench --audit` reports about logging `items` by DecisionLog.record
    alone: per second from one process and from `processes` (target: at least 1.8 times one)."""
    bare = bare_commit_rate(beside, row_bytes=typical_row_bytes(items[:200]), commits=len(items))
    one = record_rate(beside, items, processes=1)
    many = record_rate(beside, items, processes=processes)
    return {
        "bare_commits_per_s": round(bare),
        "records_per_s_1_process": round(one),
        f"records_per_s_{processes}_processes": round(many),
        "record_cost_in_bare_commits": round(bare / one, 2),
        f"speedup_{processes}_processes": round(many / one, 2),
    }


def _record_worker(path: Path, key: bytes, items: list[Item], start) -> None:
    with DecisionLog(path, key=key, timeout=60) as log:
        start.wait()
        for item in items:
            log.record(*item)


def _directory(beside: str | os.PathLike) -> Path:
    return Path(beside).resolve().parent
