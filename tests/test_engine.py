"""The engine as the enrollment service meets it: contract examples, strict input, fail-closed, threads."""
import copy
import datetime as dt
import json
import threading

import pytest

from engine import Engine, EngineError, FlowValidationError, evaluate
from rules import RuleSetError
from tests.conftest import EXAMPLES, PACKS, example

EXPECTED = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_contract_examples(shipped_engine, name):
    decision = shipped_engine.evaluate(example(name))
    assert decision.outcome == EXPECTED[name]["outcome"]
    assert sorted(finding.rule_id for finding in decision.findings) == sorted(EXPECTED[name]["rule_ids"])
    assert decision.jurisdiction_chain == ["CN", "CN-GD", "CN-GD-SZ"]
    assert decision.ruleset.digest.startswith("sha256:")
    for finding in decision.findings:
        assert finding.citation.source and finding.remedy and finding.message.zh and finding.message.en


def test_conditional_decision_carries_its_obligation(shipped_engine):
    decision = shipped_engine.evaluate(example("apr-not-disclosed"))
    assert [(o.rule_id, o.action) for o in decision.obligations] == [
        ("CN.CREDIT.APR_DISCLOSURE", "disclose_annualized_rate")]


def test_accepts_dict_json_text_and_model(shipped_engine):
    flow = example("student-on-credit")
    from engine import Flow

    outcomes = {shipped_engine.evaluate(form).outcome
                for form in (flow, json.dumps(flow), json.dumps(flow).encode(), Flow.model_validate(flow))}
    assert outcomes == {"deny"}


def test_findings_are_ordered_by_strength_then_id(shipped_engine):
    flow = example("platform-collects-premium")
    flow["payments"][1]["apr_disclosed"] = False
    flow["applicant"]["is_student"] = True
    decision = shipped_engine.evaluate(flow)
    effects = [finding.effect for finding in decision.findings]
    assert effects == sorted(effects, key=["deny", "review", "require", "warn"].index)
    assert decision.outcome == "deny"
    assert "CN.CREDIT.APR_DISCLOSURE" in [finding.rule_id for finding in decision.findings]


def test_rules_are_selected_for_requested_at_and_as_of(shipped_engine):
    flow = example("baitiao-split-compliant")
    flow["products"][1]["pre_selected"] = True  # in force from 2024-03-01
    assert shipped_engine.evaluate(flow).outcome == "deny"
    flow["requested_at"] = "2024-02-29T23:59:00+08:00"
    assert shipped_engine.evaluate(flow).outcome == "allow"
    # local (Beijing) time decides the day: 16:00 UTC on 29 Feb is already 1 March in China
    flow["requested_at"] = "2024-02-29T16:00:00+00:00"
    assert shipped_engine.evaluate(flow).outcome == "deny"
    import datetime as dt
    decision = shipped_engine.evaluate(flow, as_of=dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc))
    assert decision.outcome == "allow" and decision.as_of.startswith("2023-01-01")


def field_errors(flow) -> list[str]:
    with pytest.raises(FlowValidationError) as caught:
        Engine.evaluate(ENGINE, flow)
    return [str(error) for error in caught.value.errors]


ENGINE = None


@pytest.fixture(autouse=True)
def _engine(shipped_engine):
    global ENGINE
    ENGINE = shipped_engine


def mutate(change):
    flow = copy.deepcopy(example("baitiao-split-compliant"))
    change(flow)
    return flow


@pytest.mark.parametrize("change, path, fragment", [
    (lambda f: f.update(flw_id="x"), "flw_id", "unknown field"),
    (lambda f: f["applicant"].update(agee=3), "applicant.agee", "did you mean 'age'"),
    (lambda f: f.pop("policy_issuance"), "policy_issuance", "required"),
    (lambda f: f["applicant"].update(age="36"), "applicant.age", "integer"),
    (lambda f: f["applicant"].update(is_student=1), "applicant.is_student", "boolean"),
    (lambda f: f["products"][0].update(premium=-1), "products[0].premium", "greater than 0"),
    (lambda f: f["products"][0].update(premium=1e300), "products[0].premium", "less than or equal"),
    (lambda f: f["products"][1].update(kind="ctpl"), "products", "once"),
    (lambda f: f["payments"][0].update(covers=["ctpl", "commercial"]), "payments", "covered by payments 0, 1"),
    (lambda f: f["payments"].pop(), "payments", "commercial product is covered by no payment"),
    (lambda f: (f["products"].pop(), None), "payments", "not a product of this flow"),
    (lambda f: f.update(requested_at="2026-11-24T10:15:00"), "requested_at", "no UTC offset"),
    (lambda f: f.update(requested_at="2026-11-24"), "requested_at", "RFC 3339"),
    (lambda f: f.update(requested_at=1700000000), "requested_at", "RFC 3339"),
    (lambda f: f.update(requested_at="1900-01-01T00:00:00+08:00"), "requested_at", "outside 2000"),
    (lambda f: f["vehicle"].update(usage="taxi"), "vehicle.usage", "'taxi'"),
    (lambda f: f.update(jurisdiction="CN-ZJ"), "jurisdiction", "no rule pack for 'CN-ZJ'"),
    (lambda f: f.update(jurisdiction="china"), "jurisdiction", "pattern"),
    (lambda f: f["payments"][1].update(apr=float("nan")), "payments[1].apr", "finite"),
    (lambda f: f["payments"][1].update(apr=5e-324), "payments[1].apr", "decimal places"),
    (lambda f: f["products"][0].update(premium=950.001), "products[0].premium", "decimal places"),
    (lambda f: f["data_sharing"][0].update(frm="platform"), "data_sharing[0].frm", "unknown field"),
])
def test_invalid_flows_are_rejected_with_the_field_path(change, path, fragment):
    found = field_errors(mutate(change))
    assert any(line.startswith(path + ":") and fragment in line for line in found), found


@pytest.mark.parametrize("text, fragment", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a": ' * 5000 + "1" + "}" * 5000, "nested too deeply"),
    ("1" * 5000, "(flow): a number of 5000 digits is out of range"),
    (b'{"flow_id": "\xff"}', "not acceptable JSON: 'utf-8' codec can't decode"),
])
def test_malformed_documents_are_one_clear_error(text, fragment):
    found = field_errors(text)
    assert any(fragment in line for line in found), found


def test_every_field_error_is_reported_at_once():
    def several(flow):
        flow["applicant"]["age"] = -1
        flow["vehicle"]["usage"] = "taxi"
        flow["extra"] = True
    paths = {line.split(":")[0] for line in field_errors(mutate(several))}
    assert {"applicant.age", "vehicle.usage", "extra"} <= paths


def test_a_broken_rule_set_is_refused_whole(write_tree):
    good = (PACKS / "CN" / "premium.yaml").read_text(encoding="utf-8")
    root = write_tree({"CN/premium.yaml": good, "CN/broken.yaml": "rules:\n  - id: CN.BROKEN\n    title: x\n"})
    with pytest.raises(RuleSetError) as caught:
        Engine(rules_dir=root)
    assert all(error.file.endswith("broken.yaml") for error in caught.value.errors)


def test_a_durable_failure_never_comes_out_as_allow(monkeypatch):
    from engine.matching import available_matchers

    if "durable" not in available_matchers():
        pytest.skip("durable_rules does not import here")
    from engine import durable

    engine = Engine(rules_dir=PACKS, matcher="durable", max_request_age=None)

    def fail(self, fact_json, day):
        raise durable.DurableError("simulated failure")
    monkeypatch.setattr(durable.DurableRuleset, "matches", fail)
    with pytest.raises(EngineError, match="simulated failure"):
        engine.evaluate(example("baitiao-split-compliant"))


def test_sessions_are_freed_after_many_evaluations(shipped_engine):
    # durable_rules raises MemoryError after 1,024 live sessions if they are not deleted
    flow = example("apr-not-disclosed")
    for _ in range(3000):
        decision = shipped_engine.evaluate(flow)
    assert decision.outcome == "conditional"


def test_one_engine_is_safe_to_share_between_threads(shipped_engine):
    names = sorted(EXPECTED)
    flows = [example(name) for name in names]
    expected = [shipped_engine.evaluate(flow).outcome for flow in flows]
    results, errors = [], []

    def worker():
        try:
            for round_number in range(150):
                index = round_number % len(flows)
                results.append((index, shipped_engine.evaluate(flows[index]).outcome))
        except Exception as error:  # collected and asserted below
            errors.append(error)
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(results) == 8 * 150
    assert all(outcome == expected[index] for index, outcome in results)


def test_decision_ids_sort_in_the_order_they_were_made(monkeypatch):
    """Contract: "unique, sortable by time" — also within one millisecond, and across threads."""
    import types

    from engine import decision

    made = [decision.new_decision_id() for _ in range(20_000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert all(len(value) == 32 and int(value, 16) >= 0 for value in made)

    clock = iter([1_800_000_000_000_000_000] * 100 + [1_799_999_999_000_000_000] * 100)  # stands still, steps back
    monkeypatch.setattr(decision, "time", types.SimpleNamespace(time_ns=lambda: next(clock)))
    same_millisecond = [decision.new_decision_id() for _ in range(200)]
    assert same_millisecond == sorted(same_millisecond) and same_millisecond[0] > made[-1]
    assert len({value[:12] for value in same_millisecond}) == 1  # still the millisecond of the first

    monkeypatch.setattr(decision, "time", types.SimpleNamespace(time_ns=lambda: 1_800_000_000_000_000_000))
    per_thread = [[] for _ in range(4)]

    def make(ids):
        ids += [decision.new_decision_id() for _ in range(5000)]
    threads = [threading.Thread(target=make, args=(ids,)) for ids in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(ids == sorted(ids) for ids in per_thread)
    assert len({value for ids in per_thread for value in ids}) == 4 * 5000


def test_an_engine_stamps_decisions_with_its_clock_and_refuses_a_reading_without_an_offset():
    """Engine(clock=...) (docs/python-api.md): the instant a decision is made at; a naive datetime would be
    taken as this machine's local time, silently, so it fails the evaluation instead."""
    readings = iter([dt.datetime(2026, 3, 1, 12, 0, 0, 250_000, tzinfo=dt.timezone(dt.timedelta(hours=8))),
                     dt.datetime(2026, 3, 1, 12, 0, 0), "2026-03-01T12:00:00Z"])
    engine = Engine(rules_dir=PACKS, clock=lambda: next(readings), max_request_age=None)
    assert engine.evaluate(example("student-on-credit")).evaluated_at == "2026-03-01T04:00:00.250000Z"
    for _ in range(2):
        with pytest.raises(EngineError, match="the engine's clock must give a datetime with a UTC offset"):
            engine.evaluate(example("student-on-credit"))


@pytest.mark.parametrize("log_env", [None, "elsewhere.db"])
def test_module_level_evaluate_uses_licit_rules_and_logs_like_the_cli(monkeypatch, tmp_path, log_env):
    import engine
    from audit import get_decision

    monkeypatch.setenv("LICIT_RULES", str(PACKS))
    if log_env:
        monkeypatch.setenv("LICIT_AUDIT_DB", str(tmp_path / log_env))
    else:
        monkeypatch.delenv("LICIT_AUDIT_DB", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(engine, "_default", None)
    try:  # the default engine is a service's: it decides a flow when it is requested
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        decision = evaluate(dict(example("student-on-credit"), requested_at=now))
        assert decision.outcome == "deny"
        assert engine.default_engine().rules_dir == PACKS
    finally:
        engine.default_engine().close()
    assert get_decision(tmp_path / (log_env or "licit-audit.db"), decision.decision_id)["decision"]["outcome"] == "deny"


def test_shipped_packs_are_found_from_any_folder(monkeypatch, tmp_path):
    from engine.core import default_rules_dir
    from jurisdictions import PACKS_DIR

    monkeypatch.delenv("LICIT_RULES", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_rules_dir() == PACKS_DIR


@pytest.mark.parametrize("when", ["2005-01-01T12:00:00+08:00", "2006-06-30T23:59:59+08:00"])
def test_a_flow_dated_before_any_rule_is_in_force_is_not_decided(shipped_engine, when):
    # With no rule in force nothing could fire: deciding would be a silent allow.
    flow = dict(example("platform-collects-premium"), requested_at=when)
    with pytest.raises(FlowValidationError, match=r"^requested_at: no rule of CN-GD-SZ .* in force on 200\d-\d\d-\d\d, "
                       r".*first rules take effect on 2006-07-01$"):
        shipped_engine.evaluate(flow)
    with pytest.raises(FlowValidationError, match=r"^as_of: no rule of CN-GD-SZ"):
        shipped_engine.evaluate(example("platform-collects-premium"), as_of=dt.datetime.fromisoformat(when))
    assert shipped_engine.evaluate(dict(flow, requested_at="2006-07-01T00:00:00+08:00")).outcome in {
        "allow", "conditional", "review", "deny"}


def test_one_except_licit_error_catches_every_error_licit_raises_on_purpose():
    from audit import AuditError, AuditWriteError
    from engine import LicitError

    for error in (AuditError, AuditWriteError, RuleSetError, FlowValidationError, EngineError):
        assert issubclass(error, LicitError), error


class _Kept(list):
    """A sink of the enrollment service's own, as docs/python-api.md describes one."""

    closed = False

    def record(self, decision, flow, ruleset, duration_s):
        self.append((decision, flow, ruleset, duration_s))

    def close(self):
        self.closed = True


def test_a_sink_of_ones_own_gets_each_decision_its_flow_and_rule_set_before_evaluate_returns():
    kept = _Kept()
    with Engine(PACKS, sink=kept, max_request_age=None) as engine:
        flow = example("baitiao-ctpl-premium-installments")
        decision = engine.evaluate(flow)
        [(logged, logged_flow, ruleset, duration_s)] = kept
    assert logged == decision.model_dump(mode="json") and logged_flow["flow_id"] == flow["flow_id"]
    assert ruleset["digest"] == decision.ruleset.digest and ruleset["jurisdiction_chain"] == decision.jurisdiction_chain
    assert ruleset["files"] and duration_s >= 0
    assert kept.closed


def test_decide_hands_nothing_to_the_sink_and_gives_what_it_would_record():
    kept = _Kept()
    engine = Engine(PACKS, sink=kept, max_request_age=None)
    flow = example("baitiao-ctpl-premium-installments")
    decided = engine.decide(flow)
    assert kept == []
    engine.evaluate(flow)
    [(logged, logged_flow, ruleset, _)] = kept
    decision, decided_flow, decided_ruleset, duration_s = decided.sink_arguments()
    assert decided.decision.outcome == logged["outcome"] == "deny"
    assert {**decision, "decision_id": "", "evaluated_at": ""} == {**logged, "decision_id": "", "evaluated_at": ""}
    assert decided_flow == logged_flow and decided_ruleset == ruleset and duration_s >= 0


def test_a_sink_that_cannot_store_a_decision_keeps_it_from_the_caller():
    class Full(_Kept):
        def record(self, *item):
            raise OSError(28, "No space left on device")

    engine = Engine(PACKS, sink=Full(), max_request_age=None)
    with pytest.raises(OSError, match="No space"):
        engine.evaluate(example("baitiao-ctpl-premium-installments"))


def test_an_engine_given_both_a_log_and_a_sink_is_refused(tmp_path):
    with pytest.raises(EngineError, match="audit_db or sink, not both"):
        Engine(PACKS, audit_db=tmp_path / "log.db", sink=_Kept())
    assert not (tmp_path / "log.db").exists()
