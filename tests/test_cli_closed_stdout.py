"""`licit … | head -1`: the reader of licit's output stops early, a normal end of a shell
pipeline. licit stops quietly: exit 141, as `cat` gives, and nothing on stderr.

Every output here is several times a pipe's capacity, so head has gone while licit still writes.
A write that finds the reader gone fails (exit 141); a single large write already under way when
it goes comes back short, which Python does not report, and licit ends with 0 (still quiet)."""
import json
import os
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES, PACKS, REPO

ENV = dict(os.environ, PYTHONPATH=str(REPO), LICIT_AUDIT_KEY="test-key-0123456789abcdef")


def licit_into_head(args: list, cwd, stdin=None) -> tuple[int, str, str]:
    """(licit's exit status, licit's stderr, the line head printed) of `licit ARGS | head -1`."""
    licit = subprocess.Popen([sys.executable, "-m", "engine.cli", *map(str, args)], stdin=stdin,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=cwd)
    head = subprocess.run(["head", "-1"], stdin=licit.stdout, capture_output=True, text=True)
    licit.stdout.close()  # head holds the pipe's only reader, as in a shell
    stderr = licit.stderr.read().decode()
    licit.stderr.close()
    return licit.wait(timeout=120), stderr, head.stdout


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    db = tmp_path_factory.mktemp("closed-stdout") / "log.db"
    subprocess.run([sys.executable, "-m", "engine.cli", "audit", "seed", "--n", "2000", "--db", db, "--seed", "1"],
                   env=ENV, check=True, capture_output=True)
    return db


@pytest.mark.parametrize("args, first_line", [
    (["export"], '{"digest":"sha256:'),
    (["export", "--format", "csv"], "seq,decision_id,"),
    (["query", "--limit", "0"], "seq "),
    (["query", "--limit", "0", "--format", "json"], "["),
    (["query", "--limit", "0", "--format", "csv"], "seq,decision_id,"),
])
def test_an_audit_command_whose_reader_stops_early_ends_quietly(log, args, first_line):
    status, stderr, line = licit_into_head(["audit", *args, "--db", log], log.parent)
    assert line.startswith(first_line)
    assert stderr == ""  # no "Error: … Broken pipe", no "Exception ignored", no traceback
    assert status in (141, 0)  # not 1: nothing failed


def test_evaluate_whose_reader_stops_early_ends_quietly(tmp_path):
    flow = json.loads((EXAMPLES / "student-on-credit.json").read_text(encoding="utf-8"))
    flows = tmp_path / "flows.jsonl"
    flows.write_text((json.dumps(flow) + "\n") * 300, encoding="utf-8")
    with flows.open("rb") as stdin:
        status, stderr, line = licit_into_head(["evaluate", "-", "--rules", PACKS, "--audit-db", tmp_path / "log.db"],
                                               tmp_path, stdin=stdin)
    assert json.loads(line)["outcome"] == "deny"
    assert stderr == ""
    assert status == 141  # one write per decision: the one after head has gone fails
