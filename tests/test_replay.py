"""Logging is the default, and any logged decision replays under exactly its rules."""
import json
import sqlite3

import pytest
from click.testing import CliRunner

from audit import AuditError
from engine import Engine
from engine.batch.replay import replay_decision
from engine.cli import cli
from tests.conftest import EXAMPLES, PACKS, example


@pytest.fixture
def logged(tmp_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")
    db = tmp_path / "log.db"
    with Engine(rules_dir=PACKS, audit_db=db, max_request_age=None) as engine:
        decisions = [engine.evaluate(example(name)) for name in ("platform-collects-premium", "apr-not-disclosed")]
    return db, decisions


def test_every_decision_is_in_the_log_before_evaluate_returns(logged):
    db, decisions = logged
    with sqlite3.connect(db) as conn:
        stored = [row[0] for row in conn.execute("SELECT decision ->> '$.decision_id' FROM decisions ORDER BY seq")]
    assert stored == [decision.decision_id for decision in decisions]


def test_replay_reproduces_the_logged_decision_under_its_own_rule_files(logged, tmp_path):
    db, decisions = logged
    result = replay_decision(db, decisions[0].decision_id)
    assert result["identical"] and result["digest_matches"] and result["chain_link_verified"]
    assert result["replayed"]["rule_ids"] == ["CN.PLATFORM.UNLICENSED_SALES", "CN.PREMIUM.PAYEE"]


def test_cli_logs_by_default_and_replays(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")
    monkeypatch.delenv("LICIT_AUDIT_DB", raising=False)
    runner = CliRunner()
    decision = json.loads(runner.invoke(cli, ["evaluate", "--rules", str(PACKS),
                                              str(EXAMPLES / "student-on-credit.json")]).output)
    assert (tmp_path / "licit-audit.db").exists()
    replay = runner.invoke(cli, ["audit", "replay", decision["decision_id"]])
    assert replay.exit_code == 0 and "identical" in replay.output
    missing = runner.invoke(cli, ["audit", "replay", "NO-SUCH-ID"])
    assert missing.exit_code == 1 and "Traceback" not in missing.output


def test_an_unwritable_log_means_no_decision(tmp_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")
    result = CliRunner().invoke(cli, ["evaluate", "--rules", str(PACKS), "--audit-db",
                                      str(tmp_path / "no-such-folder" / "log.db"),
                                      str(EXAMPLES / "student-on-credit.json")])
    assert result.exit_code == 1
    assert "outcome" not in result.output and "Traceback" not in result.output


def test_bench_audit_reports_log_on_off_and_bare_commits(tmp_path):
    result = CliRunner().invoke(cli, ["bench", "--n", "200", "--audit", "--audit-dir", str(tmp_path),
                                      "--rules", str(PACKS)])
    assert result.exit_code == 0, result.output
    for expected in ("log off", "log on", "bare durable commits/s", "4 processes"):
        assert expected in result.output


def _tamper(db, statement: str) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    conn.execute(statement)
    conn.close()


def test_a_record_that_does_not_verify_is_not_replayed(logged):
    db, decisions = logged
    _tamper(db, "UPDATE decisions SET flow = replace(flow, 'platform_account', 'insurer_account') WHERE seq = 1")
    with pytest.raises(AuditError, match=r"does not verify in the log \(its stored hash does not match its content\)"):
        replay_decision(db, decisions[0].decision_id)


def test_a_rule_set_that_no_longer_matches_its_digest_is_not_replayed(logged):
    db, decisions = logged
    _tamper(db, "UPDATE rulesets SET files = replace(files, 'deny', 'warn')")
    with pytest.raises(AuditError, match="no longer matches its digest: the log was altered"):
        replay_decision(db, decisions[0].decision_id)
