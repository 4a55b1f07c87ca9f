"""Compiles IR conditions to durable_rules' JSON condition syntax, and measures them against its limits.

This module is plain Python (it does not import durable_rules): the limits are checked with either
matcher, so a rule pack that loads under one loads under the other.
"""
from __future__ import annotations

import json
import re
from typing import Any

from rules.ir import FACT, And, Compare, Condition, Const, Lit, Operand, Or, Present, Quant, Ref

__all__ = ["to_durable", "to_json", "ALWAYS", "AlphaTrie", "conjuncts", "limit_problem", "stack_width", "MAX_STACK",
           "MAX_SEQUENCE"]

_OPERATORS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}
ALWAYS = {"$ex": {"flow_id": 1}}  # flow_id is required, so this holds for every flow
# durable_rules 2.0.28 (events.c, rete.c): 64 alpha nodes pending at once while a fact is matched (error 303,
# after which deleting the session corrupts the heap), and 32 entries in a rule's expression sequence (error 113)
MAX_STACK = 64
MAX_SEQUENCE = 32

_EXPONENT = re.compile(r"\d[eE][+-]?\d")
# a JSON string, or a number written with an exponent (which durable_rules' parser refuses: error 204)
_STRING_OR_EXPONENT = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?[eE][+-]?\d+')


def _positional(match: re.Match) -> str:
    token = match.group()
    if token.startswith('"'):
        return token
    return format(float(token), ".17f").rstrip("0").rstrip(".") or "0"


def to_json(value: Any) -> str:
    """JSON for durable_rules: compact, UTF-8, and numbers never in exponent notation."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if not _EXPONENT.search(text):  # nothing like 1e-06 anywhere, not even inside a string
        return text
    return _STRING_OR_EXPONENT.sub(_positional, text)


def _name(ref: Ref) -> str:
    if ref.scope == FACT:
        return ref.key
    return "$i" if ref.key == "" else f"$i.{ref.key}"


def _operand(operand: Operand) -> Any:
    if isinstance(operand, Lit):
        return operand.value
    if isinstance(operand, Ref):
        if operand.scope != FACT:
            raise ValueError("durable_rules cannot read an item field on the right of a comparison")
        return {"$m": operand.key}
    return {_ARITH[operand.op]: {"$l": _operand(operand.left), "$r": _operand(operand.right)}}


def to_durable(condition: Condition) -> dict | None:
    """The durable_rules condition, ``ALWAYS`` for a constant truth, None for one that never holds."""
    if isinstance(condition, Const):
        return ALWAYS if condition.value else None
    return _compile(condition)


def _compile(condition: Condition) -> dict:
    if isinstance(condition, Compare):
        name, right = _name(condition.left), _operand(condition.right)
        if condition.op == "==":
            return {name: right}
        return {_OPERATORS[condition.op]: {name: right}}
    if isinstance(condition, Present):
        return {"$ex" if condition.present else "$nex": {_name(condition.ref): 1}}
    if isinstance(condition, And):
        return {"$and": [_compile(child) for child in condition.children]}
    if isinstance(condition, Or):
        return {"$or": [_compile(child) for child in condition.children]}
    if isinstance(condition, Quant):
        body = _compile(condition.body)
        if condition.kind == "any":
            return {"$iany": {_name(condition.ref): body}}
        if condition.non_empty:
            return {"$iall": {_name(condition.ref): body}}
        # $iall is false on an empty list; "every" is vacuously true, as in the IR
        empty = {_name(Ref(condition.ref.scope, condition.count_key)): 0}
        return {"$or": [empty, {"$iall": {_name(condition.ref): body}}]}
    raise TypeError(f"cannot compile {condition!r}")


def conjuncts(condition: dict) -> list[dict]:
    """A compiled condition as the list of tests that must all hold (a top-level ``$and`` is spliced)."""
    return list(condition["$and"]) if set(condition) == {"$and"} else [condition]


def stack_width(condition: dict) -> int:
    """How many alpha nodes of this condition can be pending at once while durable_rules matches a fact.

    durable_rules walks its alpha network depth first, pushing every matching child of a node before
    descending: a chain (``$and``) adds one node at a time; the branches of an ``$or`` are all pushed.
    A quantifier's items are matched in a separate recursion, so it counts as one node."""
    if set(condition) == {"$and"}:
        return sum(stack_width(child) - 1 for child in condition["$and"]) + 1
    if set(condition) == {"$or"}:
        return sum(stack_width(child) for child in condition["$or"])
    return 1


def _sequence(condition: dict) -> int:
    """Entries a rule's expression sequence gets: two per ``$and``/``$or`` (its start and end), also inside
    quantifiers (measured: 14 two-way ``or``s in an ``and`` compile, 15 fail with error 113)."""
    (key, value), = condition.items()
    if key in ("$and", "$or"):
        return 2 + sum(map(_sequence, value))
    if key in ("$iany", "$iall"):
        return sum(map(_sequence, value.values()))
    return 0


def limit_problem(condition: dict, guards: int) -> str | None:
    """Why durable_rules cannot run this condition as one rule with ``guards`` more tests ahead of it, or None."""
    width = stack_width({"$and": [*([ALWAYS] * guards), *conjuncts(condition)]})
    if width > MAX_STACK - 4:
        return (f"its condition needs {width} of durable_rules' {MAX_STACK - 4} pending tests (each 'or' adds its "
                f"branches); split the rule")
    slots = 2 + sum(_sequence(child) for child in conjuncts(condition))
    if slots >= MAX_SEQUENCE:
        return (f"its condition needs {slots} entries of durable_rules' {MAX_SEQUENCE - 1} per rule (two per "
                f"'and'/'or' group once lowered); split the rule")
    return None


class AlphaTrie:
    """The alpha network durable_rules builds for a ruleset's rules, as far as the stack is concerned, to bound
    how many nodes can be pending at once (it must stay under MAX_STACK whatever the fact).

    durable_rules shares a node between rules that test the same thing after the same tests (measured: 200
    rules of one chain match at once; 70 rules with one test in common and then 70 different ones fail with
    error 303). Each rule's tests are a chain: plain tests join the trie; from its first ``$or`` or
    quantifier on, the rest of the rule is counted as unshared, by :func:`stack_width`. Every test is taken
    to hold: when a node is popped it pushes all its children, and the worst order visits the child that
    grows the stack most while its siblings wait."""

    def __init__(self):
        self._root: dict = {"children": {}, "tails": 0}
        self.most_ends = 0  # of rules whose chain ends on one node: durable_rules links at most 256 (error 108)

    def add(self, tests: list[dict]) -> None:
        node = self._root
        for index, test in enumerate(tests):
            (key, _), = test.items()
            if key in ("$or", "$and", "$iany", "$iall"):
                node["tails"] += stack_width({"$and": tests[index:]})
                return
            node = node["children"].setdefault(to_json(test), {"children": {}, "tails": 0, "ends": 0})
        node["ends"] += 1
        self.most_ends = max(self.most_ends, node["ends"])

    def peak(self) -> int:
        return _peak(self._root)


def _peak(node: dict) -> int:
    """Entries pending at most while the subtree below ``node`` is matched (``node`` itself popped)."""
    children = node["children"].values()
    pushed = len(node["children"]) + node["tails"]
    return pushed + max([0, *(_peak(child) - 1 for child in children)])
