"""Lowers a typed condition, with the parameter values of one period, to the IR.

The result is in negation normal form, constant-folded, and every atom that does
not read the current item is lifted out of its quantifier by case split
(``Q(b) == (a and Q(b[a:=true])) or (not a and Q(b[a:=false]))``), because
durable_rules can only test item fields inside ``$iany``/``$iall``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from rules.ir import (ARITH, COMPARE, FACT, ITEM, And, Arith, Compare, Condition, Const, Lit, Operand, Or,
                      Present, Quant, Ref, flip_op, negate_op)
from rules.typed import TAnd, TArith, TCompare, TExpr, TIn, TListLit, TLit, TNot, TOr, TParam, TPresent, TQuant, TRef
from rules.types import Vocabulary

__all__ = ["LowerError", "lower", "negate", "simplify"]



class LowerError(Exception):
    def __init__(self, pos: int, code: str, message: str):
        super().__init__(message)
        self.pos, self.code, self.message = pos, code, message


def lower(expr: TExpr, parameters: dict[str, Any], vocabulary: Vocabulary) -> Condition:
    return simplify(_Lowerer(parameters, vocabulary).condition(expr, 0))


def _param_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.toordinal()
    if isinstance(value, (list, tuple)):
        return [_param_value(item) for item in value]
    return value


class _Lowerer:
    def __init__(self, parameters: dict[str, Any], vocabulary: Vocabulary):
        self.parameters = parameters
        self.vocabulary = vocabulary

    def condition(self, expr: TExpr, depth: int) -> Condition:
        if isinstance(expr, (TLit, TParam)):
            return Const(bool(self.operand(expr, depth).value))
        if isinstance(expr, TAnd):
            return And(tuple(self.condition(child, depth) for child in expr.children))
        if isinstance(expr, TOr):
            return Or(tuple(self.condition(child, depth) for child in expr.children))
        if isinstance(expr, TNot):
            return negate(simplify(self.condition(expr.operand, depth)))
        if isinstance(expr, TPresent):
            return Present(self.ref(expr.ref, depth), expr.present)
        if isinstance(expr, TCompare):
            return compare(expr.op, self.operand(expr.left, depth), self.operand(expr.right, depth))
        if isinstance(expr, TIn):
            return self.membership(expr, depth)
        if isinstance(expr, TQuant):
            collection = self.ref(expr.collection, depth)
            body = simplify(self.condition(expr.body, expr.depth))
            return _lift(Quant(expr.kind, collection, self.vocabulary.count_key(collection.key), body,
                               expr.collection.type.non_empty), expr.pos)
        raise LowerError(expr.pos, "type_error", "not a condition")

    def membership(self, expr: TIn, depth: int) -> Condition:
        element = self.operand(expr.element, depth)
        if isinstance(expr.collection, TRef):
            collection = self.ref(expr.collection, depth)
            body = compare("==", Ref(ITEM, ""), element)
            return _lift(Quant("any", collection, self.vocabulary.count_key(collection.key), body,
                               expr.collection.type.non_empty), expr.pos)
        values = self.operand(expr.collection, depth).value
        return Or(tuple(compare("==", element, Lit(value)) for value in values))

    def ref(self, ref: TRef, depth: int) -> Ref:
        return Ref(FACT if ref.depth == 0 else ITEM, ref.key, ref.nullable)

    def operand(self, expr: TExpr, depth: int) -> Operand:
        if isinstance(expr, TLit):
            return Lit(expr.value)
        if isinstance(expr, TListLit):
            return Lit([item.value for item in expr.items])
        if isinstance(expr, TParam):
            if expr.name not in self.parameters:
                raise LowerError(expr.pos, "parameter_not_in_force", f"params.{expr.name} has no value in force")
            return Lit(_param_value(self.parameters[expr.name]))
        if isinstance(expr, TRef):
            return self.ref(expr, depth)
        if isinstance(expr, TArith):
            left, right = self.operand(expr.left, depth), self.operand(expr.right, depth)
            if expr.op == "/" and isinstance(right, Lit) and right.value == 0:
                raise LowerError(expr.right.pos, "type_error", "division by a parameter whose value is zero")
            return _arith(expr.op, left, right)
        raise LowerError(expr.pos, "type_error", "a condition cannot be used as a value here")


def _arith(op: str, left: Operand, right: Operand) -> Operand:
    if isinstance(left, Lit) and isinstance(right, Lit):
        return Lit(ARITH[op](left.value, right.value))
    if isinstance(left, Lit):
        # durable_rules wants a field on the left of arithmetic
        if op in ("+", "*"):
            return Arith(op, right, left)
        if op == "-":
            return Arith("+", Arith("*", right, Lit(-1)), left)
    return Arith(op, left, right)


def compare(op: str, left: Operand, right: Operand) -> Condition:
    if isinstance(left, Lit) and isinstance(right, Lit):
        if left.value is None or right.value is None:
            return Const(False)
        return Const(COMPARE[op](left.value, right.value))
    if isinstance(right, Ref) and not isinstance(left, Ref):
        left, right, op = right, left, flip_op(op)
    if not isinstance(left, Ref):
        raise LowerError(0, "unsupported_condition", "one side of a comparison must be a single field")
    # durable_rules does not fail a comparison whose right-hand field is missing: say it must be there
    guards = tuple(Present(ref, True) for ref in _operand_refs(right) if ref.nullable)
    return And((Compare(op, left, right), *guards)) if guards else Compare(op, left, right)


def _operand_refs(operand: Operand) -> list[Ref]:
    if isinstance(operand, Ref):
        return [operand]
    if isinstance(operand, Arith):
        return _operand_refs(operand.left) + _operand_refs(operand.right)
    return []


def negate(condition: Condition) -> Condition:
    """Exact negation: a comparison with a null operand is false, so its negation holds."""
    if isinstance(condition, Compare):
        if condition.op == "==" and isinstance(condition.right, Lit) and isinstance(condition.right.value, bool) \
                and not condition.left.nullable:
            return Compare("==", condition.left, Lit(not condition.right.value))
        guards = tuple(Present(ref, False) for ref in _operand_refs(condition.left) + _operand_refs(condition.right)
                       if ref.nullable)
        return simplify(Or((Compare(negate_op(condition.op), condition.left, condition.right), *guards)))
    if isinstance(condition, Present):
        return Present(condition.ref, not condition.present)
    if isinstance(condition, And):
        return simplify(Or(tuple(negate(child) for child in condition.children)))
    if isinstance(condition, Or):
        return simplify(And(tuple(negate(child) for child in condition.children)))
    if isinstance(condition, Const):
        return Const(not condition.value)
    return simplify(Quant("all" if condition.kind == "any" else "any", condition.ref, condition.count_key,
                          negate(condition.body), condition.non_empty))


def simplify(condition: Condition) -> Condition:
    if isinstance(condition, (And, Or)):
        neutral = isinstance(condition, And)  # True is neutral in And, False in Or
        children: list[Condition] = []
        for child in map(simplify, condition.children):
            if isinstance(child, Const):
                if child.value != neutral:
                    return Const(not neutral)
                continue
            parts = child.children if type(child) is type(condition) else (child,)
            children.extend(part for part in parts if part not in children)
        if not children:
            return Const(neutral)
        return children[0] if len(children) == 1 else type(condition)(tuple(children))
    if isinstance(condition, Quant) and isinstance(condition.body, Const):
        count = Ref(condition.ref.scope, condition.count_key)
        if condition.body.value == (condition.kind == "all"):  # every…true, some…false
            return Const(condition.body.value)
        if condition.non_empty:
            return Const(condition.body.value)
        return Compare(">", count, Lit(0)) if condition.kind == "any" else Compare("==", count, Lit(0))
    return condition


def _fact_only(condition: Condition) -> bool:
    if isinstance(condition, Compare):
        return condition.left.scope == FACT and all(ref.scope == FACT for ref in _operand_refs(condition.right))
    if isinstance(condition, Present):
        return condition.ref.scope == FACT
    return isinstance(condition, Quant) and condition.ref.scope == FACT


def _find_fact_atom(condition: Condition) -> Condition | None:
    if isinstance(condition, (And, Or)):
        for child in condition.children:
            found = _find_fact_atom(child)
            if found is not None:
                return found
        return None
    return condition if _fact_only(condition) else None


def _substitute(condition: Condition, atom: Condition, value: bool) -> Condition:
    if condition == atom:
        return Const(value)
    if isinstance(condition, (And, Or)):
        return type(condition)(tuple(_substitute(child, atom, value) for child in condition.children))
    return condition


def _has_quant(condition: Condition) -> bool:
    if isinstance(condition, (And, Or)):
        return any(_has_quant(child) for child in condition.children)
    return isinstance(condition, Quant)


def _or_around_quant(condition: Condition) -> bool:
    if isinstance(condition, Or) and any(_has_quant(child) for child in condition.children):
        return True
    return isinstance(condition, And) and any(_or_around_quant(child) for child in condition.children)


def _dnf(condition: Condition) -> list[tuple[Condition, ...]]:
    if isinstance(condition, Or):
        return [conjunct for child in condition.children for conjunct in _dnf(child)]
    if isinstance(condition, And):
        conjuncts: list[tuple[Condition, ...]] = [()]
        for child in condition.children:
            conjuncts = [left + right for left in conjuncts for right in _dnf(child)]
        return conjuncts
    return [(condition,)]


def _lift(quant: Quant, pos: int) -> Condition:
    atom = _find_fact_atom(quant.body)
    if atom is not None:
        cases = [(atom, True), (negate(atom), False)]
        return simplify(Or(tuple(
            And((guard, _lift(Quant(quant.kind, quant.ref, quant.count_key,
                                    simplify(_substitute(quant.body, atom, value)), quant.non_empty), pos)))
            for guard, value in cases)))
    if _or_around_quant(quant.body):
        # durable_rules does not match an $or around a nested $iany/$iall inside an item;
        # "some" distributes over "or", "every" does not
        if quant.kind == "all":
            raise LowerError(pos, "unsupported_condition",
                             "inside 'every', 'or' cannot join a nested quantifier; split the condition")
        return simplify(Or(tuple(Quant("any", quant.ref, quant.count_key, simplify(And(conjunct)), quant.non_empty)
                                 for conjunct in _dnf(quant.body))))
    return simplify(quant)
