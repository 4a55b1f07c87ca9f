"""Compiled conditions: the form both durable_rules and the plain-Python evaluator run.

Conditions are in negation normal form over a flat fact. Every atom compares a
field (``Ref``) on its left with a literal, another field or arithmetic on its
right. A comparison with a missing (null) value is false; ``Present`` tests for one.
Inside a quantifier, ``Ref(ITEM, key)`` reads the current list item (key "" is
the item itself, for lists of strings).
"""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any, Union

__all__ = [
    "ARITH", "COMPARE", "FACT", "ITEM", "And", "finite", "Arith", "Compare", "Const", "Condition", "Lit", "Operand", "Or",
    "Present", "Quant", "Ref", "evaluate", "fact_keys", "negate_op", "flip_op",
]

FACT, ITEM = "fact", "item"


@dataclass(frozen=True)
class Ref:
    scope: str  # FACT or ITEM
    key: str
    nullable: bool = False


@dataclass(frozen=True)
class Lit:
    value: Any


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: "Operand"
    right: "Operand"


Operand = Union[Ref, Lit, Arith]


@dataclass(frozen=True)
class Compare:
    op: str  # == != < <= > >=
    left: Ref
    right: Operand


@dataclass(frozen=True)
class Present:
    ref: Ref
    present: bool


@dataclass(frozen=True)
class And:
    children: tuple["Condition", ...]


@dataclass(frozen=True)
class Or:
    children: tuple["Condition", ...]


@dataclass(frozen=True)
class Const:
    value: bool


@dataclass(frozen=True)
class Quant:
    kind: str  # "any" or "all"
    ref: Ref  # the list
    count_key: str  # fact key (or item key) of the list's length
    body: "Condition"
    non_empty: bool = False  # the list always has an item, so "every" needs no guard for the empty case
    pos: int = field(default=0, compare=False, repr=False)  # of the quantifier in the condition text, for errors


Condition = Union[Compare, Present, And, Or, Const, Quant]

COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_NEGATED = {"==": "!=", "!=": "==", "<": ">=", ">=": "<", ">": "<=", "<=": ">"}
_FLIPPED = {"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}


def finite(value: float) -> bool:
    """A number a condition may hold: a float that is not infinite or NaN, an integer within a float's range
    (math.isfinite raises for a larger one; arithmetic on it would, or would grow past what can be printed)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def negate_op(op: str) -> str:
    return _NEGATED[op]


def flip_op(op: str) -> str:
    return _FLIPPED[op]


def _value(operand: Operand, fact: dict, item: Any) -> Any:
    if isinstance(operand, Lit):
        return operand.value
    if isinstance(operand, Ref):
        if operand.scope == FACT:
            return fact.get(operand.key)
        return item if operand.key == "" else item.get(operand.key)
    left, right = _value(operand.left, fact, item), _value(operand.right, fact, item)
    if left is None or right is None or (operand.op == "/" and right == 0):
        return None
    return ARITH[operand.op](left, right)


def evaluate(condition: Condition, fact: dict, item: Any = None) -> bool:
    """Evaluate a compiled condition in plain Python: the reference for durable_rules."""
    if isinstance(condition, Compare):
        left, right = _value(condition.left, fact, item), _value(condition.right, fact, item)
        if left is None or right is None:
            return False
        return COMPARE[condition.op](left, right)
    if isinstance(condition, Present):
        return (_value(condition.ref, fact, item) is not None) == condition.present
    if isinstance(condition, And):
        return all(evaluate(child, fact, item) for child in condition.children)
    if isinstance(condition, Or):
        return any(evaluate(child, fact, item) for child in condition.children)
    if isinstance(condition, Const):
        return condition.value
    items = _value(condition.ref, fact, item) or []
    test = any if condition.kind == "any" else all
    return test(evaluate(condition.body, fact, element) for element in items)


def fact_keys(condition: Condition) -> set[str]:
    """The top-level fact keys a condition reads (list items are read whole)."""
    if isinstance(condition, Compare):
        operands, keys = [condition.left, condition.right], set()
        while operands:
            operand = operands.pop()
            if isinstance(operand, Ref) and operand.scope == FACT:
                keys.add(operand.key)
            elif isinstance(operand, Arith):
                operands += [operand.left, operand.right]
        return keys
    if isinstance(condition, Present):
        return {condition.ref.key} if condition.ref.scope == FACT else set()
    if isinstance(condition, (And, Or)):
        return set().union(*(fact_keys(child) for child in condition.children))
    if isinstance(condition, Quant):
        own = {condition.ref.key, condition.count_key} if condition.ref.scope == FACT else set()
        return own | fact_keys(condition.body)
    return set()
