"""verify reads the log ahead of its scan (audit/readahead.py): best effort, never in the way."""
from __future__ import annotations

import threading

import audit.readahead
from audit.readahead import reading_ahead


def _readers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "licit-read-ahead"]


def test_the_read_ahead_ends_with_the_scan_and_leaves_no_thread(tmp_path):
    log = tmp_path / "log.db"
    log.write_bytes(b"x" * (1 << 20))
    with reading_ahead(log):
        pass
    assert _readers() == []  # a service that verifies its log every night must not gather threads


def test_a_log_too_big_for_the_memory_available_is_not_read_ahead(tmp_path, monkeypatch):
    log = tmp_path / "log.db"
    log.write_bytes(b"x" * 4096)
    monkeypatch.setattr(audit.readahead, "_available_memory", lambda: 4096)  # it would evict its own pages
    with reading_ahead(log):
        assert _readers() == []


def test_a_log_that_cannot_be_read_ahead_leaves_the_scan_to_report_it(tmp_path):
    with reading_ahead(tmp_path / "gone.db"):
        pass
    with reading_ahead(tmp_path):  # a directory: sendfile fails in the thread
        pass
    assert _readers() == []
