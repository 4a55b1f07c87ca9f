"""verify reads the log ahead of its scan (audit/readahead.py): best effort, never in the way."""
from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO, example_items, raw

import audit.readahead
from audit import DecisionLog, verify_log
from audit.readahead import reading_ahead


@pytest.fixture
def readers(monkeypatch) -> list[subprocess.Popen]:
    """The read-ahead processes started, on a log of any size, whatever this machine's memory."""
    started, popen = [], subprocess.Popen

    def start(*args, **kwargs):
        started.append(popen(*args, **kwargs))
        return started[-1]

    reading_any_log(monkeypatch)
    monkeypatch.setattr(subprocess, "Popen", start)
    return started


def reading_any_log(monkeypatch) -> None:
    monkeypatch.setattr(audit.readahead, "_SMALLEST", 0)
    monkeypatch.setattr(audit.readahead, "_available_memory", lambda: 1 << 40)


def test_the_read_ahead_reads_the_file_and_ends_with_the_scan(tmp_path, readers):
    log = tmp_path / "log.db"
    log.write_bytes(b"x" * (1 << 20))
    with reading_ahead(log):
        [reader] = readers
        assert reader.wait() == 0  # read to the end without error
    with reading_ahead(log):
        pass
    assert all(reader.returncode is not None for reader in readers)  # stopped and reaped: no process left behind


def test_a_log_too_big_for_the_memory_available_is_not_read_ahead(tmp_path, readers, monkeypatch):
    log = tmp_path / "log.db"
    log.write_bytes(b"x" * 4096)
    monkeypatch.setattr(audit.readahead, "_available_memory", lambda: 4096)  # it would evict its own pages
    with reading_ahead(log):
        assert readers == []


def test_a_log_that_cannot_be_read_ahead_leaves_the_scan_to_report_it(tmp_path, readers):
    with reading_ahead(tmp_path / "gone.db"):
        pass
    with reading_ahead(tmp_path):  # a directory: the reader fails, quietly
        pass
    assert readers and all(reader.returncode is not None for reader in readers)


_WRITE_AND_CLOSE = """
import sys
sys.path.insert(0, sys.argv[1])
from conftest import example_items
from audit import DecisionLog
with DecisionLog(sys.argv[2]) as log:
    log.record(*example_items(1, start=int(sys.argv[3]))[0])
"""


def write_and_close(log_path, number: int) -> None:
    """Another process logs a decision and closes the log, as `licit evaluate` does."""
    subprocess.run([sys.executable, "-c", _WRITE_AND_CLOSE, str(REPO / "tests" / "audit"), str(log_path), str(number)],
                   check=True, cwd=REPO)


def test_a_service_verifying_its_own_log_loses_no_decision_it_logs_afterwards(log_path, monkeypatch):
    """Reading the log ahead in this process once dropped this process's SQLite locks on it: a
    writer elsewhere that closed the log next deleted the -wal the service was still writing to."""
    reading_any_log(monkeypatch)
    with DecisionLog(log_path) as service:
        service.record(*example_items(1, start=1)[0])
        assert verify_log(log_path).ok
        write_and_close(log_path, 2)
        assert service.record(*example_items(1, start=3)[0]) == 3
        # what record returned is in the log, for an auditor and for the next writer
        assert [seq for (seq,) in raw(log_path).execute("SELECT seq FROM decisions ORDER BY seq")] == [1, 2, 3]
    write_and_close(log_path, 4)
    assert verify_log(log_path).records == 4
