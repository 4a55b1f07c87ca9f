"""Tampering with the file through raw SQLite (triggers dropped first) must be
found by verify, at the first damaged sequence number, with the kind of damage."""

from __future__ import annotations

import json
import sqlite3

import pytest
from conftest import drop_triggers, example_items, make_decision, make_ruleset, move, raw

from audit import AuditWriteError, DecisionLog, verify_log, write_checkpoint
from audit.canonical import record_body, record_hash
from audit.schema import expected_schema

TABLES = ("meta", "rulesets", "decisions", "findings", "obligations")
INSERTED_COLUMNS = "seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow"


def first_problem(path, checkpoint=None):
    report = verify_log(path, checkpoint)
    assert not report.ok
    return report.first_problem


def forge_hash(seq: int, prev_hash: str, recorded_at: str, decision: dict, flow_json: str) -> str:
    body = record_body(
        decision_json=json.dumps(decision, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
        duration_us=1000,
        evaluated_at=decision["evaluated_at"],
        finding_rows=[(f["rule_id"], f["jurisdiction"], f["effect"]) for f in decision["findings"]],
        flow_json=flow_json.encode(),
        obligation_rows=[(o["rule_id"], o["action"]) for o in decision["obligations"]],
    )
    return record_hash(body, prev_hash, recorded_at, seq)


@pytest.fixture
def tamper(filled_log):
    conn = raw(filled_log)
    drop_triggers(conn)
    yield conn
    conn.close()


def test_an_intact_log_verifies(filled_log):
    report = verify_log(filled_log)
    assert report.ok and report.intact == 12 and report.first_problem is None


@pytest.mark.parametrize("table", TABLES)
def test_triggers_refuse_update_and_delete_on_every_table(filled_log, table):
    conn = raw(filled_log)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(f"DELETE FROM {table}")
    column = "key" if table == "meta" else "seq" if table != "rulesets" else "digest"
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute(f"UPDATE {table} SET {column} = {column}")
    assert verify_log(filled_log).ok


def test_triggers_refuse_inserts_that_would_fork_or_pad_the_chain(filled_log):
    conn = raw(filled_log)
    row = conn.execute(
        "SELECT recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow FROM decisions WHERE seq = 3"
    ).fetchone()
    with pytest.raises(sqlite3.IntegrityError, match="head of its chain"):
        conn.execute(
            f"INSERT INTO decisions({INSERTED_COLUMNS}) VALUES (20, ?, ?, ?, ?, ?, ?, ?)",
            row,
        )
    with pytest.raises(sqlite3.IntegrityError, match="only be added with their record"):
        conn.execute("INSERT INTO findings VALUES (3, 9, 'CN.FAKE', 'CN', 'deny', 'x', 'deny')")
    with pytest.raises(sqlite3.IntegrityError, match="written once"):
        conn.execute("INSERT INTO meta VALUES ('note', 'x')")


def test_a_rewritten_field_is_content_changed(tamper, filled_log):
    seq = tamper.execute("SELECT min(seq) FROM decisions WHERE seq > 3 AND outcome = 'deny'").fetchone()[0]
    tamper.execute("UPDATE decisions SET decision = json_set(decision, '$.outcome', 'allow') WHERE seq = ?", (seq,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "content changed")


def test_a_rewritten_and_rehashed_record_is_caught_by_its_successor(tamper, filled_log):
    seq, prev_hash, recorded_at, flow = tamper.execute(
        "SELECT seq, prev_hash, recorded_at, flow FROM decisions WHERE seq = 4"
    ).fetchone()
    decision = json.loads(tamper.execute("SELECT decision FROM decisions WHERE seq = 4").fetchone()[0])
    decision["outcome"] = "allow"
    new_hash = forge_hash(4, prev_hash, recorded_at, decision, flow)
    tamper.execute(
        "UPDATE decisions SET decision = ?, duration_us = 1000, hash = ? WHERE seq = 4",
        (json.dumps(decision, sort_keys=True, separators=(",", ":"), ensure_ascii=False), new_hash),
    )
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (4, "content changed")


@pytest.mark.parametrize("seq", [1, 6])
def test_a_deleted_record_is_missing(tamper, filled_log, seq):
    for table in ("decisions", "findings", "obligations"):
        tamper.execute(f"DELETE FROM {table} WHERE seq = ?", (seq,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "record missing")


def test_a_deleted_last_record_is_missing(tamper, filled_log):
    for table in ("decisions", "findings", "obligations"):
        tamper.execute(f"DELETE FROM {table} WHERE seq = 12")
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (12, "record missing")


def test_a_cut_tail_with_its_traces_removed_is_caught_by_a_checkpoint(filled_log, tmp_path):
    checkpoint = tmp_path / "head.json"
    write_checkpoint(filled_log, checkpoint)
    conn = raw(filled_log)
    drop_triggers(conn)
    for table in ("decisions", "findings", "obligations"):
        conn.execute(f"DELETE FROM {table} WHERE seq > 10")
    conn.execute("UPDATE sqlite_sequence SET seq = 10 WHERE name = 'decisions'")
    problem = first_problem(filled_log, checkpoint)
    assert (problem.seq, problem.kind) == (11, "record missing")
    assert "checkpoint" in problem.detail


def test_a_log_rewritten_from_the_start_is_caught_by_a_checkpoint(filled_log, tmp_path):
    checkpoint = tmp_path / "head.json"
    write_checkpoint(filled_log, checkpoint)
    conn = raw(filled_log)
    drop_triggers(conn)
    # Alter seq 2 and recompute every hash after it: the chain itself is consistent again.
    prev_hash = conn.execute("SELECT hash FROM decisions WHERE seq = 1").fetchone()[0]
    for seq in range(2, 13):
        recorded_at, flow, decision_json = conn.execute(
            "SELECT recorded_at, flow, decision FROM decisions WHERE seq = ?", (seq,)
        ).fetchone()
        decision = json.loads(decision_json)
        if seq == 2:
            decision["outcome"] = "allow"
        new_hash = forge_hash(seq, prev_hash, recorded_at, decision, flow)
        conn.execute(
            "UPDATE decisions SET decision = ?, duration_us = 1000, prev_hash = ?, hash = ? WHERE seq = ?",
            (json.dumps(decision, sort_keys=True, separators=(",", ":"), ensure_ascii=False), prev_hash, new_hash, seq),
        )
        conn.execute("UPDATE findings SET outcome = ? WHERE seq = ?", (decision["outcome"], seq))
        prev_hash = new_hash
    problem = first_problem(filled_log, checkpoint)
    assert (problem.seq, problem.kind) == (12, "content changed")
    assert "rewritten" in problem.detail


@pytest.mark.parametrize("forged_hash_is_valid", [True, False])
def test_a_forged_record_inserted_in_the_middle_is_found(tamper, filled_log, forged_hash_is_valid):
    for seq in range(12, 4, -1):  # make room at seq 5
        move(tamper, seq, seq + 1)
    prev_hash, recorded_at, flow = tamper.execute(
        "SELECT hash, recorded_at, flow FROM decisions WHERE seq = 4"
    ).fetchone()
    forged = make_decision(json.loads(flow), "allow", [], make_ruleset(), 999)
    digest = forge_hash(5, prev_hash, recorded_at, forged, flow) if forged_hash_is_valid else "f" * 64
    forged_json = json.dumps(forged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    tamper.execute(
        f"INSERT INTO decisions({INSERTED_COLUMNS}) VALUES (5, ?, ?, 1000, ?, ?, ?, ?)",
        (recorded_at, forged["evaluated_at"], prev_hash, digest, forged_json, flow),
    )
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (5, "record inserted")


def test_two_swapped_records_are_reordered(tamper, filled_log):
    move(tamper, 5, -5)
    move(tamper, 6, 5)
    move(tamper, -5, 6)
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (5, "records reordered")


def test_an_altered_findings_row_is_caught(tamper, filled_log):
    seq = tamper.execute("SELECT min(seq) FROM findings").fetchone()[0]
    tamper.execute("UPDATE findings SET rule_id = 'CN.SOMETHING.ELSE' WHERE seq = ?", (seq,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "normalised rows changed")


def test_a_deleted_findings_row_is_caught(tamper, filled_log):
    seq = tamper.execute("SELECT max(seq) FROM findings").fetchone()[0]
    tamper.execute("DELETE FROM findings WHERE seq = ?", (seq,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "normalised rows changed")


def test_a_findings_row_whose_copied_outcome_was_changed_is_caught(tamper, filled_log):
    seq = tamper.execute("SELECT min(seq) FROM findings WHERE outcome = 'deny'").fetchone()[0]
    tamper.execute("UPDATE findings SET outcome = 'allow' WHERE seq = ?", (seq,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "normalised rows changed")


def test_an_altered_rule_set_no_longer_matches_its_digest(tamper, filled_log):
    tamper.execute("UPDATE rulesets SET files = json_set(files, '$.\"CN/national.yaml\"', 'rules: []')")
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (1, "rule set changed")


def test_a_removed_rule_set_is_missing(tamper, filled_log):
    tamper.execute("DELETE FROM rulesets")
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (1, "rule set missing")


def test_dropped_triggers_alone_are_reported(tamper, filled_log):
    report = verify_log(filled_log)
    assert not report.ok
    assert {p.kind for p in report.problems} == {"schema changed"}
    assert any("decisions_refuse_delete" in p.detail for p in report.problems)


def test_a_log_cut_at_its_end_takes_no_more_records(filled_log):
    # Later records would reuse the removed numbers and make the chain verify again.
    conn = raw(filled_log)
    drop_triggers(conn)
    for table in ("findings", "obligations", "decisions"):
        conn.execute(f"DELETE FROM {table} WHERE seq > 10")
    conn.close()
    with DecisionLog(filled_log) as log:
        with pytest.raises(AuditWriteError, match=r"ends at seq 10 but seq 12 was written, so records were removed"):
            log.record(*example_items(1, start=50)[0])
    assert first_problem(filled_log).kind == "record missing"


def _rewrite_schema(conn, name: str, sql: str) -> None:
    """What SQLite's writable_schema lets a tamperer do: change an object's stored definition."""
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql, name))
    conn.execute("PRAGMA writable_schema=OFF")


def _restore_triggers(conn) -> None:
    for sql in expected_schema().values():
        if sql.startswith("CREATE TRIGGER"):
            conn.execute(sql)


def test_lookup_columns_rewritten_behind_the_schema_are_found(filled_log):
    # The chain covers the stored JSON; `outcome` is what queries and stats read.
    conn = raw(filled_log)
    drop_triggers(conn)
    generated = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'decisions'").fetchone()[0]
    plain = generated.replace("GENERATED ALWAYS AS (json_extract(decision, '$.outcome')) STORED", "")
    _rewrite_schema(conn, "decisions", plain)
    conn.close()
    conn = raw(filled_log)
    assert conn.execute("UPDATE decisions SET outcome = 'allow' WHERE outcome = 'deny'").rowcount > 0
    conn.execute("UPDATE findings SET outcome = 'allow' WHERE outcome = 'deny'")
    _rewrite_schema(conn, "decisions", generated)
    conn.close()
    conn = raw(filled_log)
    _restore_triggers(conn)
    conn.close()
    problem = first_problem(filled_log)
    assert problem.kind == "lookup columns changed" and "its outcome no longer match" in problem.detail


def test_an_index_rebuilt_partial_behind_the_schema_is_found(filled_log):
    # `query --rule` reads findings_by_rule: a partial index would hide a rule's decisions.
    conn = raw(filled_log)
    original = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'findings_by_rule'").fetchone()[0]
    conn.execute("DROP INDEX findings_by_rule")
    conn.execute(f"{original} WHERE rule_id != 'CN.CTPL.LUMP_SUM'")
    _rewrite_schema(conn, "findings_by_rule", original)
    conn.close()
    problem = first_problem(filled_log)
    assert problem.kind == "file damaged" and problem.seq is None and "integrity check" in problem.detail


def test_an_added_trigger_is_found(filled_log):
    conn = raw(filled_log)
    conn.execute("CREATE TRIGGER zz_hide AFTER INSERT ON decisions WHEN NEW.outcome = 'deny' BEGIN SELECT 1; END")
    conn.close()
    problem = first_problem(filled_log)
    assert problem.kind == "schema changed" and "added: zz_hide" in problem.detail


def test_every_generated_lookup_column_is_checked():
    from audit.lookups import LOOKUP_COLUMNS
    from audit.schema import TABLES

    assert len(LOOKUP_COLUMNS) == TABLES.count("GENERATED ALWAYS AS") == 9
