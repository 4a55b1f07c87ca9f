"""rules.capacity against durable_rules itself: every condition the model lets through compiles, alone and
packed with others, and matches as the IR says; the limits the model sets are where durable_rules breaks."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from rules.capacity import MAX_GROUPS, MAX_PENDING, condition_size, pack, size_problem
from rules.ir import FACT, ITEM, And, Compare, Condition, Const, Lit, Or, Present, Quant, Ref, evaluate
from rules.lower import LowerError, _split_all, simplify
from tests.conftest import REPO, rule_yaml

durable = pytest.importorskip("engine.durable")
compile_ = pytest.importorskip("engine.compile")

KEYS = ["a", "b", "c"]
ITEMS, COUNT = Ref(FACT, "items"), "items_count"


def compare(scope: str, keys: list[str]):
    return st.builds(lambda op, key, value: Compare(op, Ref(scope, key, nullable=True), Lit(value)),
                     st.sampled_from(["==", "!=", "<", ">=", ">"]), st.sampled_from(keys), st.integers(-3, 3))


def present(scope: str, keys: list[str]):
    return st.builds(lambda key, there: Present(Ref(scope, key, nullable=True), there), st.sampled_from(keys),
                     st.booleans())


def boolean(atoms, max_leaves: int):
    return st.recursive(atoms, lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=6).map(lambda parts: And(tuple(parts))),
        st.lists(inner, min_size=2, max_size=70).map(lambda parts: Or(tuple(parts)))), max_leaves=max_leaves)


def item_body():
    return boolean(compare(ITEM, ["x", "y"]) | present(ITEM, ["x", "y"]), max_leaves=8)


quantifier = st.builds(lambda kind, body, non_empty: Quant(kind, ITEMS, COUNT, body, non_empty),
                       st.sampled_from(["any", "all"]), item_body(), st.booleans())


def lowered(condition: Condition) -> Condition:
    """In the form lowering gives the engine (quantifiers split so durable_rules matches them right), or Const(False)
    for one lowering refuses."""
    try:
        return _split_all(simplify(condition))
    except LowerError:
        return Const(False)


conditions = boolean(compare(FACT, KEYS) | present(FACT, KEYS) | quantifier, max_leaves=80).map(lowered)
# at least one item: a quantifier marked non_empty ranges over a list the contract says is never empty
items = st.lists(st.fixed_dictionaries({}, optional={"x": st.integers(-3, 3), "y": st.integers(-3, 3)}),
                 min_size=1, max_size=3)
facts = st.builds(lambda values, listed: {**values, "items": listed, COUNT: len(listed)},
                  st.fixed_dictionaries({}, optional={key: st.integers(-3, 3) for key in KEYS}), items)


def matched(rules: dict[str, Condition], fact: dict) -> set[str]:
    fired = set()
    for names in pack({name: condition_size(condition) for name, condition in rules.items()},
                      durable.MAX_RULES_PER_RULESET):
        ruleset = durable.DurableRuleset("capacity", {name: [compile_.to_durable(rules[name])] for name in names})
        fired.update(ruleset.matches(durable.to_json({"flow_id": "f", **fact})))
    return fired


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rules=st.lists(conditions, min_size=1, max_size=40), fact_list=st.lists(facts, min_size=1, max_size=3))
def test_every_rule_the_model_admits_compiles_packed_and_matches_as_the_ir(rules, fact_list):
    admitted = {f"r{index}": condition for index, condition in enumerate(rules)
                if size_problem(condition) is None and condition != Const(False)}
    for fact in fact_list + [{key: 0 for key in KEYS} | {"items": [{"x": 0, "y": 0}], COUNT: 1}]:
        assert matched(admitted, fact) == {name for name, condition in admitted.items() if evaluate(condition, fact)}


def always(index: int) -> Condition:
    return Compare(">", Ref(FACT, "a"), Lit(-index - 10))  # holds for a == 0


def test_the_limits_are_where_durable_rules_breaks():
    fact = durable.to_json({"flow_id": "f", "a": 0})
    widest = Or(tuple(always(index) for index in range(MAX_PENDING)))
    assert size_problem(widest) is None and matched({"r": widest}, {"a": 0}) == {"r"}
    wider = Or(tuple(always(index) for index in range(MAX_PENDING + 1)))
    assert "65 tests that may hold at once" in size_problem(wider)
    # matching it fails (error 303), and deleting the failed session then aborts the process: in a child
    child = subprocess.run([sys.executable, "-c", f"""
from engine.durable import DurableRuleset
DurableRuleset("capacity", {{"r": [{compile_.to_durable(wider)!r}]}}).matches({fact!r})
"""], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert child.returncode != 0 and "error code: 303" in child.stderr + child.stdout
    grouped = And(tuple(Or((Compare("==", Ref(FACT, "a"), Lit(index)), Present(Ref(FACT, "b"), True)))
                        for index in range(MAX_GROUPS - 1)))
    assert size_problem(grouped) is None and matched({"r": grouped}, {"a": 0, "b": 1}) == {"r"}
    regrouped = And(grouped.children + (Or((Compare("==", Ref(FACT, "a"), Lit(99)), Present(Ref(FACT, "c"), True))),))
    assert f"{MAX_GROUPS + 1} and/or groups" in size_problem(regrouped)
    with pytest.raises(durable.DurableError, match="error code: 113"):
        durable.DurableRuleset("capacity", {"r": [compile_.to_durable(regrouped)]})


ITEM_X = Ref(ITEM, "x", nullable=True)
EITHER = Or((Compare("==", ITEM_X, Lit(1)), Compare("==", ITEM_X, Lit(2))))


@pytest.mark.parametrize("filler", [0x09, 0x0C])  # JSON_IDENTIFIER, JSON_EXPRESSION: what made it refuse
def test_a_quantifier_whose_body_ends_in_an_or_compiles_whatever_the_memory_held(filler):
    """durable_rules reads a field of a quantifier body's last node that the node ending an ``or`` never
    sets; with fresh memory filled with these bytes (glibc's MALLOC_PERTURB_) it refused such a ruleset
    (error 102)."""
    rules = {"or": Quant("all", ITEMS, COUNT, EITHER, True),
             "and_then_or": Quant("all", ITEMS, COUNT, And((Present(Ref(ITEM, "y"), True), EITHER)), True),
             "some_or": Quant("any", ITEMS, COUNT, EITHER, True)}
    fact = {"flow_id": "f", "items": [{"x": 1, "y": 0}, {"x": 2, "y": 0}], COUNT: 2}
    compiled = {name: [compile_.to_durable(condition)] for name, condition in rules.items()}
    child = subprocess.run([sys.executable, "-c", f"""
from engine.durable import DurableRuleset
print(sorted(DurableRuleset("perturbed", {compiled!r}).matches({durable.to_json(fact)!r})))
"""], capture_output=True, text=True, cwd=REPO, timeout=60, env={**os.environ, "MALLOC_PERTURB_": str(0xFF ^ filler)})
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == repr(sorted(name for name, condition in rules.items() if evaluate(condition, fact)))


def test_the_test_that_ends_a_quantifier_body_is_counted_against_the_group_limit():
    ors = tuple(Or((Compare("==", Ref(FACT, "a"), Lit(index)), Present(Ref(FACT, "b"), True)))
                for index in range(MAX_GROUPS - 3))
    fits = And(ors + (Quant("all", ITEMS, COUNT, EITHER, True),))  # its and, the ors, the body's or and its and
    fact = {"a": 0, "b": 1, "items": [{"x": 1}], COUNT: 1}
    assert size_problem(fits) is None and matched({"r": fits}, fact) == {"r"}
    beyond = And(fits.children + (Or((Compare("==", Ref(FACT, "a"), Lit(99)), Present(Ref(FACT, "c"), True))),))
    assert f"{MAX_GROUPS + 1} and/or groups" in size_problem(beyond)
    with pytest.raises(durable.DurableError, match="error code: 113"):
        durable.DurableRuleset("capacity", {"r": [compile_.to_durable(beyond)]})


def test_packing_splits_what_one_ruleset_could_not_match():
    rules = {f"r{index}": always(index) for index in range(3 * MAX_PENDING)}
    packs = pack({name: condition_size(condition) for name, condition in rules.items()}, 1000)
    assert [len(names) for names in packs] == [MAX_PENDING] * 3
    assert matched(rules, {"a": 0}) == set(rules)


def test_a_rule_past_a_limit_is_a_located_load_error(write_tree):
    alternatives = " and ".join(f"(applicant.age == {age} or vehicle.new_energy)" for age in range(14))
    with pytest.raises(RuleSetError) as caught:
        load_rules(write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.A.ONE", alternatives)}), flow_vocabulary())
    [error] = caught.value.errors
    assert ":2:5: condition_too_large: CN.A.ONE: on " in str(error)
    assert "in CN, this condition compiles to 15 and/or groups; the engine matches at most 14 in one rule" in str(error)
