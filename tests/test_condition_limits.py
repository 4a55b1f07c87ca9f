"""Conditions within the documented limits (4,000 characters, 40 levels) load, whatever their shape; past them,
or past what the engine compiles, they are located errors: never a RecursionError, never minutes of work."""
from __future__ import annotations

import time

import pytest

from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from rules.parser import MAX_DEPTH, MAX_LENGTH, ParseError, parse
from tests.conftest import rule_yaml

VOCABULARY = flow_vocabulary()


def load_one(write_tree, condition: str):
    return load_rules(write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.A.ONE", condition)}), VOCABULARY)


def only_error(write_tree, condition: str) -> str:
    with pytest.raises(RuleSetError) as caught:
        load_one(write_tree, condition)
    [error] = caught.value.errors
    return str(error)


def test_an_arithmetic_chain_counts_a_level_per_operator():
    deepest = "applicant.age > 1" + " + 1" * (MAX_DEPTH - 1)  # the condition itself is the first level
    parse(deepest)
    with pytest.raises(ParseError) as caught:
        parse(deepest + " + 1")
    assert caught.value.code == "expression_too_deep" and caught.value.pos == len(deepest) + 1  # at the operator


def test_five_hundred_terms_are_one_located_error_not_a_recursion_error(write_tree):
    error = only_error(write_tree, "applicant.age" + " + 1" * 500 + " > 3")
    assert f":5:{11 + len('applicant.age') + 4 * (MAX_DEPTH - 1) + 1}: expression_too_deep: condition nests deeper " \
           "than 40 levels" in error, error


def test_a_field_path_counts_a_level_per_dot():
    with pytest.raises(ParseError) as caught:
        parse("applicant" + ".age" * MAX_DEPTH)
    assert caught.value.code == "expression_too_deep"


@pytest.mark.parametrize("joiner", [" or ", " and "])
def test_an_and_or_chain_as_long_as_a_condition_may_be_loads(write_tree, joiner):
    terms = [f"applicant.age == {age}" for age in range(100, 1000)]
    condition = joiner.join(terms)[:MAX_LENGTH].rsplit(joiner, 1)[0]
    assert condition.count(joiner.strip()) > 150
    tree = load_one(write_tree, condition)
    assert tree.compiled["CN"].segments[-1].rules or joiner == " and "  # the and of them can never hold


def test_alternatives_the_engine_cannot_match_at_once_are_a_located_error(write_tree):
    alternatives = " or ".join(f"applicant.age > {age}" for age in range(70))
    error = only_error(write_tree, alternatives)
    assert ": condition_too_large: CN.A.ONE: on " in error and "tests that may hold at once" in error, error


def test_lifting_the_flow_out_of_a_quantifier_is_bounded(write_tree):
    condition = "some p in payments satisfies " + " and ".join(
        f"(applicant.age == {age} or p.apr == {age})" for age in range(20))
    started = time.perf_counter()
    error = only_error(write_tree, condition)
    assert time.perf_counter() - started < 30  # unbounded, 20 terms took hours
    assert ":5:11: unsupported_condition: this quantifier tests the flow (outside its item) in too many ways" in error
