"""Conditions decide as a plain reading of their text does: quantifiers, nulls and empty lists.

Random conditions over payments and data sharing (with and/or/not inside and around `some`/`every`)
are loaded into one engine; over generated flows, the rules it fires must be exactly those a direct
Python evaluation of each condition's text fires. Conditions the loader refuses must be refused with a
located `unsupported_condition` (only 'every'/'not some' whose 'or' joins different fields of an item).
"""
from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings

from engine import Engine
from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from rules.checker import check_condition
from rules.lower import check_matchable
from rules.parser import parse
from tests.conftest import rule_yaml
from tests.strategies import flows

# (text, the item's value it reads, test): each reads one field of a payment or a data sharing
_PAYMENT_ATOMS = [
    ('{v}.instrument == "consumer_credit"', "instrument", lambda x: x == "consumer_credit"),
    ('{v}.instrument != "bank_card"', "instrument", lambda x: x != "bank_card"),
    ("{v}.apr >= 0.2", "apr", lambda x: x is not None and x >= 0.2),
    ("{v}.apr < 0.1", "apr", lambda x: x is not None and x < 0.1),
    ("{v}.apr == null", "apr", lambda x: x is None),
    ("{v}.apr != null", "apr", lambda x: x is not None),
    ("{v}.apr_disclosed", "apr_disclosed", lambda x: x is True),
    ("{v}.premium_installments > 1", "premium_installments", lambda x: x > 1),
    ('{v}.settlement in ["t_plus_1", "deferred"]', "settlement", lambda x: x in ("t_plus_1", "deferred")),
    ('"commercial" in {v}.covers', "covers", lambda x: "commercial" in x),
]
_SHARING_ATOMS = [
    ('{v}.to == "credit_provider"', "to", lambda x: x == "credit_provider"),
    ("{v}.consent.obtained", "consent", lambda x: x["obtained"]),
    ("not {v}.consent.separate", "consent", lambda x: not x["separate"]),
    ('"credit_history" in {v}.categories', "categories", lambda x: "credit_history" in x),
    ('every c in {v}.categories satisfies c != "identity"', "categories", lambda x: "identity" not in x),
]
_LISTS = {"payments": ("p", _PAYMENT_ATOMS), "data_sharing": ("d", _SHARING_ATOMS)}


def _body(rng: random.Random, atoms: list, depth: int):
    """(text, test of one item) of a random boolean combination of item tests."""
    roll = rng.random()
    if depth == 0 or roll < 0.3:
        text, key, test = rng.choice(atoms)
        return text, (lambda item, key=key, test=test: test(item.get(key)))
    if roll < 0.45:
        text, test = _body(rng, atoms, depth - 1)
        return f"not ({text})", (lambda item: not test(item))
    (left, left_test), (right, right_test) = _body(rng, atoms, depth - 1), _body(rng, atoms, depth - 1)
    if roll < 0.75:
        return f"({left}) and ({right})", (lambda item: left_test(item) and right_test(item))
    return f"({left}) or ({right})", (lambda item: left_test(item) or right_test(item))


def _quantified(rng: random.Random):
    """(text, test of a flow) of a quantifier, maybe negated, maybe beside a flow test or another one."""
    collection = rng.choice(sorted(_LISTS))
    variable, atoms = _LISTS[collection]
    kind = rng.choice(["some", "every"])
    body, test = _body(rng, [(text.format(v=variable), key, check) for text, key, check in atoms], 2)
    quantify = any if kind == "some" else all
    text = f"({kind} {variable} in {collection} satisfies {body})"
    flow_test = (lambda flow: quantify(test(item) for item in flow[collection]))
    if rng.random() < 0.3:
        text, flow_test = f"not {text}", (lambda flow, inner=flow_test: not inner(flow))
    roll = rng.random()
    if roll < 0.2:
        return f"({text} or applicant.age < 30)", (lambda flow: flow_test(flow) or flow["applicant"]["age"] < 30)
    if roll < 0.4:
        other, other_test = _quantified(rng)
        return f"({text} and {other})", (lambda flow: flow_test(flow) and other_test(flow))
    return text, flow_test


def _conditions(count: int, seed: int = 20240601):
    rng = random.Random(seed)
    return [_quantified(rng) for _ in range(count)]


def _refusal(text: str):
    typed, problems = check_condition(parse(text), flow_vocabulary(), {})
    assert problems == [], (text, problems)
    return check_matchable(typed, flow_vocabulary())


CONDITIONS = _conditions(160)
ACCEPTED = {f"CN.Q.R{index}": (text, test) for index, (text, test) in enumerate(CONDITIONS) if _refusal(text) is None}


def test_the_sample_exercises_both_quantifiers_accepted_and_refused():
    accepted = [text for text, _ in ACCEPTED.values()]
    assert sum("every" in text for text in accepted) > 30 and sum("some" in text for text in accepted) > 30
    assert sum(" or " in text for text in accepted) > 30
    assert len(accepted) < len(CONDITIONS)


def test_only_every_with_an_or_over_several_fields_is_refused():
    for text, _ in CONDITIONS:
        refusal = _refusal(text)
        if refusal is not None:
            assert refusal.code == "unsupported_condition" and "inside 'every'" in refusal.message, text
            assert text[refusal.pos:].startswith(("some", "every")), (text, refusal.pos)


@pytest.fixture(scope="module")
def quantifier_engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("quantifiers")
    (root / "CN").mkdir()
    rules = "".join(rule_yaml(rule_id, json.dumps(text, ensure_ascii=False), effect="warn", start="2005-01-01")
                    for rule_id, (text, _) in ACCEPTED.items())
    (root / "CN" / "quantifiers.yaml").write_text("rules:\n" + rules, encoding="utf-8")
    engine = Engine(rules_dir=root, max_request_age=None)
    yield engine
    engine.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flow=flows())
def test_quantified_conditions_decide_as_their_text_reads(quantifier_engine, flow):
    flow["jurisdiction"] = "CN"
    fired = {finding.rule_id for finding in quantifier_engine.evaluate(flow).findings}
    expected = {rule_id for rule_id, (_, test) in ACCEPTED.items() if test(flow)}
    wrong = {rule_id: ACCEPTED[rule_id][0] for rule_id in fired ^ expected}
    assert wrong == {}, json.dumps(flow, ensure_ascii=False)


def test_or_inside_some_fires_on_a_later_item(write_tree, compliant_flow):
    # the compliant flow pays the commercial premium (payments[1]) with consumer credit at 18 %
    root = write_tree({"CN/a.yaml": "rules:\n" + rule_yaml(
        "CN.Q.OR", "'some p in payments satisfies p.instrument == \"consumer_credit\" or p.apr >= 0.2'")})
    engine = Engine(rules_dir=root, max_request_age=None)
    try:
        compliant_flow["jurisdiction"] = "CN"
        assert "CN.Q.OR" in {finding.rule_id for finding in engine.evaluate(compliant_flow).findings}
    finally:
        engine.close()


# col: the quantifier, after the opening quote
@pytest.mark.parametrize("when, col", [
    ("'not (some p in payments satisfies p.instrument == \"bank_card\" and p.apr < 0.2)'", 17),
    ("'every p in payments satisfies p.apr == null or p.apr == 0 or p.apr_disclosed'", 12),
])
def test_an_or_over_two_fields_inside_every_is_refused_where_written(write_tree, when, col):
    with pytest.raises(RuleSetError) as caught:
        load_rules(write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.Q.EVERY", when)}), flow_vocabulary())
    [error] = caught.value.errors
    assert (error.line, error.col, error.code) == (5, col, "unsupported_condition")
    assert "inside 'every'" in error.message


def test_an_exception_is_checked_as_the_rule_uses_it_negated(write_tree):
    parent = "rules:\n" + rule_yaml("CN.Q.PARENT", "applicant.age < 18")
    exception = ("exceptions:\n  - rule: CN.Q.PARENT\n    reason: r\n"
                 "    when: some p in payments satisfies p.instrument == \"bank_card\" and p.apr < 0.2\n")
    with pytest.raises(RuleSetError) as caught:
        load_rules(write_tree({"CN/a.yaml": parent, "CN-BJ/a.yaml": exception}), flow_vocabulary())
    assert [(error.line, error.col, error.code) for error in caught.value.errors] == [(4, 11, "unsupported_condition")]


@pytest.mark.parametrize("when, with_commercial, without", [
    ('product("commercial") == null', False, True),
    ('product("commercial") != null', True, False),
    ('payment_for("commercial") == null', False, True),
    ('not (payment_for("commercial") != null)', False, True),
])
def test_a_derived_object_is_null_exactly_when_the_flow_lacks_it(write_tree, compliant_flow, when, with_commercial,
                                                                 without):
    engine = Engine(rules_dir=write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.Q.NULL", json.dumps(when))}),
                    max_request_age=None)
    try:
        compliant_flow["jurisdiction"] = "CN"
        fired = "CN.Q.NULL" in {finding.rule_id for finding in engine.evaluate(compliant_flow).findings}
        del compliant_flow["products"][1], compliant_flow["payments"][1]  # the commercial product and its payment
        fired_without = "CN.Q.NULL" in {finding.rule_id for finding in engine.evaluate(compliant_flow).findings}
    finally:
        engine.close()
    assert (fired, fired_without) == (with_commercial, without)
