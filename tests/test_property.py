"""durable_rules agrees with the plain-Python evaluation of the same compiled conditions."""
import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from engine import Engine
from engine.durable import to_json
from engine.facts import flow_facts
from engine.inputs import parse_flow
from rules import evaluate_condition
from tests.conftest import rule_yaml
from tests.strategies import flows

# conditions that exercise every construct of the language and every compilation path
CONSTRUCTS = {
    "CN.T.EVERY_CONSENT": 'every d in data_sharing satisfies d.consent.obtained and "identity" not in d.categories',
    "CN.T.LIFTED": "not (some p in payments satisfies p.premium_installments > 1 and applicant.age < 30)",
    "CN.T.FACT_VS_FACT": 'product("commercial").premium > product("ctpl").premium',
    "CN.T.FACT_VS_ARITH": 'product("ctpl").premium > applicant.age * 10 + 5',
    "CN.T.NOT_FACT_VS_ARITH": 'not (product("ctpl").premium <= applicant.age * 10)',
    "CN.T.NULLS": 'some p in payments satisfies p.apr == null or p.apr > params.cap',
    "CN.T.NOT_NULLABLE": 'not (payment_for("ctpl").apr < params.cap - 0.1)',
    "CN.T.USAGE": "vehicle.usage != vehicle.declared_usage or province(jurisdiction) == province(insurer.branch_jurisdiction)",
    "CN.T.NESTED": 'some p in payments satisfies every c in p.covers satisfies c == "ctpl"',
    "CN.T.NESTED_NOT": 'some d in data_sharing satisfies not ("credit_history" in d.categories)',
    "CN.T.COUNT": "count(payments) > 1 and count(data_sharing) == 0",
    "CN.T.EVERY_EMPTY": 'every d in data_sharing satisfies d.consent.separate',
    "CN.T.PARAM_LIST": "channel.pilot_id not in params.pilots",
    "CN.T.INNER_FACT_LIST": 'some p in payments satisfies (p.apr > 0.2 and "credit_provision" in channel.platform_activities)',
    "CN.T.DIVISION": 'product("commercial").pricing_factor > params.cap / 4',
    "CN.T.NOT_EVERY": 'not (every p in payments satisfies p.payee == "insurer_account" or p.settlement == "t_plus_1")',
    "CN.T.BOOL_NOT": "not applicant.real_name_verified and not vehicle.new_energy",
    "CN.T.NO_COMMERCIAL": 'product("commercial") == null',
    "CN.T.COMMERCIAL_PAID": 'payment_for("commercial") != null',
    "CN.T.DATE": 'product("ctpl").start_date >= date("2026-12-01") and has_product("ctpl")',
}


@pytest.fixture(scope="module")
def construct_engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("constructs")
    (root / "CN").mkdir()
    rules = "".join(rule_yaml(rule_id, json.dumps(when), start="2005-01-01") for rule_id, when in CONSTRUCTS.items())
    (root / "CN" / "constructs.yaml").write_text(
        "parameters:\n  cap: {type: number, values: [{from: 2005-01-01, value: 0.3}]}\n"
        "  pilots: {type: 'list[string]', values: [{from: 2005-01-01, value: [OTHER]}]}\n"
        "rules:\n" + rules, encoding="utf-8")
    engine = Engine(rules_dir=root, max_request_age=None)
    yield engine
    engine.close()


def disagreements(engine: Engine, flow: dict) -> list[str]:
    model = parse_flow(flow)
    facts = flow_facts(model)
    fact_json = to_json(facts)
    found = []
    for code, compiled in engine.tree.compiled.items():
        index = compiled.segment_index(compiled.local_date(model.requested_at))
        by_durable = {finding.rule_id for finding in engine._segments[code][index].fired(fact_json)}
        by_python = {effective.rule.id for effective in compiled.segments[index].rules
                     if evaluate_condition(effective.condition, facts)}
        if by_durable != by_python:
            found.append(f"{code}: durable {sorted(by_durable - by_python)} python {sorted(by_python - by_durable)}")
    return found


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows())
def test_shipped_packs_agree(shipped_engine, flow):
    assert disagreements(shipped_engine, flow) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows())
def test_every_construct_agrees(construct_engine, flow):
    assert disagreements(construct_engine, flow) == []


def test_constructs_fire_and_do_not_fire(construct_engine):
    """Guard against a vacuous agreement: over a sample, every construct both fires and does not."""
    from hypothesis import find

    for rule_id in CONSTRUCTS:
        for wanted in (True, False):
            def fires(flow, rule_id=rule_id):
                flow["jurisdiction"] = "CN"
                decision = construct_engine.evaluate(flow)
                return (rule_id in {finding.rule_id for finding in decision.findings}) == wanted
            # existence is what matters here: skip shrinking the witness
            find(flows(), fires, settings=settings(max_examples=2000, database=None, phases=[Phase.generate]))
