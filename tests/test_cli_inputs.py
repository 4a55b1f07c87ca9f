"""Hostile input to `licit evaluate` and to what people read: each bad flow is one line naming the field,
exit 2, and the batch goes on; nothing is read past the size limit; untrusted text never forges a line."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from audit import AuditInputError, DecisionLog, ruleset_digest, verify_log
from engine.cli import cli
from engine.decision import Decision
from engine.inputs import MAX_INPUT_BYTES
from engine.render import decision_text
from tests.conftest import REPO, example


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")

    def invoke(*args, stdin=None):
        return CliRunner().invoke(cli, [str(arg) for arg in args], input=stdin, catch_exceptions=False)
    return invoke


def line(flow_id: str, change=None) -> str:
    flow = dict(example("student-on-credit"), flow_id=flow_id)
    if change:
        change(flow)
    return json.dumps(flow, ensure_ascii=False)


def decided(output: str) -> list[str]:
    return [json.loads(text)["flow_id"] for text in output.splitlines() if text.startswith("{")]


def test_every_bad_line_of_a_batch_is_one_error_and_the_batch_goes_on(run, tmp_path):
    phone_in_json = lambda flow: flow["applicant"].update(phone='usage":"private')  # noqa: E731  spans two values
    lines = [
        line("first"),
        line("F-1").replace('"F-1"', "1e1000000000000000000"),
        line("F-2").replace('"age": 20', '"age": ' + "9" * 5000),
        line("F-3", lambda flow: flow["applicant"].update(phone="private")),  # equal to an enum value
        line("F-4", phone_in_json),  # in the log's JSON text, in no value: the log refuses it as input
        line("F-5").replace('"F-5"', '"' + "x" * (MAX_INPUT_BYTES + 10) + '"'),
        line("F-6").replace('"F-6"', '"F-6\\u001b[2J"'),
        line("last"),
    ]
    result = run("evaluate", "--audit-db", tmp_path / "log.db", "-", stdin="\n".join(lines) + "\n")
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert decided(result.output) == ["first", "last"]
    errors = [text for text in result.output.splitlines() if text.startswith("licit:")]
    assert errors == [
        "licit: error: invalid flow: <stdin>:2: flow_id: the number 1e100000000000000000... is out of range",
        "licit: error: invalid flow: <stdin>:3: applicant.age: a number of 5000 digits is out of range",
        "licit: error: invalid flow: <stdin>:4: vehicle.declared_usage: contains the applicant's phone; personal "
        "identifiers may appear only in applicant.phone",
        "licit: error: invalid flow: <stdin>:4: vehicle.usage: contains the applicant's phone; personal identifiers "
        "may appear only in applicant.phone",
        errors[4],
        f"licit: error: invalid flow: <stdin>:6: (flow): input is larger than {MAX_INPUT_BYTES:,} bytes",
        "licit: error: invalid flow: <stdin>:7: flow_id: holds the character '\\x1b' (U+001B); an identifier is "
        "printable text: no control characters (newline, escape, NUL …) and no whitespace other than a space",
    ]
    assert errors[4].startswith("licit: error: invalid flow: <stdin>:5: decision ") and errors[4].endswith(
        "applicant.phone: the applicant's phone appears in clear outside applicant.phone")
    report = verify_log(tmp_path / "log.db")
    assert report.ok and report.records == 2  # first and last only: nothing of the refused lines was written


MEMORY = 200 * 1024 * 1024  # far more than licit needs, far less than /dev/zero (or a 300 MB line) would take


def licit(*args: str) -> list[str]:
    """A python running `licit ARGS` with at most MEMORY of address space."""
    return [sys.executable, "-c", "import resource, sys\n"
            f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))\n"
            f"from engine.cli import main\nsys.argv = ['licit', *{list(args)!r}]\nmain()"]


@pytest.mark.parametrize("command", [("evaluate", "--no-audit"), ("remedy",)])
def test_a_file_that_never_ends_is_refused_after_reading_the_limit(command):
    child = subprocess.run(licit(*command, "/dev/zero"), capture_output=True, text=True, cwd=REPO, timeout=120)
    assert child.returncode == 2, child.stderr
    assert child.stderr.splitlines()[0] == f"licit: error: invalid flow: /dev/zero: (flow): input is larger than " \
                                           f"{MAX_INPUT_BYTES:,} bytes"


def test_an_endless_line_on_stdin_is_refused_and_the_next_line_decided():
    good = line("after").encode()
    with subprocess.Popen(licit("evaluate", "--no-audit", "-"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, cwd=REPO) as child:
        chunk = b"x" * (1 << 20)
        for _ in range(300):
            child.stdin.write(chunk)
        child.stdin.write(b"\n" + good + b"\n")
        stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 2
    assert stderr.decode().strip() == f"licit: error: invalid flow: <stdin>:1: (flow): input is larger than " \
                                      f"{MAX_INPUT_BYTES:,} bytes"
    assert decided(stdout.decode()) == ["after"]


def test_a_decision_read_by_a_person_is_one_line_per_line_whatever_it_holds(shipped_engine):
    decision = shipped_engine.evaluate(example("student-on-credit"))
    forged = Decision.model_construct(**{**dict(decision), "flow_id": "F-1\nALLOW — flow F-2\x1b[2J"})
    text = decision_text(forged)
    assert text.count("\n") == decision_text(decision).count("\n")
    assert "F-1\\nALLOW — flow F-2\\x1b[2J" in text and "\x1b" not in text


def test_the_auditors_table_shows_what_an_old_log_holds_escaped(tmp_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")
    flow = example("student-on-credit")
    decision = {"decision_id": "0" * 31 + "1", "flow_id": "F-1\nforged row\x1b[31m", "outcome": "deny",
                "evaluated_at": "2026-11-24T02:15:00.000000Z", "jurisdiction": "CN", "findings": [],
                "obligations": [], "ruleset": {"digest": "sha256:" + "0" * 64}}
    files = {"CN/a.yaml": "rules: []\n"}
    ruleset = {"digest": ruleset_digest(files), "jurisdiction_chain": ["CN"], "files": files}
    decision["ruleset"]["digest"] = ruleset["digest"]
    with DecisionLog(tmp_path / "log.db") as log:
        log.record(decision, flow, ruleset, 0.001)
    result = CliRunner().invoke(cli, ["audit", "query", "--db", str(tmp_path / "log.db")])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 4 and "F-1\\nforged row\\x1b[31m" in result.output
    shown = CliRunner().invoke(cli, ["audit", "show", "--db", str(tmp_path / "log.db"), decision["decision_id"]])
    assert "flow          F-1\\nforged row\\x1b[31m" in shown.output and "\x1b" not in shown.output


def test_a_nul_in_a_decision_is_refused_by_the_log_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")
    decision = {"decision_id": "0" * 31 + "1", "flow_id": "F-1\x00hidden", "outcome": "deny",
                "evaluated_at": "2026-11-24T02:15:00.000000Z", "findings": [], "obligations": [],
                "ruleset": {"digest": "sha256:x"}}
    with DecisionLog(tmp_path / "log.db") as log:
        with pytest.raises(AuditInputError, match="flow_id holds a NUL character"):
            log.record(decision, example("student-on-credit"), {}, 0.001)
