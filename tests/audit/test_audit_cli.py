"""`licit audit` as an auditor meets it: every command, good and bad input."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from conftest import assert_one_line_error, drop_triggers, example_flows, raw, run

from audit import AuditError


def test_query_lists_newest_first_as_a_table(filled_log):
    result = run("query", "--db", filled_log)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].split() == ["seq", "decision_id", "evaluated_at", "jurisdiction", "outcome", "rules", "flow_id"]
    assert lines[-1] == "12 decisions"


def test_query_filters_by_rule_and_time_and_outcome(filled_log):
    result = run("query", "--db", filled_log, "--rule", "CN.CTPL.LUMP_SUM", "--since", "2026-11-01", "--format", "json")
    rows = json.loads(result.output)
    assert rows and all("CN.CTPL.LUMP_SUM" in row["rules"] for row in rows)  # a JSON array of rule ids
    times = [row["evaluated_at"] for row in rows]
    assert times == sorted(times, reverse=True)
    denied = json.loads(run("query", "--db", filled_log, "--outcome", "deny", "--format", "json").output)
    allowed = json.loads(run("query", "--db", filled_log, "--outcome", "allow", "--format", "json").output)
    assert {r["outcome"] for r in denied} == {"deny"} and {r["outcome"] for r in allowed} == {"allow"}
    assert len(denied) + len(allowed) < 12  # conditional decisions are neither
    window = json.loads(
        run("query", "--db", filled_log, "--since", "2026-11-05", "--until", "2026-11-06", "--format", "json").output
    )
    assert [r["evaluated_at"][:10] for r in window] == ["2026-11-06", "2026-11-05"]  # whole days, inclusive
    instant = "2026-11-06T02:15:00.000005Z"  # decision 5 exactly
    assert (
        len(
            json.loads(
                run("query", "--db", filled_log, "--since", instant, "--until", instant, "--format", "json").output
            )
        )
        == 1
    )


def test_query_by_flow_jurisdiction_limit_and_csv(filled_log):
    flow_id = example_flows()["student-on-credit"]["flow_id"]
    rows = list(
        csv.DictReader(io.StringIO(run("query", "--db", filled_log, "--flow", flow_id, "--format", "csv").output))
    )
    assert rows and {row["flow_id"] for row in rows} == {flow_id}
    assert run("query", "--db", filled_log, "--jurisdiction", "CN-BJ").output.splitlines()[-1] == "0 decisions"
    assert len(json.loads(run("query", "--db", filled_log, "--limit", 3, "--format", "json").output)) == 3


def test_query_by_applicant_id_finds_the_person(filled_log):
    id_number = example_flows()["apr-not-disclosed"]["applicant"]["id_number"]
    result = run("query", "--db", filled_log, "--applicant-id", id_number, "--limit", 0)
    assert result.output.splitlines()[-1] == "12 decisions"
    assert id_number not in raw(filled_log).execute("SELECT group_concat(flow) FROM decisions").fetchone()[0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--since", "2026-13-45"], "not a valid date"),
        (["--until", "last tuesday"], "is neither a date like 2026-12-01 nor an RFC 3339 timestamp"),
        (["--since", "2026-11-24T10:00:00"], "no UTC offset"),
        (["--since", "2026-11-24T10:00+08:00"], "is neither"),  # without seconds: not RFC 3339
    ],
)
def test_query_with_a_bad_date_is_one_clear_error(filled_log, args, fragment):
    assert_one_line_error(run("query", "--db", filled_log, *args), fragment, exit_code=2)


def test_query_with_a_bad_outcome_is_refused(filled_log):
    result = run("query", "--db", filled_log, "--outcome", "maybe")
    assert result.exit_code == 2 and "Invalid value for '--outcome'" in result.output


def test_a_missing_log_is_one_clear_error(tmp_path):
    for command in (
        ["query"],
        ["stats"],
        ["export"],
        ["verify"],
        ["show", "X"],
        ["checkpoint", "--output", tmp_path / "c.json"],
    ):
        assert_one_line_error(run(*command, "--db", tmp_path / "absent.db"), "no decision log at")


def test_a_file_that_is_not_a_log_is_one_clear_error(tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("hello\n" * 500)
    assert_one_line_error(run("verify", "--db", notes), "is not a Licit decision log")


def test_the_log_path_comes_from_the_environment(filled_log):
    result = run("query", env={"LICIT_AUDIT_DB": str(filled_log)})
    assert result.output.splitlines()[-1] == "12 decisions"


def test_show_prints_findings_citations_digest_and_the_chain_link(filled_log):
    decision_id = json.loads(run("query", "--db", filled_log, "--outcome", "deny", "--format", "json").output)[0][
        "decision_id"
    ]
    text = run("show", "--db", filled_log, decision_id).output
    assert f"decision      {decision_id}" in text
    assert "chain link verified" in text
    assert "《机动车交通事故责任强制保险条例》 第十二条 (verified)" in text
    assert "rule set      sha256:" in text
    record = json.loads(run("show", "--db", filled_log, decision_id, "--format", "json").output)
    assert record["decision"]["outcome"] == "deny" and record["chain_link_verified"] is True


def test_show_reports_a_broken_chain_link(filled_log):
    conn = raw(filled_log)
    drop_triggers(conn)
    conn.execute("UPDATE decisions SET decision = json_set(decision, '$.engine_version', '9.9.9') WHERE seq = 2")
    decision_id = conn.execute("SELECT json_extract(decision, '$.decision_id') FROM decisions WHERE seq = 2").fetchone()[0]
    assert (
        "chain link BROKEN: its stored hash does not match its content"
        in run("show", "--db", filled_log, decision_id).output
    )


def test_show_an_unknown_decision_is_one_clear_error(filled_log):
    assert_one_line_error(run("show", "--db", filled_log, "01NOSUCHDECISION"), "no decision 01NOSUCHDECISION")


def test_stats_counts_outcomes_jurisdictions_days_and_rules(filled_log):
    stats = json.loads(run("stats", "--db", filled_log, "--format", "json").output)
    assert stats["decisions"] == 12 == sum(stats["by_outcome"].values()) == sum(stats["by_day"].values())
    assert stats["by_jurisdiction"] == {"CN-GD-SZ": 12}
    lump_sum = next(r for r in stats["top_rules"] if r["rule_id"] == "CN.CTPL.LUMP_SUM")
    assert lump_sum["deny_share"] == 1.0
    apr = next(r for r in stats["top_rules"] if r["rule_id"] == "CN.CREDIT.APR_DISCLOSURE")
    assert apr["deny_share"] == 0.0
    table = run("stats", "--db", filled_log, "--since", "2026-11-05").output
    assert "in denied decisions" in table and "100.0%" in table


def test_export_jsonl_reproduces_every_record_in_chain_order(filled_log, tmp_path):
    out = tmp_path / "log.jsonl"
    result = run("export", "--db", filled_log, "--format", "jsonl", "--output", out)
    assert result.exit_code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["ruleset"] + ["decision"] * 12  # rule sets first
    records = lines[1:]
    assert [r["seq"] for r in records] == list(range(1, 13))
    assert all(records[i]["prev_hash"] == records[i - 1]["hash"] for i in range(1, 12))
    assert records[0]["flow"]["applicant"]["name"].startswith("hmac-sha256:")


def test_export_csv_has_a_row_per_record(filled_log):
    rows = list(csv.DictReader(io.StringIO(run("export", "--db", filled_log, "--format", "csv").output)))
    assert len(rows) == 12 and rows[0]["seq"] == "1" and rows[0]["hash"]


def test_export_to_a_missing_directory_is_one_clear_error(filled_log, tmp_path):
    result = run("export", "--db", filled_log, "--output", tmp_path / "no" / "out.jsonl")
    assert_one_line_error(result, "cannot write export")
    assert not (tmp_path / "no").exists()


def test_verify_exits_0_when_intact_and_1_naming_the_first_damage(filled_log):
    ok = run("verify", "--db", filled_log)
    assert ok.exit_code == 0 and ok.output.startswith("intact: 12 records, head seq 12")
    conn = raw(filled_log)
    drop_triggers(conn)
    conn.execute("DELETE FROM decisions WHERE seq = 6")
    broken = run("verify", "--db", filled_log)
    assert broken.exit_code == 1
    assert broken.output.startswith("BROKEN at seq 6: record missing")
    assert "(5 records verified before it)" in broken.output


def test_verify_does_not_say_records_precede_a_problem_beside_a_whole_chain(filled_log):
    conn = raw(filled_log)
    drop_triggers(conn)
    conn.execute("UPDATE rulesets SET files = replace(files, 'deny', 'warn')")
    broken = run("verify", "--db", filled_log)
    assert broken.output.startswith("BROKEN at seq 1: rule set changed")
    assert "(the hash chain verified 12 of 12 records)" in broken.output


def test_checkpoint_then_verify_against_it(filled_log, tmp_path):
    checkpoint = tmp_path / "head.json"
    result = run("checkpoint", "--db", filled_log, "--output", checkpoint)
    assert result.exit_code == 0
    head = json.loads(checkpoint.read_text())
    assert head["seq"] == 12 and len(head["ruleset_digests"]) == 1 and head["recorded_at"]
    assert run("verify", "--db", filled_log, "--checkpoint", checkpoint).exit_code == 0
    conn = raw(filled_log)
    drop_triggers(conn)
    for table in ("decisions", "findings", "obligations"):
        conn.execute(f"DELETE FROM {table} WHERE seq = 12")
    conn.execute("UPDATE sqlite_sequence SET seq = 11")
    broken = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert broken.exit_code == 1 and broken.output.startswith("BROKEN at seq 12: record missing")


def test_checkpoint_of_a_damaged_log_is_refused(filled_log, tmp_path):
    conn = raw(filled_log)
    drop_triggers(conn)
    conn.execute("DELETE FROM decisions WHERE seq = 3")
    assert_one_line_error(run("checkpoint", "--db", filled_log, "--output", tmp_path / "c.json"), "damaged log")
    assert not (tmp_path / "c.json").exists()


def test_verify_with_a_file_that_is_not_a_checkpoint_is_one_clear_error(filled_log, tmp_path):
    bogus = tmp_path / "head.json"
    bogus.write_text('{"seq": "twelve"}')
    assert_one_line_error(
        run("verify", "--db", filled_log, "--checkpoint", bogus), "is not a Licit decision log checkpoint", exit_code=2
    )


def test_seed_writes_a_varied_valid_log_and_refuses_an_existing_file(tmp_path):
    path = tmp_path / "seeded.db"
    result = run("seed", "--db", path, "--n", 300, "--seed", 1)
    assert result.exit_code == 0 and "head seq 300" in result.output
    assert run("verify", "--db", path).exit_code == 0
    stats = json.loads(run("stats", "--db", path, "--format", "json").output)
    assert set(stats["by_outcome"]) == {"deny", "review", "conditional", "allow"}
    assert set(stats["by_jurisdiction"]) == {"CN", "CN-BJ", "CN-GD", "CN-GD-SZ", "CN-SH"}
    assert len(stats["by_day"]) > 200  # spread over a year
    ids = [row[0] for row in raw(path).execute("SELECT json_extract(decision, '$.decision_id') FROM decisions ORDER BY seq")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", decision_id) for decision_id in ids)  # as the engine makes them
    assert_one_line_error(run("seed", "--db", path, "--n", 5), "already exists", exit_code=2)


def test_seed_needs_a_positive_count(tmp_path):
    result = run("seed", "--db", tmp_path / "s.db", "--n", 0)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_library_errors_are_audit_errors_not_tracebacks(tmp_path):
    with pytest.raises(AuditError):
        from audit import find_decisions

        find_decisions(tmp_path / "absent.db")
