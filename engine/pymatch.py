"""The built-in matcher: the lowered conditions (rules/ir.py) compiled to Python closures, no eval.

It decides exactly as ``rules.ir.evaluate`` (the reference) does: a comparison with a missing value
is false, arithmetic with a missing value or a division by zero is missing, an empty list satisfies
every ``every`` and no ``some``. Each piece (a rule over the span of days its lowered condition holds
for) is compiled once when the engine is built; a segment's list of the pieces in force is assembled
the first time a flow is decided in it, and a bounded number of them is kept.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from rules.ir import (ARITH, COMPARE, FACT, And, Arith, Compare, Condition, Const, Lit, Operand, Or, Present, Quant,
                      Ref)
from rules.segments import CompiledJurisdiction

__all__ = ["PythonMatcher", "compile_condition"]

Test = Callable[[dict, Any], bool]  # (fact, current item) -> holds
Value = Callable[[dict, Any], Any]
_CACHED_PLANS = 256  # segments whose list of pieces in force is kept, per jurisdiction


def _read(ref: Ref) -> Value:
    key = ref.key
    if ref.scope == FACT:
        return lambda fact, item: fact.get(key)
    if key == "":
        return lambda fact, item: item
    return lambda fact, item: item.get(key)


def _operand(operand: Operand) -> Value:
    if isinstance(operand, Lit):
        value = operand.value
        return lambda fact, item: value
    if isinstance(operand, Ref):
        return _read(operand)
    left, right, apply, dividing = _operand(operand.left), _operand(operand.right), ARITH[operand.op], operand.op == "/"

    def arithmetic(fact: dict, item: Any) -> Any:
        first, second = left(fact, item), right(fact, item)
        if first is None or second is None or (dividing and second == 0):
            return None
        return apply(first, second)
    return arithmetic


def _compare(condition: Compare) -> Test:
    test = COMPARE[condition.op]
    if isinstance(condition.right, Lit):
        constant, key = condition.right.value, condition.left.key
        if constant is None:
            return lambda fact, item: False
        equal = condition.op == "=="  # None == constant is already False: no test for a missing value
        if condition.left.scope == FACT:
            if equal:
                return lambda fact, item: fact.get(key) == constant

            def fact_test(fact: dict, item: Any) -> bool:
                value = fact.get(key)
                return value is not None and test(value, constant)
            return fact_test
        if key == "":
            if equal:
                return lambda fact, item: item == constant
            return lambda fact, item: item is not None and test(item, constant)
        if equal:
            return lambda fact, item: item.get(key) == constant

        def item_test(fact: dict, item: Any) -> bool:
            value = item.get(key)
            return value is not None and test(value, constant)
        return item_test
    left, right = _read(condition.left), _operand(condition.right)

    def compare(fact: dict, item: Any) -> bool:
        first, second = left(fact, item), right(fact, item)
        return first is not None and second is not None and test(first, second)
    return compare


def _all(tests: list[Test]) -> Test:
    if len(tests) == 2:
        first, second = tests
        return lambda fact, item: first(fact, item) and second(fact, item)

    def every(fact: dict, item: Any) -> bool:
        for test in tests:
            if not test(fact, item):
                return False
        return True
    return every


def _any(tests: list[Test]) -> Test:
    if len(tests) == 2:
        first, second = tests
        return lambda fact, item: first(fact, item) or second(fact, item)

    def some(fact: dict, item: Any) -> bool:
        for test in tests:
            if test(fact, item):
                return True
        return False
    return some


def _quantifier(condition: Quant) -> Test:
    items, body, some = _read(condition.ref), compile_condition(condition.body), condition.kind == "any"

    def quantified(fact: dict, item: Any) -> bool:
        for element in items(fact, item) or ():
            if body(fact, element) == some:
                return some
        return not some
    return quantified


def compile_condition(condition: Condition) -> Test:
    """A function of (fact, item) that holds exactly when ``rules.ir.evaluate(condition, fact, item)`` does."""
    if isinstance(condition, Compare):
        return _compare(condition)
    if isinstance(condition, Present):
        read, present = _read(condition.ref), condition.present
        return lambda fact, item: (read(fact, item) is not None) == present
    if isinstance(condition, And):
        return _all([compile_condition(child) for child in condition.children])
    if isinstance(condition, Or):
        return _any([compile_condition(child) for child in condition.children])
    if isinstance(condition, Const):
        value = condition.value
        return lambda fact, item: value
    if isinstance(condition, Quant):
        return _quantifier(condition)
    raise TypeError(f"cannot compile {condition!r}")


class PythonMatcher:
    """A jurisdiction's pieces as Python tests; each segment runs the tests of the pieces in force."""

    name = "python"

    def __init__(self, compiled: CompiledJurisdiction):
        self._compiled = compiled
        self._tests = [None if piece.condition == Const(False) else compile_condition(piece.condition)
                       for piece in compiled.pieces]
        self._plan = lru_cache(maxsize=_CACHED_PLANS)(self._assemble)

    def _assemble(self, segment: int) -> tuple[tuple[int, Test], ...]:
        return tuple((number, self._tests[number]) for number in self._compiled.pieces_in_force(segment)
                     if self._tests[number] is not None)

    def fired(self, facts: dict[str, Any], segment: int, day: int) -> list[int]:
        """The pieces (indices into the jurisdiction's pieces) in force in ``segment`` that hold for ``facts``."""
        return [number for number, test in self._plan(segment) if test(facts, None)]
