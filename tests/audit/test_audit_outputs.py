"""What `export` and `checkpoint` write: never the log's own files, never over a
checkpoint, whole or not at all; JSON lines carry the rule sets."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import subprocess
import sys

import pytest
from conftest import REPO, assert_one_line_error, file_bytes, run

import audit.outputs
from audit import load_ruleset

OWN_FILES = ["", "-wal", "-shm", "-journal", ".key", "-writer"]


@pytest.fixture
def own_files_present(filled_log):
    """The log with a key file beside it (the fixtures' key comes from the environment)."""
    (filled_log.parent / f"{filled_log.name}.key").write_text("0" * 64 + "\n")
    return filled_log


def others(directory) -> list[str]:
    """The files in `directory` besides the log's own."""
    return sorted(name for name in os.listdir(directory) if not name.startswith("licit-audit.db"))


def snapshot(log):
    key = log.parent / f"{log.name}.key"
    return file_bytes(log), key.read_bytes()


@pytest.mark.parametrize("suffix", OWN_FILES)
@pytest.mark.parametrize("command", [["export", "--force"], ["checkpoint"]])
def test_no_output_lands_on_the_logs_own_files(own_files_present, command, suffix):
    log = own_files_present
    before = snapshot(log)
    result = run(*command, "--db", log, "--output", f"{log}{suffix}")
    assert_one_line_error(result, "would write into the decision log's own files", exit_code=2)
    assert snapshot(log) == before
    assert run("verify", "--db", log).exit_code == 0


@pytest.mark.parametrize("link", [os.symlink, os.link])
def test_another_name_for_the_log_is_refused(filled_log, tmp_path, link):
    other = tmp_path / "other-name.db"
    link(filled_log, other)
    before = file_bytes(filled_log)
    assert_one_line_error(
        run("export", "--force", "--db", filled_log, "--output", other), "decision log's own files", exit_code=2
    )
    assert file_bytes(filled_log) == before


def test_the_files_of_a_log_opened_through_a_symlink_are_refused(filled_log, tmp_path):
    link = tmp_path / "link.db"
    link.symlink_to(filled_log)
    result = run("checkpoint", "--db", link, "--output", f"{filled_log}-wal")
    assert_one_line_error(result, "decision log's own files", exit_code=2)


def test_export_to_a_dash_is_standard_output(filled_log):
    result = run("export", "--db", filled_log, "--format", "csv", "--output", "-")
    assert result.exit_code == 0 and len(result.output.splitlines()) == 13


def test_a_checkpoint_never_replaces_a_file(filled_log, tmp_path):
    earlier = tmp_path / "head.json"
    earlier.write_text("an earlier checkpoint\n")
    result = run("checkpoint", "--db", filled_log, "--output", earlier)
    assert_one_line_error(result, "already exists: a checkpoint is evidence", exit_code=2)
    assert earlier.read_text() == "an earlier checkpoint\n"
    assert_one_line_error(run("checkpoint", "--db", filled_log, "--output", os.devnull), "already exists", exit_code=2)
    assert others(tmp_path) == ["head.json"]


def test_export_replaces_an_existing_file_only_with_force(filled_log, tmp_path):
    out = tmp_path / "out.csv"
    out.write_text("keep me\n")
    assert_one_line_error(run("export", "--db", filled_log, "--format", "csv", "--output", out), "--force", exit_code=2)
    assert out.read_text() == "keep me\n"
    result = run("export", "--db", filled_log, "--format", "csv", "--output", out, "--force")
    assert result.exit_code == 0 and len(out.read_text().splitlines()) == 13


@pytest.mark.parametrize("existing", [False, True])
def test_an_export_that_fills_the_disk_leaves_no_partial_file(filled_log, tmp_path, monkeypatch, existing):
    out = tmp_path / "out.jsonl"
    if existing:
        out.write_text("the previous export\n")

    def disk_full(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit.outputs.os, "fsync", disk_full)
    result = run("export", "--db", filled_log, "--output", out, "--force")
    assert_one_line_error(result, f"cannot write export {out}: No space left on device")
    assert others(tmp_path) == (["out.jsonl"] if existing else [])
    if existing:
        assert out.read_text() == "the previous export\n"


def test_export_into_a_full_device_is_one_line(filled_log):
    assert_one_line_error(
        run("export", "--db", filled_log, "--output", "/dev/full", "--force"), "No space left on device"
    )


def test_export_to_a_full_standard_output_is_one_line(filled_log):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "engine.cli", "audit", "export", "--db", str(filled_log)],
            stdout=full, stderr=subprocess.PIPE, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr == "licit: error: cannot write the export to standard output: No space left on device\n"


def test_jsonl_export_carries_every_rule_set_as_stored(filled_log, tmp_path):
    out = tmp_path / "log.jsonl"
    result = run("export", "--db", filled_log, "--output", out)
    assert "exported 12 records and 1 rule set to" in result.output
    first = out.read_text(encoding="utf-8").splitlines()[0]
    ruleset = json.loads(first)
    assert ruleset["type"] == "ruleset"
    files_text = first[len('{"digest":"sha256:') + 64 + len('","files":'):-len(',"type":"ruleset"}')]
    assert "sha256:" + hashlib.sha256(files_text.encode()).hexdigest() == ruleset["digest"]  # checkable as exported
    assert ruleset["files"] == load_ruleset(filled_log, ruleset["digest"])["files"]


# An export's own process, stopped by a signal once it has begun writing its file.
_STOPPED_EXPORT = """
import os, signal, sys
import audit.queries
from engine.cli import main

export_log = audit.queries.export_log
stop = getattr(signal, sys.argv.pop(1))


def stopped_while_writing(log, out, fmt, **options):
    out.write("a first line\\n")
    os.kill(os.getpid(), stop)
    return export_log(log, out, fmt, **options)


audit.queries.export_log = stopped_while_writing
main()
"""


@pytest.mark.parametrize("signal_name, exit_code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_an_export_stopped_by_kill_or_a_closed_terminal_leaves_no_partial_file(filled_log, tmp_path, signal_name,
                                                                              exit_code):
    out = tmp_path / "out.jsonl"
    stopped = subprocess.run([sys.executable, "-c", _STOPPED_EXPORT, signal_name, "audit", "export", "--db",
                              str(filled_log), "--output", str(out)], capture_output=True, text=True, cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)})
    assert stopped.returncode == exit_code and "Traceback" not in stopped.stderr, stopped.stderr
    assert others(tmp_path) == []
