"""Logs of schema version 1 (written before RFC 8785 and the writer process) are still
read, queried, verified, checkpointed and replayed; they are not extended (test_audit_log)."""

from __future__ import annotations

import json
import shutil

import pytest
from conftest import DATA, drop_triggers, raw, run

from audit import decision_stats, find_decisions, get_decision, verify_log

FIXTURE_KEY = "test-key-0123456789abcdef"  # data/README.md


@pytest.fixture
def v1_log(tmp_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", FIXTURE_KEY)
    path = tmp_path / "v1.db"
    shutil.copy(DATA / "v1-log.db", path)
    return path


def test_a_version_1_log_verifies_and_holds_its_checkpoint(v1_log):
    report = verify_log(v1_log, DATA / "v1-log.checkpoint.json")
    assert report.ok and report.schema_version == 1 and report.records == 20 and report.checkpoint_seq == 20


def test_a_version_1_log_answers_queries(v1_log):
    assert len(find_decisions(v1_log, limit=0)) == 20
    assert {row["seq"] for row in find_decisions(v1_log, rule="CN.CTPL.LUMP_SUM", limit=0)} >= {1}
    assert decision_stats(v1_log)["decisions"] == 20
    seq_1 = find_decisions(v1_log, limit=0)[-1]
    record = get_decision(v1_log, seq_1["decision_id"])
    assert record["seq"] == 1 and record["chain_link_verified"]
    export = run("export", "--db", v1_log, "--format", "csv")
    assert export.exit_code == 0 and len(export.output.splitlines()) == 21


def test_a_version_1_decision_replays(v1_log):
    engine_made = [row for row in find_decisions(v1_log, limit=0) if row["seq"] > 12]  # the fixture's engine decisions
    result = run("replay", "--db", v1_log, engine_made[0]["decision_id"], "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["identical"] is True


@pytest.mark.parametrize("tampering, kind", [
    ("UPDATE decisions SET decision = json_set(decision, '$.trace_id', 'x') WHERE seq = 4", "content changed"),
    ("UPDATE findings SET rule_id = 'CN.SOMETHING.ELSE' WHERE seq = 1", "normalised rows changed"),
    ("DELETE FROM decisions WHERE seq = 6", "record missing"),
])
def test_tampering_with_a_version_1_log_is_found(v1_log, tampering, kind):
    conn = raw(v1_log)
    drop_triggers(conn)
    conn.execute(tampering)
    conn.close()
    report = verify_log(v1_log)
    assert not report.ok and report.first_problem.kind == kind
