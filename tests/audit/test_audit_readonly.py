"""An auditor given the log on read-only storage (an archive, a read-only mount, a
directory they cannot write), where SQLite cannot create the log's -shm index.

The storage is a read-only bind mount of a writable directory: root may write through
the permission bits of a directory, not through a read-only mount."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import REPO, assert_one_line_error, example_items, run

from audit import AuditError, DecisionLog
from audit.schema import open_reader

LOG = "licit-audit.db"


@pytest.fixture
def storage(tmp_path):
    """(writable, read_only): one directory, seen through a writable path and a read-only mount."""
    writable, read_only = tmp_path / "writable", tmp_path / "read-only"
    writable.mkdir()
    read_only.mkdir()
    bind = subprocess.run(["mount", "--bind", writable, read_only], capture_output=True, text=True)
    if bind.returncode != 0:
        pytest.skip(f"these tests need to bind-mount a directory read-only (root, mount(8)): {bind.stderr.strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", read_only], check=True, capture_output=True)
        yield writable, read_only
    finally:
        subprocess.run(["umount", read_only], check=True)


def write_log(path: Path, count: int = 12) -> None:
    with DecisionLog(path) as log:
        for item in example_items(count):
            log.record(*item)


def reading_commands(db: Path, out: Path) -> dict[str, list]:
    decision_id = example_items(1, start=5)[0][0]["decision_id"]
    return {
        "query": ["query", "--db", db, "--limit", "0"],
        "query json": ["query", "--db", db, "--format", "json"],
        "query csv": ["query", "--db", db, "--format", "csv", "--outcome", "deny"],
        "show": ["show", "--db", db, decision_id, "--format", "json"],
        "stats": ["stats", "--db", db, "--format", "json"],
        "export": ["export", "--db", db],
        "export csv": ["export", "--db", db, "--format", "csv", "--output", out / "export.csv"],
        "verify": ["verify", "--db", db],
        "checkpoint": ["checkpoint", "--db", db, "--output", out / "head.json"],
        "verify checkpoint": ["verify", "--db", db, "--checkpoint", out / "head.json"],
    }


@pytest.mark.parametrize("left_beside", [(), ("-wal",), ("-wal", "-shm")],
                         ids=["closed log alone", "empty -wal", "empty -wal and -shm a reader left"])
def test_every_reading_command_reads_a_closed_log_on_read_only_storage(storage, tmp_path, left_beside):
    writable, read_only = storage
    write_log(writable / LOG)
    if left_beside:  # a reader that opened the log where it could write leaves these behind
        reader, _ = open_reader(writable / LOG)
        reader.close()
        for suffix in {"-wal", "-shm"} - set(left_beside):
            os.unlink(writable / f"{LOG}{suffix}")
    with pytest.raises(OSError):
        (read_only / "probe").touch()  # the storage really is read-only
    files_before = sorted(os.listdir(writable))
    expected_dir, got_dir = tmp_path / "expected", tmp_path / "got"
    expected_dir.mkdir()
    got_dir.mkdir()

    got = {name: run(*args) for name, args in reading_commands(read_only / LOG, got_dir).items()}
    assert sorted(os.listdir(writable)) == files_before
    expected = {name: run(*args) for name, args in reading_commands(writable / LOG, expected_dir).items()}

    for name, result in got.items():
        assert result.exit_code == 0, f"{name}: {result.output}"
        if name not in {"verify", "verify checkpoint", "checkpoint", "export csv"}:  # these name paths
            assert result.output == expected[name].output, name
    assert "intact: 12 records" in got["verify"].output
    assert "holds checkpoint head seq 12" in got["verify checkpoint"].output
    assert json.loads((got_dir / "head.json").read_text())["seq"] == 12
    assert (got_dir / "export.csv").read_text() == (expected_dir / "export.csv").read_text()


def test_replay_reads_a_log_on_read_only_storage(storage, monkeypatch):
    from engine import Engine
    from engine.cli import cli

    writable, read_only = storage
    example = json.loads((REPO / "examples" / "student-on-credit.json").read_text(encoding="utf-8"))
    with Engine(rules_dir=REPO / "jurisdictions", audit_db=writable / LOG, max_request_age=None) as engine:
        decision = engine.evaluate(example)
    result = CliRunner().invoke(cli, ["audit", "replay", "--db", str(read_only / LOG), decision.decision_id])
    assert result.exit_code == 0, result.output
    assert "identical" in result.output


def unmerged_copy(writable: Path) -> Path:
    """The log copied with its -wal while a connection had it open: a change in the -wal only."""
    live, archive = writable / "live" / LOG, writable / "archive"
    live.parent.mkdir()
    archive.mkdir()
    write_log(live, 3)
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("PRAGMA user_version=7")  # any committed change sits in the -wal until a checkpoint
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{live}{suffix}", archive / f"{LOG}{suffix}")
    conn.close()
    assert (archive / f"{LOG}-wal").stat().st_size > 0
    assert not (archive / f"{LOG}-shm").exists()
    return archive / LOG


def test_a_log_whose_wal_holds_records_is_refused_on_read_only_storage(storage, tmp_path):
    writable, read_only = storage
    archive = unmerged_copy(writable)
    # the log file alone does not hold what the -wal does
    conn = sqlite3.connect(f"{archive.as_uri()}?immutable=1", uri=True)
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)
    conn.close()

    db = read_only / archive.relative_to(writable)
    for name, args in reading_commands(db, tmp_path).items():
        if name == "verify checkpoint":  # reads the checkpoint file first, which there is none of
            continue
        result = run(*args)
        assert_one_line_error(result, f"{LOG}-wal beside it holds changes not yet in the log file")
        assert "copy the log with its -wal file to a writable directory" in result.output, name
        assert len(result.output.splitlines()) == 1, name  # nothing read before the error

    # what the error advises
    copy = tmp_path / "copy"
    copy.mkdir()
    for suffix in ("", "-wal"):
        shutil.copyfile(f"{db}{suffix}", copy / f"{LOG}{suffix}")
    assert "intact: 3 records" in run("verify", "--db", copy / LOG).output


def test_a_read_fails_if_the_log_is_written_meanwhile_through_another_path(storage):
    writable, read_only = storage
    write_log(writable / LOG, count=2)
    conn, _ = open_reader(read_only / LOG)
    assert conn.execute("SELECT count(*) FROM decisions").fetchone() == (2,)
    with DecisionLog(writable / LOG) as log:  # closing it checkpoints into the log file
        log.record(*example_items(1, start=3)[0])
    with pytest.raises(AuditError, match="changed while it was read from read-only storage"):
        conn.close()
