"""The licit command as people use it: decisions they can read, errors they can act on, no tracebacks."""
import json

import pytest

from tests.conftest import EXAMPLES, PACKS, REPO, rule_yaml


def assert_clean_failure(result, code: int):
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output


def test_evaluate_prints_the_contract_decision(run):
    result = run("evaluate", "--no-audit", "--rules", PACKS, EXAMPLES / "platform-collects-premium.json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["outcome"] == "deny"
    assert {finding["rule_id"] for finding in decision["findings"]} == {"CN.PLATFORM.UNLICENSED_SALES",
                                                                         "CN.PREMIUM.PAYEE"}
    assert decision["ruleset"]["digest"].startswith("sha256:")


def test_text_format_explains_findings_citations_remedies_and_obligations(run):
    result = run("evaluate", "--no-audit", "--format", "text", EXAMPLES / "apr-not-disclosed.json")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("CONDITIONAL")
    for expected in ("CN.CREDIT.APR_DISCLOSURE", "Source:", "Remedy:", "Obligations", "disclose_annualized_rate"):
        assert expected in result.output


def test_json_lines_on_stdin_and_several_files(run):
    lines = "\n".join(json.dumps(json.loads((EXAMPLES / f"{name}.json").read_text())) for name in
                      ("student-on-credit", "baitiao-split-compliant"))
    result = run("evaluate", "--no-audit", "-", stdin=lines + "\n")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["outcome"] for line in result.output.splitlines()] == ["deny", "allow"]


def test_as_of_selects_the_rules_in_force(run, tmp_path):
    flow = json.loads((EXAMPLES / "baitiao-split-compliant.json").read_text())
    flow["products"][1]["pre_selected"] = True
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    assert json.loads(run("evaluate", "--no-audit", path).output)["outcome"] == "deny"
    earlier = run("evaluate", "--no-audit", "--as-of", "2023-01-01T00:00:00+08:00", path)
    assert json.loads(earlier.output)["outcome"] == "allow"
    day = run("evaluate", "--no-audit", "--as-of", "2023-01-01", path)  # a local day: its noon in Beijing
    assert json.loads(day.output)["as_of"] == "2023-01-01T12:00:00+08:00"
    no_seconds = run("evaluate", "--no-audit", "--as-of", "2023-01-01T00:00+08:00", path)
    assert_clean_failure(no_seconds, 2)
    assert "'2023-01-01T00:00+08:00' is neither a date like 2026-12-01 nor an RFC 3339 timestamp" in no_seconds.output


def test_audit_db_and_no_audit_together_is_a_usage_error(run, tmp_path):
    result = run("evaluate", "--no-audit", "--audit-db", tmp_path / "x.db", EXAMPLES / "student-on-credit.json")
    assert_clean_failure(result, 2)
    assert "--audit-db and --no-audit exclude each other" in result.output
    assert "outcome" not in result.output and not (tmp_path / "x.db").exists()


def test_a_failure_partway_stops_the_batch_after_the_flows_already_decided(run, tmp_path, monkeypatch):
    """docs/guarantees.md: exit 1 — the flows before the failing one were decided and printed, none after it."""
    from engine.core import Engine
    from engine.errors import EngineError

    decide = Engine.facts

    def fail_on_second(engine, model, *rules):
        if model.flow_id == "second":
            raise EngineError("simulated failure")
        return decide(engine, model, *rules)
    monkeypatch.setattr(Engine, "facts", fail_on_second)
    flow = json.loads((EXAMPLES / "student-on-credit.json").read_text())
    lines = [json.dumps(dict(flow, flow_id=flow_id)) for flow_id in ("first", "second", "third")]
    result = run("evaluate", "--no-audit", "-", stdin="\n".join(lines) + "\n")
    assert_clean_failure(result, 1)
    assert "<stdin>:2: simulated failure" in result.output
    assert [json.loads(line)["flow_id"] for line in result.output.splitlines() if line.startswith("{")] == ["first"]


def test_an_id_number_in_a_flow_id_is_bad_input_and_the_batch_goes_on(run, tmp_path):
    """It used to reach the decision log, which refused it: exit 1, and the flows after it were not decided."""
    flow = json.loads((EXAMPLES / "student-on-credit.json").read_text())
    flow_ids = ["first", "F-" + flow["applicant"]["id_number"], "third"]
    lines = [json.dumps(dict(flow, flow_id=flow_id)) for flow_id in flow_ids]
    result = run("evaluate", "--audit-db", tmp_path / "log.db", "-", stdin="\n".join(lines) + "\n")
    assert_clean_failure(result, 2)
    assert "licit: error: invalid flow: <stdin>:2: flow_id: contains the applicant's id_number" in result.stderr
    assert [json.loads(line)["flow_id"] for line in result.output.splitlines() if line.startswith("{")] == [
        "first", "third"]


def test_stdin_and_output_are_utf8_whatever_the_locale(tmp_path):
    """Under LANG=C or PYTHONIOENCODING=latin-1, stdin was decoded with the locale (garbling
    中文 flow ids, which were then logged) and printing a decision crashed."""
    import os
    import subprocess
    import sys

    flow = json.loads((EXAMPLES / "apr-not-disclosed.json").read_text(encoding="utf-8"))
    flow["flow_id"] = "流程-0001"
    stdin = json.dumps(flow, ensure_ascii=False).encode("utf-8") + b"\n" + b'{"flow_id": "\xe9"}\n'
    env = dict(os.environ, PYTHONIOENCODING="latin-1", LANG="C", LC_ALL="C", PYTHONPATH=str(REPO))
    for output_format in ("json", "text"):
        result = subprocess.run([sys.executable, "-m", "engine.cli", "evaluate", "-", "--no-audit", "--rules", PACKS,
                                 "--format", output_format], input=stdin, capture_output=True, env=env,
                                cwd=tmp_path, timeout=120)
        stdout, stderr = result.stdout.decode("utf-8"), result.stderr.decode("utf-8")
        assert result.returncode == 2 and "Traceback" not in stderr, stderr
        assert "流程-0001" in stdout and "CONDITIONAL" in stdout.upper()
        assert "cannot read <stdin>:2: 'utf-8' codec can't decode byte 0xe9" in stderr


@pytest.mark.parametrize("content, fragment", [
    ("not json at all", "not JSON"),
    ("[]", "JSON object"),
    ('{"flow_id": "x"}', "requested_at: required field is missing"),
    ("[" * 50000 + "]" * 50000, "nested too deeply"),
])
def test_malformed_input_is_one_clear_error_with_exit_2(run, tmp_path, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    result = run("evaluate", "--no-audit", path)
    assert_clean_failure(result, 2)
    assert fragment in result.output
    assert "outcome" not in result.output


def test_a_bad_flow_among_good_ones_still_exits_2_and_prints_only_valid_decisions(run, tmp_path):
    flow = json.loads((EXAMPLES / "student-on-credit.json").read_text())
    flow["jurisdiction"] = "CN-ZJ"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(flow))
    result = run("evaluate", "--no-audit", EXAMPLES / "student-on-credit.json", bad, tmp_path / "missing.json")
    assert_clean_failure(result, 2)
    assert "no rule pack for 'CN-ZJ'" in result.output
    assert "cannot read" in result.output and "missing.json" in result.output
    assert sum(1 for line in result.output.splitlines() if line.startswith("{")) == 1


def test_rules_validate_points_at_the_typo(run, write_tree):
    root = write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "applicant.agee < 18")})
    result = run("rules", "validate", root)
    assert_clean_failure(result, 1)
    assert "a.yaml:5:21: unknown_field: Applicant has no field 'agee' (did you mean 'age'?)" in result.output


def test_rules_validate_summarises_the_shipped_packs(run):
    result = run("rules", "validate", PACKS)
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "5 jurisdictions" in result.output


def test_rules_list_shows_origin_replacement_and_exception(run):
    shanghai = run("rules", "list", "--jurisdiction", "CN-SH", "--as-of", "2026-11-24", "--rules", PACKS)
    assert shanghai.exit_code == 0, shanghai.output
    assert "CN-SH.CREDIT.APR_CAP" in shanghai.output and "replaces CN.CREDIT.APR_REVIEW" in shanghai.output
    assert "inherited from CN" in shanghai.output
    beijing = run("rules", "list", "-j", "CN-BJ", "--as-of", "2026-11-24", "--rules", PACKS)
    assert "except when channel.pilot_id in params.approved_pilots" in beijing.output
    before = run("rules", "list", "-j", "CN-SH", "--as-of", "2021-12-31", "--rules", PACKS)
    assert "CN.CREDIT.APR_REVIEW" in before.output and "CN-SH.CREDIT.APR_CAP" not in before.output
    assert_clean_failure(run("rules", "list", "-j", "CN-XX", "--rules", PACKS), 2)
    assert_clean_failure(run("rules", "list", "-j", "CN", "--as-of", "yesterday", "--rules", PACKS), 2)


@pytest.mark.parametrize("what, key", [("flow", "properties"), ("decision", "properties"), ("rules", "$defs")])
def test_schemas_are_json_schema(run, what, key):
    result = run("schema", what)
    assert result.exit_code == 0
    assert key in json.loads(result.output)


def test_flow_schema_uses_contract_names(run):
    schema = json.loads(run("schema", "flow").output)
    assert set(schema["properties"]) >= {"flow_id", "requested_at", "jurisdiction", "payments", "data_sharing"}
    assert "from" in schema["$defs"]["DataSharing"]["properties"]
    assert schema["additionalProperties"] is False


def test_bench_reports_throughput_and_percentiles(run):
    result = run("bench", "--n", "200", "--rules", PACKS)
    assert result.exit_code == 0, result.output
    for expected in ("evaluations/s", "p50", "p99", "match (", "validation"):
        assert expected in result.output


def test_a_rule_set_that_does_not_load_is_refused_with_every_error(run, write_tree, tmp_path):
    root = write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "applicant.agee < 18")
                       + rule_yaml("CN.X.TWO", 'vehicle.usage == "taxi"')})
    result = run("evaluate", "--no-audit", "--rules", root, EXAMPLES / "student-on-credit.json")
    assert_clean_failure(result, 1)
    assert "2 errors" in result.output and "unknown_field" in result.output and "invalid_enum_value" in result.output


def test_the_auditors_commands_start_without_loading_the_rule_language_or_durable_rules():
    """`licit audit query` answers in well under 100 ms on a million records only if
    starting the command does not import the rule loader, pydantic models and durable_rules."""
    import subprocess
    import sys
    from pathlib import Path

    # nor verify and its thread pool: importing all of `audit` made `licit audit query` 35 ms slower
    probe = ("import sys; from engine.cli import cli; "
             "print(sorted(m for m in ('rules.loader', 'engine.core', 'durable_rules_engine', 'pydantic', "
             "'audit.verify', 'concurrent.futures', 'rich') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert loaded == "[]"


def test_a_second_stop_request_does_not_interrupt_the_cleanup_the_first_began():
    import os
    import signal

    from engine.cli.errors import stopping_unwinds

    before = signal.getsignal(signal.SIGTERM)
    during_cleanup = []
    with pytest.raises(SystemExit) as stopped:
        with stopping_unwinds():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                signal.pause()  # not reached: the handler raises as soon as kill returns
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # a service manager asking again, mid-cleanup
                during_cleanup.append(signal.getsignal(signal.SIGHUP))
    assert stopped.value.code == 128 + signal.SIGTERM and during_cleanup == [signal.SIG_IGN]
    assert signal.getsignal(signal.SIGTERM) == before
