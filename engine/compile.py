"""Compiles IR conditions to durable_rules' JSON condition syntax (plain Python: it does not import
durable_rules; rules/capacity.py measures what durable_rules can compile)."""
from __future__ import annotations

import json
import re
from typing import Any

from rules.capacity import quantifier_body
from rules.ir import FACT, And, Compare, Condition, Const, Lit, Operand, Or, Present, Quant, Ref

__all__ = ["to_durable", "to_json", "ALWAYS", "conjuncts"]

_OPERATORS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}
_ARITH = {"+": "$add", "-": "$sub", "*": "$mul", "/": "$div"}
ALWAYS = {"$ex": {"flow_id": 1}}  # flow_id is required, so this holds for every flow
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
    # a float's repr writes an exponent with its sign (1e-06, 1e+16): without either, nothing to rewrite
    if ("e-" not in text and "e+" not in text) or not _EXPONENT.search(text):
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
        body = _compile(quantifier_body(condition))
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
