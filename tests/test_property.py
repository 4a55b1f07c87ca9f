"""Differential tests: both matchers decide random valid flows identically, and as the plain-Python
evaluation of the lowered conditions (rules.ir.evaluate, the reference) says.

Where durable_rules cannot be imported (Python 3.13), the built-in matcher is still checked against
the reference."""
import json

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from engine import Engine
from engine.errors import LicitError
from engine.facts import flow_facts
from engine.inputs import parse_flow
from engine.matching import available_matchers
from rules import evaluate_condition
from tests.conftest import PACKS, rule_yaml
from tests.strategies import flows

MATCHERS = available_matchers()

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
def construct_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("constructs")
    (root / "CN").mkdir()
    rules = "".join(rule_yaml(rule_id, json.dumps(when), start="2005-01-01") for rule_id, when in CONSTRUCTS.items())
    (root / "CN" / "constructs.yaml").write_text(
        "parameters:\n  cap: {type: number, values: [{from: 2005-01-01, value: 0.3}, {from: 2024-01-01, value: 0.25}]}\n"
        "  pilots: {type: 'list[string]', values: [{from: 2005-01-01, value: [OTHER]}]}\n"
        "rules:\n" + rules, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def construct_engine(construct_tree):
    """An engine on the every-construct tree, with the default matcher (the solver's tests use it too)."""
    with Engine(rules_dir=construct_tree, max_request_age=None) as engine:
        yield engine


@pytest.fixture(scope="module")
def construct_engines(construct_tree):
    engines = [Engine(rules_dir=construct_tree, matcher=name, max_request_age=None) for name in MATCHERS]
    yield engines
    for engine in engines:
        engine.close()


@pytest.fixture(scope="module")
def synthetic_engines(tmp_path_factory):
    """Hundreds of rules in one jurisdiction, dated apart: the Python matcher's index and durable_rules'
    packing of rules into rulesets by width are both exercised."""
    from engine.batch.synthetic import write_synthetic_tree

    root = write_synthetic_tree(tmp_path_factory.mktemp("synthetic"), 240, dated=True)
    engines = [Engine(rules_dir=root, matcher=name, max_request_age=None) for name in MATCHERS]
    yield engines
    for engine in engines:
        engine.close()


@pytest.fixture(scope="module")
def shipped_engines():
    engines = [Engine(rules_dir=PACKS, matcher=name, max_request_age=None) for name in MATCHERS]
    yield engines
    for engine in engines:
        engine.close()


def _outcome(engine: Engine, flow: dict) -> tuple:
    """What a caller sees: the decision's outcome, findings and obligations, or the error instead."""
    try:
        decision = engine.evaluate(flow)
    except LicitError as error:
        return ("error", type(error).__name__, str(error))
    return (decision.outcome, [finding.model_dump() for finding in decision.findings],
            [obligation.model_dump() for obligation in decision.obligations])


def _reference(engine: Engine, flow: dict) -> list[str] | None:
    """The rules the plain-Python evaluation of the lowered conditions fires, or None if it cannot decide."""
    model = parse_flow(flow)
    compiled = engine.tree.compiled[model.jurisdiction]
    index = compiled.segment_index(compiled.local_date(model.requested_at))
    if not compiled.rule_count(index):
        return None
    facts = flow_facts(model)
    return sorted(piece.rule.id for piece in compiled.segments[index].rules
                  if evaluate_condition(piece.condition, facts))


def disagreements(engines: list[Engine], flow: dict) -> list[str]:
    """Every way the matchers and the reference disagree on ``flow`` decided in each jurisdiction of the tree."""
    found = []
    for code in sorted(engines[0].tree.compiled):
        flow = dict(flow, jurisdiction=code)
        seen = [_outcome(engine, flow) for engine in engines]
        if any(other != seen[0] for other in seen[1:]):
            found.append(f"{code}: {dict(zip(MATCHERS, seen))}")
        expected = _reference(engines[0], flow)
        fired = sorted(finding["rule_id"] for finding in seen[0][1]) if seen[0][0] != "error" else None
        if fired != expected:
            found.append(f"{code}: {MATCHERS[0]} fired {fired}, the reference {expected}")
    return found


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows())
def test_shipped_packs_agree(shipped_engines, flow):
    assert disagreements(shipped_engines, flow) == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows())
def test_every_construct_agrees(construct_engines, flow):
    assert disagreements(construct_engines, flow) == []


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows())
def test_hundreds_of_synthetic_rules_agree(synthetic_engines, flow):
    assert disagreements(synthetic_engines, flow) == []


def test_both_matchers_are_compared_where_durable_rules_imports():
    """The differential test must not silently compare one matcher with itself."""
    try:
        import durable_rules_engine  # noqa: F401
    except ImportError:
        assert MATCHERS == ["python"]
    else:
        assert MATCHERS == ["durable", "python"]


def test_constructs_fire_and_do_not_fire(construct_engines):
    """Guard against a vacuous agreement: over a sample, every construct both fires and does not."""
    from hypothesis import find

    engine = construct_engines[-1]
    for rule_id in CONSTRUCTS:
        for wanted in (True, False):
            def fires(flow, rule_id=rule_id):
                flow["jurisdiction"] = "CN"
                decision = engine.evaluate(flow)
                return (rule_id in {finding.rule_id for finding in decision.findings}) == wanted
            # existence is what matters here: skip shrinking the witness
            find(flows(), fires, settings=settings(max_examples=2000, database=None, phases=[Phase.generate]))
