"""The writer's commits never copy the WAL into the log file (callers would wait for it): a
thread of the writer does (audit.writer.walcopy), and the writer copies what is left between
batches once the WAL is long, so that SQLite starts it again from its start."""

from __future__ import annotations

import os
import sqlite3
import time

import pytest
from conftest import example_items

from audit import DecisionLog, verify_log
from audit.records import prepare_entry, prepare_ruleset
from audit.redaction import key_check
from audit.writer import walcopy
from audit.writer.appender import Appender, Submission


def appender(path) -> Appender:
    return Appender(sqlite3.connect(path, isolation_level=None, check_same_thread=False), str(path), key_check(b"k"))


def submissions(count: int) -> list[Submission]:
    items = example_items(count)
    entries = [prepare_entry(decision, flow, duration, b"k") for decision, flow, _, duration in items]
    first = Submission(entries[:1], [prepare_ruleset(items[0][2], entries[0].ruleset_digest)])
    return [first] + [Submission([entry], []) for entry in entries[1:]]


def append_all(log: Appender, batch: list[Submission]) -> None:
    for submission in batch:
        log.append([submission])
        assert submission.error is None


def test_neither_commits_nor_derivations_copy_the_wal_into_the_log_file(log_path):
    """Before, a derivation let SQLite copy the WAL (1,000 pages at a time) inside its commit."""
    log = appender(log_path)
    before = os.path.getsize(log_path)
    append_all(log, submissions(300))  # about 1,500 WAL pages: past SQLite's default of 1,000
    log.derive_pending()
    assert os.path.getsize(f"{log_path}-wal") > 1000 * 4096
    assert os.path.getsize(log_path) == before  # all still in the WAL: nothing was copied
    log.conn.close()
    assert verify_log(log_path).records == 300


def test_the_copier_copies_the_wal_and_catch_up_lets_it_start_again(log_path, monkeypatch):
    monkeypatch.setattr(walcopy, "INTERVAL_S", 0.0)
    log = appender(log_path)
    copier = walcopy.WalCopier(str(log_path))
    try:
        append_all(log, submissions(50))
        before = os.path.getsize(log_path)
        copier.frames = -1
        copier.written()
        deadline = time.monotonic() + 10
        while copier.frames == -1 and time.monotonic() < deadline:  # until its copy is done
            time.sleep(0.01)
        assert os.path.getsize(log_path) > before  # the thread copied the records into the log file
        monkeypatch.setattr(walcopy, "MAX_FRAMES", 1)
        copier.frames = 10  # as if steady commits had kept its copies from ever finishing
        copier.catch_up(log.conn)
        assert copier.frames == 0
        wal = os.path.getsize(f"{log_path}-wal")
        append_all(log, submissions(51)[50:])
        assert os.path.getsize(f"{log_path}-wal") == wal  # written again from its start, not grown
    finally:
        copier.close()
        log.conn.close()
    assert verify_log(log_path).records == 51


def test_a_writer_closing_leaves_no_wal_behind(log_path):
    with DecisionLog(log_path) as log:
        for item in example_items(40):
            log.record(*item)
    assert not os.path.exists(f"{log_path}-wal")
    assert verify_log(log_path).records == 40


def test_the_copier_stops_promptly_when_closed(log_path, monkeypatch):
    monkeypatch.setattr(walcopy, "INTERVAL_S", 60.0)
    appender(log_path).conn.close()
    copier = walcopy.WalCopier(str(log_path))
    copier.written()
    time.sleep(0.05)  # it copied, and waits out its interval
    started = time.monotonic()
    copier.close()
    assert time.monotonic() - started < 5
