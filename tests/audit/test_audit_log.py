"""DecisionLog: what the engine relies on when it hands over a decision."""

from __future__ import annotations

import json
import os
import sqlite3
import stat

import pytest
from conftest import DATA, example_items, make_ruleset, raw

from audit import AuditError, AuditWriteError, DecisionLog, get_decision, load_ruleset, verify_log


def test_record_returns_consecutive_sequence_numbers_and_the_log_verifies(log_path):
    with DecisionLog(log_path) as log:
        assert [log.record(*item) for item in example_items(5)] == [1, 2, 3, 4, 5]
    report = verify_log(log_path)
    assert report.ok and report.records == 5 and report.head_seq == 5


def test_stored_decision_is_the_engines_decision_and_the_flow_is_redacted(log_path):
    decision, flow, ruleset, duration = example_items(1)[0]
    with DecisionLog(log_path) as log:
        log.record(decision, flow, ruleset, duration)
    stored = get_decision(log_path, decision["decision_id"])
    assert stored["decision"] == decision  # extra keys such as trace_id are kept
    assert stored["seq"] == 1 and stored["duration_s"] == pytest.approx(duration)
    assert stored["chain_link_verified"]
    applicant = stored["flow"]["applicant"]
    for field in ("name", "id_number", "phone"):
        assert applicant[field].startswith("hmac-sha256:") and applicant[field] != flow["applicant"][field]
    # Everything a rule may read is kept, so the decision can be replayed.
    assert {k: v for k, v in stored["flow"].items() if k != "applicant"} == {
        k: v for k, v in flow.items() if k != "applicant"
    }
    assert applicant["age"] == flow["applicant"]["age"]
    assert flow["applicant"]["name"] == "张三"  # the engine's own flow is not modified


def test_rule_set_is_stored_once_with_its_full_sources(log_path):
    ruleset = make_ruleset()
    with DecisionLog(log_path) as log:
        for item in example_items(4, ruleset=ruleset):
            log.record(*item)
    with DecisionLog(log_path) as other_process_log:  # a second writer does not store it again
        other_process_log.record(*example_items(1, start=50, ruleset=ruleset)[0])
    assert raw(log_path).execute("SELECT count(*) FROM rulesets").fetchone()[0] == 1
    assert load_ruleset(log_path, ruleset["digest"]) == {"digest": ruleset["digest"], "files": ruleset["files"]}
    files = dict(raw(log_path).execute("SELECT path, source FROM ruleset_files").fetchall())
    assert files == ruleset["files"]


def test_a_new_rule_set_release_is_stored_beside_the_old(log_path):
    with DecisionLog(log_path) as log:
        log.record(*example_items(1, ruleset=make_ruleset(1))[0])
        log.record(*example_items(1, start=2, ruleset=make_ruleset(2))[0])
    assert raw(log_path).execute("SELECT count(*) FROM rulesets").fetchone()[0] == 2
    assert load_ruleset(log_path, make_ruleset(2)["digest"])["files"] == make_ruleset(2)["files"]


@pytest.mark.parametrize(
    "spoil, message",
    [
        (lambda d, r: d.update(outcome="maybe"), "outcome"),
        (lambda d, r: d.pop("decision_id"), "decision_id"),
        (lambda d, r: d.update(evaluated_at="yesterday"), "evaluated_at"),
        (lambda d, r: d.update(evaluated_at="2026-11-24T02:15:00"), "offset"),
        (lambda d, r: d["findings"].append({"rule_id": "X"}), "findings"),
        (lambda d, r: d.update(flow_id="F-440301199001011234"), "id_number appears in clear"),
        (lambda d, r: r["files"].update({"CN/extra.yaml": "rules: []"}), "does not match its files"),
        (lambda d, r: d.update(ruleset={"digest": "sha256:" + "0" * 64}), "not the decision's"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(log_path, spoil, message):
    with DecisionLog(log_path) as log:
        log.record(*example_items(1)[0])
        decision, flow, ruleset, duration = example_items(1, start=2, ruleset=make_ruleset(7))[0]
        spoil(decision, ruleset)
        with pytest.raises(AuditError, match=message):
            log.record(decision, flow, ruleset, duration)
    assert verify_log(log_path).records == 1


def test_recording_no_decisions_is_refused_rather_than_reported_as_a_sequence_number(log_path):
    with DecisionLog(log_path) as log:
        log.record(*example_items(1)[0])
        with pytest.raises(AuditError, match="no decisions given"):
            log.record_many([])
    assert verify_log(log_path).records == 1


def test_duplicate_decision_id_is_a_write_error_and_leaves_the_chain_whole(log_path):
    item = example_items(1)[0]
    with DecisionLog(log_path) as log:
        log.record(*item)
        with pytest.raises(AuditWriteError, match=str(log_path)):
            log.record(*item)
        assert log.record(*example_items(1, start=2)[0]) == 2
    assert verify_log(log_path).ok


def test_a_file_that_is_not_a_database_is_refused(log_path):
    log_path.write_text("not a database, just notes\n" * 100)
    with pytest.raises(AuditError, match="not a Licit decision log"):
        DecisionLog(log_path)


def test_another_sqlite_database_is_refused_and_left_untouched(log_path):
    other = sqlite3.connect(log_path)
    other.execute("CREATE TABLE customers (name TEXT)")
    other.commit()
    other.close()
    with pytest.raises(AuditError, match="not a Licit decision log"):
        DecisionLog(log_path)
    assert raw(log_path).execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_an_unknown_schema_version_is_refused(filled_log):
    conn = raw(filled_log)
    conn.execute("DROP TRIGGER meta_refuse_update")
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(AuditError, match="schema version '99'"):
        DecisionLog(filled_log)


def test_a_different_key_is_refused(filled_log, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "another-key-0123456789")
    with pytest.raises(AuditError, match="does not match the key"):
        DecisionLog(filled_log)


def test_a_short_key_is_refused(log_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "short")
    with pytest.raises(AuditError, match="too short"):
        DecisionLog(log_path)


def test_without_a_configured_key_a_private_key_file_is_created_and_reused(log_path, monkeypatch):
    monkeypatch.delenv("LICIT_AUDIT_KEY")
    with DecisionLog(log_path) as log:
        log.record(*example_items(1)[0])
    key_file = log_path.with_name(log_path.name + ".key")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) == 64
    with DecisionLog(log_path) as log:  # the same key: the applicant hash still matches
        log.record(*example_items(1, start=2)[0])
    rows = raw(log_path).execute("SELECT DISTINCT json_extract(flow, '$.applicant.id_number') FROM decisions")
    assert len(rows.fetchall()) == 1


def test_a_key_file_readable_by_others_is_refused(log_path, monkeypatch):
    monkeypatch.delenv("LICIT_AUDIT_KEY")
    DecisionLog(log_path).close()
    os.chmod(f"{log_path}.key", 0o644)
    with pytest.raises(AuditError, match="chmod 600"):
        DecisionLog(log_path)


def test_an_existing_log_without_its_key_is_refused_not_given_a_new_key(filled_log, monkeypatch):
    monkeypatch.delenv("LICIT_AUDIT_KEY")
    with pytest.raises(AuditError, match="no audit key"):
        DecisionLog(filled_log)
    assert not os.path.exists(f"{filled_log}.key")


def test_a_missing_directory_is_a_write_error(tmp_path):
    with pytest.raises(AuditWriteError, match="does not exist"):
        DecisionLog(tmp_path / "no" / "such" / "log.db")


def test_a_closed_log_refuses_to_record(log_path):
    log = DecisionLog(log_path)
    log.close()
    with pytest.raises(AuditWriteError, match="closed"):
        log.record(*example_items(1)[0])


def test_lookup_rows_are_derived_from_the_stored_decisions_by_the_time_the_log_is_closed(filled_log):
    conn = raw(filled_log)
    rows = conn.execute("SELECT l.outcome, l.decision_id, d.decision FROM decisions AS d "
                        "JOIN decision_lookups AS l ON l.seq = d.seq").fetchall()
    assert len(rows) == 12
    for outcome, decision_id, decision in rows:
        assert (outcome, decision_id) == (json.loads(decision)["outcome"], json.loads(decision)["decision_id"])
    findings = conn.execute("SELECT count(*) FROM findings").fetchone()[0]
    assert findings == sum(len(json.loads(d)["findings"]) for (_, _, d) in rows)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE decision_lookups SET outcome = 'allow'")


def test_a_version_1_log_is_read_but_not_extended(tmp_path):
    v1 = tmp_path / "v1.db"
    v1.write_bytes((DATA / "v1-log.db").read_bytes())
    with pytest.raises(AuditError, match="schema version 1, which this Licit reads and verifies but does not extend"):
        DecisionLog(v1)
    assert verify_log(v1).ok and verify_log(v1).records == 20


def test_a_symlink_at_the_log_path_is_refused_and_its_target_untouched(tmp_path):
    target = tmp_path / "notes.txt"
    target.write_text("someone's notes\n")
    (tmp_path / "licit-audit.db").symlink_to(target)
    with pytest.raises(AuditWriteError, match="symbolic link"):
        DecisionLog(tmp_path / "licit-audit.db")
    assert target.read_text() == "someone's notes\n"


def test_a_dangling_symlink_at_the_log_path_does_not_create_its_target(tmp_path):
    (tmp_path / "licit-audit.db").symlink_to(tmp_path / "elsewhere.db")
    with pytest.raises(AuditWriteError, match="symbolic link"):
        DecisionLog(tmp_path / "licit-audit.db")
    assert not (tmp_path / "elsewhere.db").exists()


def test_a_bad_key_leaves_no_empty_log_behind(log_path, monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "short")
    with pytest.raises(AuditError, match="too short"):
        DecisionLog(log_path)
    assert list(log_path.parent.iterdir()) == []


def test_a_key_file_planted_by_another_user_is_refused(log_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("needs root, to give the file to another user")
    monkeypatch.delenv("LICIT_AUDIT_KEY")
    DecisionLog(log_path).close()
    key_file = log_path.with_name(log_path.name + ".key")
    os.chown(key_file, 65534, 65534)  # same content and mode 0600: only the owner differs
    with pytest.raises(AuditError, match="belongs to another user"):
        DecisionLog(log_path)


def test_a_symlink_at_the_key_file_is_refused_not_followed(log_path, monkeypatch, tmp_path):
    monkeypatch.delenv("LICIT_AUDIT_KEY")
    elsewhere = tmp_path / "elsewhere.key"
    (log_path.parent / f"{log_path.name}.key").symlink_to(elsewhere)  # dangling: creation must not write through
    with pytest.raises(AuditError, match="symbolic link"):
        DecisionLog(log_path)
    assert not elsewhere.exists() and not log_path.exists()
    elsewhere.write_text("0" * 64 + "\n")
    elsewhere.chmod(0o600)
    with pytest.raises(AuditError, match="symbolic link"):  # nor read through, once it leads to a key
        DecisionLog(log_path)
