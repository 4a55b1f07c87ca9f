"""When the log cannot be written the engine gets AuditWriteError (so it fails
closed), naming the file and the cause, and no half-written record is left."""

from __future__ import annotations

import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import example_items

from audit import AuditWriteError, DecisionLog, verify_log
from tests.privileges import NOBODY, outcome_in_child


def record_one(path: Path, start: int = 100) -> None:
    with DecisionLog(path) as log:
        log.record(*example_items(1, start=start)[0])


@pytest.fixture
def shared_dir():
    """A directory an unprivileged user can reach (pytest's own tmp dirs are private to root)."""
    directory = Path(tempfile.mkdtemp(prefix="licit-audit-"))
    directory.chmod(0o755)
    yield directory
    directory.chmod(0o755)
    shutil.rmtree(directory)


def make_log(path: Path, records: int = 3) -> None:
    with DecisionLog(path) as log:
        for item in example_items(records):
            log.record(*item)


def test_a_read_only_log_file_raises_a_write_error_naming_it(shared_dir):
    path = shared_dir / "licit-audit.db"
    make_log(path)
    shared_dir.chmod(0o777)
    os.chown(path, NOBODY, NOBODY)
    path.chmod(0o444)
    outcome = outcome_in_child(record_one, path, as_nobody=True)
    assert outcome.startswith("AuditWriteError:") and str(path) in outcome and "Permission denied" in outcome
    assert verify_log(path).records == 3


def test_a_log_of_another_user_is_refused_even_where_it_could_be_written(shared_dir):
    """Another user's file in a shared directory is never adopted as the log (issue 18)."""
    path = shared_dir / "licit-audit.db"
    make_log(path)
    shared_dir.chmod(0o777)
    path.chmod(0o666)
    before = path.read_bytes()
    outcome = outcome_in_child(record_one, path, as_nobody=True)
    assert outcome.startswith("AuditWriteError:") and "belongs to another user (uid 0)" in outcome
    assert path.read_bytes() == before


def test_a_read_only_directory_raises_a_write_error_naming_the_log(shared_dir):
    path = shared_dir / "licit-audit.db"
    make_log(path)
    path.chmod(0o666)
    shared_dir.chmod(0o555)
    outcome = outcome_in_child(record_one, path, as_nobody=True)
    assert outcome.startswith("AuditWriteError:") and str(path) in outcome
    shared_dir.chmod(0o755)
    assert verify_log(path).records == 3


def test_a_log_locked_past_the_timeout_raises_a_write_error(log_path):
    make_log(log_path)
    with DecisionLog(log_path, timeout=3) as log:  # the writer gives up on the lock after half of it
        blocker = sqlite3.connect(log_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(AuditWriteError, match="database is locked") as raised:
            log.record(*example_items(1, start=50)[0])
        assert str(log_path) in str(raised.value)
        blocker.execute("ROLLBACK")
        assert log.record(*example_items(1, start=51)[0]) == 4  # the failed record took no seq
    assert verify_log(log_path).ok


def _fill_until_full(path: Path) -> None:
    with DecisionLog(path) as log:
        for number in range(1_000, 100_000):
            log.record(*example_items(1, start=number)[0])


def _with_file_size_limit(path: Path, limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    _fill_until_full(path)


@pytest.fixture
def tiny_filesystem(tmp_path):
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mount_point)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (the file-size-limit variant still runs)")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_a_full_disk_raises_a_write_error_and_leaves_the_log_whole(tiny_filesystem):
    path = tiny_filesystem / "licit-audit.db"
    outcome = outcome_in_child(_fill_until_full, path)
    assert outcome.startswith("AuditWriteError:") and str(path) in outcome and "full" in outcome
    report = verify_log(path)
    assert report.ok and report.records > 0


def test_hitting_the_file_size_limit_raises_a_write_error_and_leaves_the_log_whole(log_path):
    make_log(log_path, records=1)
    outcome = outcome_in_child(_with_file_size_limit, log_path, os.path.getsize(log_path) + 200_000)
    assert outcome.startswith("AuditWriteError:") and str(log_path) in outcome
    report = verify_log(log_path)
    assert report.ok and report.records > 1


def _read_everything(path: Path) -> None:
    from audit import find_decisions

    rows = find_decisions(path, limit=0)
    report = verify_log(path)
    assert len(rows) == 3 and report.ok, (len(rows), report.problems)


def test_an_unprivileged_auditor_reads_a_closed_log_in_a_directory_they_cannot_write(shared_dir):
    """SQLite cannot create the log's -shm there (SQLITE_READONLY_DIRECTORY, not CANTOPEN, for a
    user who may read the directory): the log is read as an immutable file instead."""
    path = shared_dir / "licit-audit.db"
    make_log(path)
    import audit.queries  # noqa: F401  (loaded before dropping root: the checkout may be private to root)
    import audit.verify  # noqa: F401

    assert sorted(os.listdir(shared_dir)) == ["licit-audit.db"] and shared_dir.stat().st_mode & 0o777 == 0o755
    assert outcome_in_child(_read_everything, path, as_nobody=True) == "ok"
