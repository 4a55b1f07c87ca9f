"""Lowers a typed condition, with the parameter values of one period, to the IR.

The result is in negation normal form, constant-folded, and every atom that does
not read the current item is lifted out of its quantifier by case split
(``Q(b) == (a and Q(b[a:=true])) or (not a and Q(b[a:=false]))``), because
durable_rules can only test item fields inside ``$iany``/``$iall``. Each quantifier
is then split until every ``or`` inside it tests a single field of the item: durable_rules
2.0.28 decides an ``or`` whose branches test different fields of an item by the branch on
the item's last such field alone (see ``_split``).
"""
from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from typing import Any

from rules.ir import (ARITH, COMPARE, FACT, ITEM, And, Arith, Compare, Condition, Const, Lit, Operand, Or,
                      Present, Quant, Ref, finite, flip_op, negate_op)
from rules.typed import TAnd, TArith, TCompare, TExpr, TIn, TListLit, TLit, TNot, TOr, TParam, TPresent, TQuant, TRef
from rules.types import ListType, ObjectType, Vocabulary

__all__ = ["LowerError", "check_matchable", "lower", "negate", "simplify"]

_MAX_PARTS = 64  # a quantifier that splits into more parts than this is refused, not compiled
_MAX_CASES = 64  # case splits lifting the flow's tests out of one condition's quantifiers (each may double it)


class LowerError(Exception):
    def __init__(self, pos: int, code: str, message: str):
        super().__init__(message)
        self.pos, self.code, self.message = pos, code, message


def lower(expr: TExpr, parameters: dict[str, Any], vocabulary: Vocabulary, negated: bool = False) -> Condition:
    """The condition (its negation, for an exception) in the form durable_rules matches correctly."""
    return _matchable(expr, _Lowerer(parameters, vocabulary), negated)


def check_matchable(expr: TExpr, vocabulary: Vocabulary, negated: bool = False) -> LowerError | None:
    """Why durable_rules cannot match ``expr`` (or its negation) whatever values its parameters take, or
    None. Run once when the rules load, so the error points into the condition."""
    try:
        _matchable(expr, _OpenLowerer({}, vocabulary), negated)
    except LowerError as error:
        return error
    return None


def _matchable(expr: TExpr, lowerer: "_Lowerer", negated: bool) -> Condition:
    condition = simplify(lowerer.condition(expr, 0))
    return _split_all(negate(condition) if negated else condition)


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
        self.cases = 0

    def condition(self, expr: TExpr, depth: int) -> Condition:
        if isinstance(expr, (TLit, TParam)):
            value = self.operand(expr, depth)
            return Const(bool(value.value)) if isinstance(value, Lit) else compare("==", value, Lit(True))
        if isinstance(expr, TAnd):
            return And(tuple(self.condition(child, depth) for child in expr.children))
        if isinstance(expr, TOr):
            return Or(tuple(self.condition(child, depth) for child in expr.children))
        if isinstance(expr, TNot):
            return negate(simplify(self.condition(expr.operand, depth)))
        if isinstance(expr, TPresent):
            return Present(self.presence(expr.ref, depth), expr.present)
        if isinstance(expr, TCompare):
            return compare(expr.op, self.operand(expr.left, depth), self.operand(expr.right, depth))
        if isinstance(expr, TIn):
            return self.membership(expr, depth)
        if isinstance(expr, TQuant):
            collection = self.ref(expr.collection, depth)
            body = simplify(self.condition(expr.body, expr.depth))
            return self.lift(Quant(expr.kind, collection, self.vocabulary.count_key(collection.key), body,
                                   expr.collection.type.non_empty, expr.pos))
        raise LowerError(expr.pos, "type_error", "not a condition")

    def membership(self, expr: TIn, depth: int) -> Condition:
        element = self.operand(expr.element, depth)
        if isinstance(expr.collection, TRef):
            collection = self.ref(expr.collection, depth)
            body = compare("==", Ref(ITEM, ""), element)
            return self.lift(Quant("any", collection, self.vocabulary.count_key(collection.key), body,
                                   expr.collection.type.non_empty, expr.pos))
        collection = self.operand(expr.collection, depth)
        # an open parameter (see _OpenLowerer) stands for a list of any length: two values show its shape
        values = [Lit(value) for value in collection.value] if isinstance(collection, Lit) else \
            [collection, replace(collection, key=collection.key + "'")]
        return Or(tuple(compare("==", element, value) for value in values))

    def lift(self, quant: Quant) -> Condition:
        """The quantifier with each test of the flow in its body moved out by case split. Each split may
        double the condition, so their number is bounded: a condition past the bound is refused, not
        expanded for minutes (and would exceed what the engine compiles anyway)."""
        atom = _find_fact_atom(quant.body)
        if atom is None:
            return simplify(quant)
        self.cases += 1
        if self.cases > _MAX_CASES:
            raise LowerError(quant.pos, "unsupported_condition",
                             f"this quantifier tests the flow (outside its item) in too many ways: lifting those "
                             f"tests out takes more than {_MAX_CASES} case splits; move them out of the quantifier")
        cases = [(atom, True), (negate(atom), False)]
        return simplify(Or(tuple(And((guard, self.lift(replace(quant, body=simplify(_substitute(quant.body, atom,
                                                                                                   value))))))
                                 for guard, value in cases)))

    def presence(self, ref: TRef, depth: int) -> Ref:
        """The field whose presence says whether ``ref`` is null: an object (``product("commercial")``) is
        flattened into its fields, so it is there when a field it always has is."""
        found, value_type = self.ref(ref, depth), ref.type
        while isinstance(value_type, ObjectType):
            name, always = next((name, fact_field) for name, fact_field in value_type.fields.items()
                                if not (fact_field.nullable or fact_field.personal or
                                        isinstance(fact_field.type, ListType)))
            found, value_type = replace(found, key=self.vocabulary.fact_key(found.key, name)), always.type
        return found

    def ref(self, ref: TRef, depth: int) -> Ref:
        return Ref(FACT if ref.depth == 0 else ITEM, ref.key, ref.nullable)

    def operand(self, expr: TExpr, depth: int) -> Operand:
        if isinstance(expr, TLit):
            return Lit(expr.value)
        if isinstance(expr, TListLit):
            return Lit([item.value for item in expr.items])
        if isinstance(expr, TParam):
            return self.parameter(expr)
        if isinstance(expr, TRef):
            return self.ref(expr, depth)
        if isinstance(expr, TArith):
            left, right = self.operand(expr.left, depth), self.operand(expr.right, depth)
            if expr.op == "/" and isinstance(right, Lit) and right.value == 0:
                raise LowerError(expr.right.pos, "type_error", "division by a parameter whose value is zero")
            result = _arith(expr.op, left, right)
            if isinstance(result, Lit) and not finite(result.value):
                raise LowerError(expr.pos, "type_error", "this arithmetic overflows with the parameter values in force")
            return result
        raise LowerError(expr.pos, "type_error", "a condition cannot be used as a value here")

    def parameter(self, expr: TParam) -> Operand:
        if expr.name not in self.parameters:
            raise LowerError(expr.pos, "parameter_not_in_force", f"params.{expr.name} has no value in force")
        return Lit(_param_value(self.parameters[expr.name]))


class _OpenLowerer(_Lowerer):
    """Leaves parameters open, each a field of the flow: the condition keeps the shape it has for any value."""

    def parameter(self, expr: TParam) -> Operand:
        return Ref(FACT, f"params.{expr.name}")


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
        left = _one_nullable_field(condition)
        if left is not None:  # x not in [a, b, …]: x is null, or differs from each (one guard, not one per value)
            return simplify(Or((Present(left, False), And(tuple(Compare(negate_op(child.op), child.left, child.right)
                                                                for child in condition.children)))))
        return simplify(And(tuple(negate(child) for child in condition.children)))
    if isinstance(condition, Const):
        return Const(not condition.value)
    return replace(condition, kind="all" if condition.kind == "any" else "any", body=simplify(negate(condition.body)))


def _one_nullable_field(condition: Or) -> Ref | None:
    """The nullable field every branch compares with a constant, if there is one."""
    first = condition.children[0]
    if not (isinstance(first, Compare) and first.left.nullable):
        return None
    same = all(isinstance(child, Compare) and child.left == first.left and isinstance(child.right, Lit)
               for child in condition.children)
    return first.left if same else None


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




def _split_all(condition: Condition) -> Condition:
    """Every quantifier of an NNF condition split, innermost first."""
    if isinstance(condition, (And, Or)):
        return simplify(type(condition)(tuple(map(_split_all, condition.children))))
    if isinstance(condition, Quant):
        return _split(replace(condition, body=_split_all(condition.body)))
    return condition


def _split(quant: Quant) -> Condition:
    """The quantifier as parts durable_rules matches correctly: no ``or`` inside ``some`` ("some" distributes
    over "or"), and inside ``every`` ("every" distributes over "and") only an ``or`` whose branches test one
    field of the item, apart from tests that a field is null. durable_rules 2.0.28 decides an ``or`` inside
    ``$iany``/``$iall`` whose branches test different fields by the branch on the item's last such field."""
    body = _guard_empty(quant.body)
    if quant.kind == "any":
        parts = _normal_form(body, Or, quant.pos)
        return simplify(Or(tuple(replace(quant, body=simplify(And(part))) for part in parts)))
    parts = _normal_form(body, And, quant.pos)
    for part in parts:
        fields = {field for field in map(_tested_field, part) if field is not None}
        if len(fields) > 1:
            names = ", ".join(sorted((field[1].replace("__", ".") or "the item itself") if isinstance(field, tuple) else
                                     f"a nested '{'some' if field.kind == 'any' else 'every'}'" for field in fields))
            raise LowerError(quant.pos, "unsupported_condition",
                             f"inside 'every' (and 'not (some …)'), 'or' can join tests of one field of the item "
                             f"only, besides '== null' tests; this one tests {names}, which the engine cannot match")
    return simplify(And(tuple(replace(quant, body=simplify(Or(part))) for part in parts)))


def _guard_empty(body: Condition) -> Condition:
    """Inside a quantifier, "every" over an item's list that may be empty, with its empty case written out
    (durable_rules' $iall is false on an empty list), so splitting sees that ``or``."""
    if isinstance(body, (And, Or)):
        return type(body)(tuple(map(_guard_empty, body.children)))
    if isinstance(body, Quant) and body.kind == "all" and not body.non_empty:
        return Or((Compare("==", Ref(body.ref.scope, body.count_key), Lit(0)), replace(body, non_empty=True)))
    return body


def _normal_form(condition: Condition, outer: type, pos: int) -> list[tuple[Condition, ...]]:
    """``condition`` as an ``outer`` (Or: disjunctive, And: conjunctive normal form) of tuples of atoms."""
    if isinstance(condition, outer):
        parts = [part for child in condition.children for part in _normal_form(child, outer, pos)]
    elif isinstance(condition, (And, Or)):
        parts = [()]
        for child in condition.children:
            parts = [left + right for left, right in itertools.product(parts, _normal_form(child, outer, pos))]
            _check_size(parts, pos)
    else:
        parts = [(condition,)]
    _check_size(parts, pos)
    return parts


def _check_size(parts: list, pos: int) -> None:
    if len(parts) > _MAX_PARTS:
        raise LowerError(pos, "unsupported_condition",
                         f"this quantifier splits into more than {_MAX_PARTS} parts; split the rule")


def _tested_field(atom: Condition) -> Any:
    """The item field an atom makes durable_rules look up; None for a null test, matched on its own."""
    if isinstance(atom, Present):
        return None if not atom.present else (atom.ref.scope, atom.ref.key)
    if isinstance(atom, Compare):
        return atom.left.scope, atom.left.key
    return atom  # a nested quantifier counts as a field of its own
