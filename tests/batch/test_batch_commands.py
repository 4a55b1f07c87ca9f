"""`licit audit replay --all`, `licit rules impact` and `licit audit to-scenario` as a user runs them:
exit codes, one-line errors, the output formats, and a progress bar on a terminal only."""
import csv
import fcntl
import io
import json
import os
import pty
import shutil
import sqlite3
import struct
import subprocess
import sys
import termios

import pytest
from click.testing import CliRunner

from engine.cli import cli
from tests.batch.conftest import ALTER_FLOW, KEY, alter, copy_log, seeded
from tests.conftest import PACKS, REPO


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return seeded(tmp_path_factory.mktemp("cli") / "log.db", 400, seed=2)


@pytest.fixture
def draft(tmp_path):
    tree = tmp_path / "draft"
    shutil.copytree(PACKS, tree, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    credit = tree / "CN" / "credit.yaml"
    credit.write_text(credit.read_text(encoding="utf-8").replace("value: 0.24", "value: 0.15"), encoding="utf-8")
    return tree


def licit(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def tampered_copy(log, tmp_path, seq: int):
    copy = copy_log(log, tmp_path / "copy.db")
    alter(copy, ALTER_FLOW, seq)
    return copy


def test_replay_all_prints_the_counts_and_exits_0_when_all_are_identical(log):
    result = licit("audit", "replay", "--all", "--db", log)
    assert result.exit_code == 0, result.output
    assert result.stdout == "replayed 400 decisions: 400 identical, 0 different, 0 not replayable\n"
    assert result.stderr == ""  # no progress bar when standard error is not a terminal


def test_replay_all_names_each_record_that_is_not_identical_and_exits_1(log, tmp_path):
    result = licit("audit", "replay", "--all", "--db", tampered_copy(log, tmp_path, 9))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2 and lines[0].startswith("seq 9 ")
    assert lines[0].endswith(": not replayable (chain link does not verify): its stored hash does not match its content")
    assert lines[1] == ("replayed 400 decisions: 399 identical, 0 different, 1 not replayable "
                        "(chain link does not verify: 1)")


def test_replay_all_json_is_one_document_with_items_and_summary(log, tmp_path):
    result = licit("audit", "replay", "--all", "--db", tampered_copy(log, tmp_path, 9), "--format", "json",
                   "--jurisdiction", "CN-SH", "--since", "2000-01-01")
    document = json.loads(result.stdout)
    assert document["selection"] == {"since": "2000-01-01", "until": None, "jurisdiction": "CN-SH"}
    summary = document["summary"]
    assert summary["replayed"] == summary["identical"] + summary["not_replayable"] > 50
    assert result.exit_code == (1 if document["not_identical"] else 0)


def test_replay_all_of_nothing_is_not_a_pass(log):
    result = licit("audit", "replay", "--all", "--db", log, "--jurisdiction", "CN-XX")
    assert result.exit_code == 1 and result.stdout == "no logged decision matches: nothing was replayed\n"


@pytest.mark.parametrize("args, message", [
    (["SOME-ID", "--all"], "give a DECISION_ID or --all, not both"),
    ([], "give a DECISION_ID or --all, not both"),
    (["SOME-ID", "--jurisdiction", "CN"], "--since, --until, --jurisdiction and --workers go with --all"),
])
def test_replay_usage_errors_exit_2(log, args, message):
    result = licit("audit", "replay", "--db", log, *args)
    assert result.exit_code == 2 and message in result.stderr


def test_a_malformed_date_exits_2(log):
    result = licit("audit", "replay", "--all", "--db", log, "--since", "yesterday")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("licit: error: Invalid value for '--since': 'yesterday' is neither a date")


@pytest.mark.parametrize("command", [["audit", "replay", "--all"], ["rules", "impact", "--draft", PACKS]])
def test_a_foreign_database_is_one_clear_error(tmp_path, command):
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    result = licit(*command, "--db", foreign)
    assert result.exit_code == 1
    assert result.stderr == f"licit: error: {foreign} is not a Licit decision log (it has no meta table)\n"


def test_impact_json_has_the_documented_shape(log, draft):
    result = licit("rules", "impact", "--draft", draft, "--db", log, "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["evaluated"] == 400 and report["changed"] > 0
    assert {"from", "to", "count", "examples"} == set(report["transitions"][0])
    assert sum(item["count"] for item in report["transitions"]) == report["evaluated"]
    assert report["rules"]["CN"]["starts_firing"][0]["rule_id"] == "CN.CREDIT.APR_REVIEW"
    assert report["undecidable"] == {"count": 0, "reasons": []}


def test_impact_csv_and_text(log, draft):
    rows = list(csv.DictReader(io.StringIO(licit("rules", "impact", "--draft", draft, "--db", log,
                                                 "--format", "csv").stdout)))
    assert {"transition", "starts_firing"} <= {row["kind"] for row in rows}
    text = licit("rules", "impact", "--draft", draft, "--db", log, "--as-of", "2026-01-01").stdout
    assert "(all at 2026-01-01)" in text and "allow → review" in text


def test_impact_sample(log, draft):
    report = json.loads(licit("rules", "impact", "--draft", draft, "--db", log, "--sample", "50",
                              "--format", "json").stdout)
    assert report["considered"] == 50 and report["sample"] == 50


def test_a_draft_that_fails_to_validate_is_refused_with_its_errors(log, draft):
    rules = draft / "CN" / "credit.yaml"
    rules.write_text(rules.read_text(encoding="utf-8").replace("applicant.age <", "applicant.agee <"),
                     encoding="utf-8")
    result = licit("rules", "impact", "--draft", draft, "--db", log)
    assert result.exit_code == 1 and result.stdout == ""
    assert "the rule set does not load (1 error)" in result.stderr
    assert f"{rules}:" in result.stderr and "unknown_field: Applicant has no field 'agee'" in result.stderr


def test_a_bad_as_of_exits_2(log, draft):
    result = licit("rules", "impact", "--draft", draft, "--db", log, "--as-of", "soon")
    assert result.exit_code == 2 and "--as-of" in result.stderr


def test_to_scenario_prints_a_case_that_rules_test_runs(log, tmp_path):
    with sqlite3.connect(log) as conn:
        decision_id, code = conn.execute("SELECT decision_id, jurisdiction FROM decision_lookups WHERE outcome = 'deny' "
                                         "ORDER BY seq").fetchone()
    result = licit("audit", "to-scenario", decision_id, "--db", log, "--name", "pinned deny")
    assert result.exit_code == 0 and result.stdout.startswith("# Pinned from decision")
    tree = tmp_path / "rules"
    shutil.copytree(PACKS, tree, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (tree / code / "tests" / "pinned.yaml").write_text(result.stdout, encoding="utf-8")
    run = licit("rules", "test", tree, "-j", code, "-k", "pinned deny")
    assert run.exit_code == 0 and "1 case: 1 passed" in run.stdout
    missing = licit("audit", "to-scenario", "NO-SUCH-ID", "--db", log)
    assert missing.exit_code == 1 and missing.stderr == "licit: error: no decision NO-SUCH-ID in the log\n"


def test_the_progress_bar_shows_on_a_terminal_only(log):
    """Standard error a terminal (80 columns): a bar with the rate; a pipe: nothing (the tests above)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    command = [sys.executable, "-m", "engine.cli", "audit", "replay", "--all", "--db", str(log), "--workers", "1"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=terminal,
                               env={**os.environ, "LICIT_AUDIT_KEY": KEY})
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    assert process.wait(timeout=120) == 0
    assert process.stdout.read().startswith(b"replayed 400 decisions")
    assert b"replay" in shown and b"400/400" in shown and b"left" in shown
