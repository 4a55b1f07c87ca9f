"""Tampering with the file through raw SQLite (triggers dropped first) must be
found by verify, at the first damaged sequence number, with the kind of damage."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from conftest import (
    RECORD_TABLES, assert_one_line_error, drop_triggers, example_items, make_decision, make_ruleset, move, raw, run,
)

from audit import AuditWriteError, DecisionLog, verify_log, write_checkpoint
from audit.canonical import canonical_json, record_hash, record_text
from audit.schema import expected_schema

TABLES = ("meta", "rulesets", "decisions", "decision_lookups", "findings", "obligations")
INSERTED_COLUMNS = "seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow"


def first_problem(path, checkpoint=None):
    report = verify_log(path, checkpoint)
    assert not report.ok
    return report.first_problem


def forge_hash(seq: int, prev_hash: str, recorded_at: str, decision: dict, flow_json: str) -> str:
    """The hash a tamperer who read docs/log-format.md computes for a rewritten record."""
    return record_hash(record_text(canonical_json(decision).encode(), 1000, decision["evaluated_at"],
                                   flow_json.encode(), prev_hash, recorded_at, seq))


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
    with pytest.raises(sqlite3.IntegrityError, match="may only be derived from records not yet derived"):
        conn.execute("INSERT INTO findings VALUES (3, 9, 'CN.FAKE', 'CN', 'deny', 'x', 'deny')")
    with pytest.raises(sqlite3.IntegrityError, match="written once"):
        conn.execute("INSERT INTO meta VALUES ('note', 'x')")


def test_a_rewritten_field_is_content_changed(tamper, filled_log):
    seq = tamper.execute("SELECT min(seq) FROM decision_lookups WHERE seq > 3 AND outcome = 'deny'").fetchone()[0]
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
        (canonical_json(decision), new_hash),
    )
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (4, "content changed")


@pytest.mark.parametrize("seq", [1, 6])
def test_a_deleted_record_is_missing(tamper, filled_log, seq):
    for table in RECORD_TABLES:
        tamper.execute(f"DELETE FROM {table} WHERE seq = ?", (seq,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "record missing")


def test_a_deleted_last_record_is_missing(tamper, filled_log):
    for table in RECORD_TABLES:
        tamper.execute(f"DELETE FROM {table} WHERE seq = 12")
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (12, "record missing")


def test_a_cut_tail_with_its_traces_removed_is_caught_by_a_checkpoint(filled_log, tmp_path):
    checkpoint = tmp_path / "head.json"
    write_checkpoint(filled_log, checkpoint)
    conn = raw(filled_log)
    drop_triggers(conn)
    for table in RECORD_TABLES:
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
            (canonical_json(decision), prev_hash, new_hash, seq),
        )
        for table in ("findings", "decision_lookups"):  # the rows derived from it, too
            conn.execute(f"UPDATE {table} SET outcome = ? WHERE seq = ?", (decision["outcome"], seq))
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
    forged_json = canonical_json(forged)
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
    for table in RECORD_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE seq > 10")
    conn.close()
    with pytest.raises(AuditWriteError, match=r"ends at seq 10 but seq 12 was written, so records were removed"):
        DecisionLog(filled_log)
    assert first_problem(filled_log).kind == "record missing"


def _rewrite_schema(conn, name: str, sql: str) -> None:
    """What SQLite's writable_schema lets a tamperer do: change an object's stored definition."""
    conn.execute("PRAGMA writable_schema=ON")
    conn.execute("UPDATE sqlite_master SET sql = ? WHERE name = ?", (sql, name))
    conn.execute("PRAGMA writable_schema=OFF")


def _restore_triggers(conn) -> None:
    for sql in expected_schema(2).values():
        if sql.startswith("CREATE TRIGGER"):
            conn.execute(sql)


def test_rewritten_lookup_rows_are_found(filled_log):
    # The chain covers the stored JSON; `outcome` in decision_lookups is what queries and stats read.
    conn = raw(filled_log)
    drop_triggers(conn)
    assert conn.execute("UPDATE decision_lookups SET outcome = 'allow' WHERE outcome = 'deny'").rowcount > 0
    conn.execute("UPDATE findings SET outcome = 'allow' WHERE outcome = 'deny'")
    _restore_triggers(conn)
    conn.close()
    report = verify_log(filled_log)
    assert report.first_problem.kind == "lookup columns changed" and "decision_lookups row" in \
        report.first_problem.detail
    assert any(p.kind == "normalised rows changed" and "findings rows no longer match" in p.detail
               for p in report.problems)


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
    conn.execute("CREATE TRIGGER zz_hide AFTER INSERT ON decision_lookups WHEN NEW.outcome = 'deny' BEGIN SELECT 1; END")
    conn.close()
    problem = first_problem(filled_log)
    assert problem.kind == "schema changed" and "added: zz_hide" in problem.detail


def test_every_lookup_column_is_derived_and_checked():
    from audit.derived import DERIVED
    from audit.tables import LOOKUPS, V1_TABLES, V2_TABLES

    assert len(LOOKUPS) == V1_TABLES.count("GENERATED ALWAYS AS") == 9
    table = V2_TABLES[V2_TABLES.index("CREATE TABLE decision_lookups"):]
    columns = re.findall(r"\n    (\w+) +(?:INTEGER|TEXT)", table[:table.index(");")])
    assert DERIVED["decision_lookups"].names == columns


@pytest.fixture
def long_log(log_path):
    """60 records, triggers dropped: room for records far apart."""
    with DecisionLog(log_path) as log:
        for item in example_items(60):
            log.record(*item)
    conn = raw(log_path)
    drop_triggers(conn)
    yield conn
    conn.close()


def _swap_rows(conn, a: int, b: int, tables=RECORD_TABLES) -> None:
    for old, new in ((a, -1), (b, a), (-1, b)):
        for table in tables:
            conn.execute(f"UPDATE {table} SET seq = ? WHERE seq = ?", (new, old))


def test_two_distant_records_swapped_whole_are_reordered_naming_both(long_log, log_path):
    _swap_rows(long_log, 3, 40)  # each record keeps its own hash and link
    problem = first_problem(log_path)
    assert (problem.seq, problem.kind) == (3, "records reordered")
    assert "seq 3 holds the record written as seq 40" in problem.detail
    assert "seq 40 holds the record written as seq 3" in problem.detail


@pytest.mark.parametrize("content", ["evaluated_at, duration_us, decision, flow",
                                     "recorded_at, evaluated_at, duration_us, decision, flow"])
def test_two_distant_records_contents_swapped_beneath_their_hashes_are_reordered(long_log, log_path, content):
    # The chain's seq, prev_hash and hash columns stay; what they vouch for trades places.
    rows = {seq: long_log.execute(f"SELECT {content} FROM decisions WHERE seq = ?", (seq,)).fetchone()
            for seq in (3, 40)}
    kept = {seq: long_log.execute("SELECT seq, recorded_at, prev_hash, hash FROM decisions WHERE seq = ?",
                                  (seq,)).fetchone() for seq in (3, 40)}
    long_log.execute("DELETE FROM decisions WHERE seq IN (3, 40)")
    for seq, other in ((3, 40), (40, 3)):
        columns = dict(zip(("seq", "recorded_at", "prev_hash", "hash"), kept[seq]))
        columns.update(zip(content.split(", "), rows[other]))
        long_log.execute(f"INSERT INTO decisions({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         tuple(columns.values()))
    _swap_rows(long_log, 3, 40, tables=("decision_lookups", "findings", "obligations"))
    problem = first_problem(log_path)
    assert (problem.seq, problem.kind) == (3, "records reordered")
    assert "seq 3 holds the record written as seq 40" in problem.detail
    assert "seq 40 holds the record written as seq 3" in problem.detail


def test_a_record_moved_far_back_is_reordered(long_log, log_path):
    # seq 50 placed before seq 10, which with 10-49 moves up by one
    move(long_log, 50, -1)
    for seq in range(49, 9, -1):
        move(long_log, seq, seq + 1)
    move(long_log, -1, 10)
    problem = first_problem(log_path)
    assert (problem.seq, problem.kind) == (10, "records reordered")
    assert "seq 10 holds the record written as seq 50" in problem.detail


@pytest.mark.parametrize("table, row", [("findings", (20, 0, "CN.FAKE", "CN", "deny", "x", "deny")),
                                        ("obligations", (20, 0, "CN.FAKE", "pay")),
                                        ("findings", (0, 0, "CN.FAKE", "CN", "deny", "x", "deny"))])
def test_a_row_forged_for_a_seq_never_written_is_an_inserted_row_not_a_missing_record(tamper, filled_log, table, row):
    tamper.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", row)
    report = verify_log(filled_log)
    assert [(p.seq, p.kind) for p in report.problems if p.kind != "schema changed"] == [
        (row[0], "normalised rows changed")
    ]
    assert f"seq {row[0]}, which was never written" in report.first_problem.detail
    assert "gone" not in report.first_problem.detail


def test_rows_left_behind_by_removed_last_records_still_mean_they_are_missing(tamper, filled_log):
    seq = tamper.execute("SELECT max(seq) FROM findings").fetchone()[0]
    tamper.execute("DELETE FROM decisions WHERE seq >= ?", (seq,))  # SQLite's counter still says 12 were written
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (seq, "record missing")


def test_a_record_rewritten_as_json_too_deep_for_python_is_changed_content_not_a_crash(tamper, filled_log):
    """SQLite's JSON functions (the lookup columns) follow 1,000 levels; Licit reads 200 (on every Python)."""
    decision_id = example_items(1, start=5)[0][0]["decision_id"]
    deep = "[" * 999 + "]" * 999
    tamper.execute("UPDATE decisions SET decision = json_set(decision, '$.note', json(?)) WHERE seq = 5", (deep,))
    tamper.execute("UPDATE decisions SET flow = ? WHERE seq = 6", (deep,))
    problem = first_problem(filled_log)
    assert (problem.seq, problem.kind) == (5, "content changed")
    show = run("show", "--db", filled_log, decision_id)
    assert_one_line_error(show, f"decision {decision_id} (seq 5) cannot be read")
    assert_one_line_error(run("replay", "--db", filled_log, decision_id), "the log was altered")
