"""The built-in matcher's index finds exactly the rules whose condition holds: random conditions over a
few keys and values (so that equal values and thresholds meet often) against random facts."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import pymatch
from engine.pymatch import _Index, compile_condition
from rules.ir import FACT, ITEM, And, Compare, Lit, Or, Present, Quant, Ref, evaluate

VALUES = [0, 1, 2, 3]
OPS = ["==", "!=", "<", "<=", ">", ">="]


def _compare(scope: str, key: str):
    return st.builds(lambda op, value: Compare(op, Ref(scope, key, nullable=True), Lit(value)),
                     st.sampled_from(OPS), st.sampled_from(VALUES))


atoms = st.one_of(
    _compare(FACT, "a"), _compare(FACT, "b"),
    st.builds(lambda present: Present(Ref(FACT, "b", nullable=True), present), st.booleans()),
    st.builds(lambda kind, parts: Quant(kind, Ref(FACT, "items"), "items__count", And(tuple(parts))),
              st.sampled_from(["any", "all"]), st.lists(st.one_of(_compare(ITEM, "x"), _compare(ITEM, "y")),
                                                        min_size=1, max_size=2)),
    st.builds(lambda value: Quant("any", Ref(FACT, "tags"), "tags__count", Compare("==", Ref(ITEM, ""), Lit(value))),
              st.sampled_from(VALUES)),
)
conditions = st.recursive(atoms, lambda inner: st.one_of(
    st.lists(inner, min_size=2, max_size=3).map(lambda parts: And(tuple(parts))),
    st.lists(inner, min_size=2, max_size=3).map(lambda parts: Or(tuple(parts)))), max_leaves=6)
maybe = st.none() | st.sampled_from(VALUES)
facts = st.fixed_dictionaries({"a": maybe, "b": maybe, "items": st.lists(st.fixed_dictionaries({"x": maybe,
                                                                                                "y": maybe}),
                                                                         max_size=3),
                               "tags": st.lists(st.sampled_from(VALUES), max_size=3, unique=True)}).map(
    lambda fact: {key: value for key, value in fact.items() if value is not None})


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rules=st.lists(conditions, min_size=1, max_size=8), fact=facts)
def test_the_index_finds_exactly_the_rules_that_hold(rules, fact, monkeypatch):
    monkeypatch.setattr(pymatch, "_INDEXED_FROM", 0)  # the index, even for a few rules
    index = _Index([(number, condition, compile_condition(condition)) for number, condition in enumerate(rules)])
    assert index.fired(fact) == [number for number, condition in enumerate(rules) if evaluate(condition, fact)]
