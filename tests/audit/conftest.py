"""Fixtures for the decision-log tests: the contract's example flows, decisions
shaped as the engine returns them, and raw-SQLite tampering helpers."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # `import audit` must be this checkout's package
    sys.path.insert(0, str(REPO))

from audit import DecisionLog, ruleset_digest  # noqa: E402
from engine.cli import cli  # noqa: E402  (`licit audit` is in engine/cli/audit.py)

EXAMPLES = REPO / "examples"
DATA = Path(__file__).resolve().parent / "data"  # a version-1 log (data/README.md)
TEST_KEY = "test-key-0123456789abcdef"
EFFECTS = {
    "CN.CTPL.LUMP_SUM": "deny",
    "CN.PREMIUM.PAYEE": "deny",
    "CN.PLATFORM.UNLICENSED_SALES": "deny",
    "CN.CREDIT.STUDENT": "deny",
    "CN.CREDIT.APR_DISCLOSURE": "require",
}


@pytest.fixture(autouse=True)
def audit_key(monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", TEST_KEY)
    monkeypatch.delenv("LICIT_AUDIT_DB", raising=False)
    return TEST_KEY.encode()


# Read once, when the tests are collected: a test that drops root in a forked child (to see file modes
# bite) cannot read the checkout when it lies in a folder only root may enter.
_EXPECTED = (EXAMPLES / "expected.json").read_text()
_FLOWS = {name: (EXAMPLES / f"{name}.json").read_text() for name in json.loads(_EXPECTED)}


def example_flows() -> dict[str, dict]:
    return {name: json.loads(text) for name, text in _FLOWS.items()}


def expected_outcomes() -> dict[str, dict]:
    return json.loads(_EXPECTED)


def make_ruleset(release: int = 1) -> dict:
    chain = ["CN", "CN-GD", "CN-GD-SZ"]
    files = {
        "CN/national.yaml": f"# release {release}\nrules:\n  - id: CN.CTPL.LUMP_SUM\n    effect: deny\n",
        "CN-GD/rules.yaml": "parameters:\n  pricing_factor_max: 1.30\n",
        "CN-GD-SZ/rules.yaml": "rules: []\n",
    }
    return {"digest": ruleset_digest(files), "jurisdiction_chain": chain, "files": files}


def make_decision(flow: dict, outcome: str, rule_ids: list[str], ruleset: dict, number: int) -> dict:
    findings = [
        {
            "rule_id": rule_id,
            "jurisdiction": "CN",
            "effect": EFFECTS[rule_id],
            "title": f"title of {rule_id}",
            "message": {"zh": "交强险保费应当一次性支付", "en": "CTPL premium is paid in one sum"},
            "citation": {
                "source": "《机动车交通事故责任强制保险条例》",
                "article": "第十二条",
                "url": None,
                "status": "verified",
                "note": "",
            },
            "remedy": "Pay the insurer in full.",
            "action": "disclose_annualized_rate" if EFFECTS[rule_id] == "require" else None,
        }
        for rule_id in rule_ids
    ]
    return {
        "decision_id": f"01JD{number:022d}",
        "flow_id": flow["flow_id"],
        "evaluated_at": f"2026-11-{1 + number % 28:02d}T02:15:00.{number:06d}Z",
        "as_of": flow["requested_at"],
        "jurisdiction": flow["jurisdiction"],
        "jurisdiction_chain": ruleset["jurisdiction_chain"],
        "outcome": outcome,
        "findings": findings,
        "obligations": [
            {"rule_id": f["rule_id"], "action": f["action"], "message": f["message"]} for f in findings if f["action"]
        ],
        "ruleset": {"digest": ruleset["digest"]},
        "engine_version": "0.1.0",
        "trace_id": f"extra-{number}",  # keys beyond the contract are kept
    }


def example_items(count: int, start: int = 1, ruleset: dict | None = None) -> list[tuple]:
    """(decision, flow, ruleset, duration) for `count` decisions cycling through the examples."""
    ruleset = ruleset or make_ruleset()
    flows, expected = example_flows(), expected_outcomes()
    names = sorted(flows)
    items = []
    for number in range(start, start + count):
        name = names[number % len(names)]
        outcome, rule_ids = expected[name]["outcome"], expected[name]["rule_ids"]
        items.append((make_decision(flows[name], outcome, rule_ids, ruleset, number), flows[name], ruleset, 0.002))
    return items


@pytest.fixture
def log_path(tmp_path) -> Path:
    return tmp_path / "licit-audit.db"


@pytest.fixture
def filled_log(log_path) -> Path:
    """A log of 12 decisions about the example flows, closed."""
    with DecisionLog(log_path) as log:
        for item in example_items(12):
            log.record(*item)
    return log_path


def raw(path: Path) -> sqlite3.Connection:
    """A plain sqlite3 connection, as a tamperer with file access would use."""
    return sqlite3.connect(path, isolation_level=None)


def drop_triggers(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')


RECORD_TABLES = ("decisions", "decision_lookups", "findings", "obligations")  # a record and the rows derived from it


def move(conn: sqlite3.Connection, old_seq: int, new_seq: int) -> None:
    """Renumber a record with the rows derived from it."""
    for table in RECORD_TABLES:
        conn.execute(f"UPDATE {table} SET seq = ? WHERE seq = ?", (new_seq, old_seq))


def file_bytes(path: Path) -> bytes:
    return b"".join(
        Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal", "-shm") if os.path.exists(f"{path}{suffix}")
    )


def run(*args, env=None):
    """`licit audit ARGS` in-process, as a user's shell would call it."""
    return CliRunner().invoke(cli, ["audit", *(str(a) for a in args)], env=env, catch_exceptions=False)


def assert_one_line_error(result, fragment, exit_code=1):
    """Exit 1 when the log or a file failed, 2 for bad input (docs/guarantees.md: exit codes)."""
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    # on stderr, in licit's one form of an error (engine/cli/errors.py)
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("licit: error: ")]
    assert len(error_lines) == 1 and fragment in error_lines[0], result.output
