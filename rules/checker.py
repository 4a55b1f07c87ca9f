"""Type-checks a parsed condition against the vocabulary and the visible parameters.

Besides types, it enforces what durable_rules can match, so a rule that loads
always compiles: inside a quantifier one side of a comparison is a field of the
current item and the other a constant or a field of the flow.
"""
from __future__ import annotations

import datetime as dt
import difflib
from typing import Iterable

from rules.ir import ARITH, finite
from rules.syntax import Attribute, Binary, Call, Expr, ListLiteral, Literal, Name, Quantifier, Unary
from rules.typed import (TAnd, TArith, TCompare, TExpr, TIn, TListLit, TLit, TNot, TOr, TParam, TPresent,
                         TQuant, TRef, refs)
from rules.types import (BOOL, DATE, NUMBER, STRING, EnumType, ListType, NullType, ObjectType, Type,
                         Vocabulary, comparable, describe)

__all__ = ["CheckError", "MAX_LIST_ITEMS", "check_condition", "suggest"]

_ORDERED = {"<", "<=", ">", ">="}
MAX_LIST_ITEMS = 500  # in a list written in a condition, as in a list parameter's value


class CheckError(Exception):
    def __init__(self, pos: int, code: str, message: str):
        super().__init__(message)
        self.pos, self.code, self.message = pos, code, message


def suggest(name: str, candidates: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


def check_condition(expr: Expr, vocabulary: Vocabulary, parameters: dict[str, Type]) -> tuple[TExpr, list[CheckError]]:
    """Return the typed condition and every error found in it."""
    checker = _Checker(vocabulary, parameters)
    typed = checker.boolean(expr, {}, 0)
    return typed, sorted(checker.errors, key=lambda error: error.pos)


class _Checker:
    def __init__(self, vocabulary: Vocabulary, parameters: dict[str, Type]):
        self.vocabulary = vocabulary
        self.parameters = parameters
        self.errors: list[CheckError] = []

    # conditions -----------------------------------------------------------
    def boolean(self, expr: Expr, scope: dict, depth: int) -> TExpr:
        try:
            return self._boolean(expr, scope, depth)
        except CheckError as error:
            self.errors.append(error)
            return TLit(True, BOOL, expr.pos)

    def _boolean(self, expr: Expr, scope: dict, depth: int) -> TExpr:
        if isinstance(expr, Binary) and expr.op in ("and", "or"):
            operands, joins = _chain(expr)
            children = tuple(self.boolean(operand, scope, depth) for operand in operands)
            return (TAnd if expr.op == "and" else TOr)(children, expr.pos, joins)
        if isinstance(expr, Unary) and expr.op == "not":
            return TNot(self.boolean(expr.operand, scope, depth), expr.pos)
        if isinstance(expr, Quantifier):
            return self.quantifier(expr, scope, depth)
        if isinstance(expr, Binary) and expr.op in ("in", "not in"):
            membership = self.membership(expr, scope, depth)
            return TNot(membership, expr.pos) if expr.op == "not in" else membership
        if isinstance(expr, Binary) and expr.op in ("==", "!=", *_ORDERED):
            return self.comparison(expr, scope, depth)
        value = self.value(expr, scope, depth)
        if _type(value) != BOOL:
            raise CheckError(expr.pos, "type_error", f"a condition must be true or false, not {describe(_type(value))}")
        if isinstance(value, TRef):
            return TCompare("==", value, TLit(True, BOOL, value.pos), value.pos)
        return value

    def quantifier(self, expr: Quantifier, scope: dict, depth: int) -> TExpr:
        collection = self.value(expr.collection, scope, depth)
        if not isinstance(collection, TRef) or not isinstance(collection.type, ListType):
            raise CheckError(expr.collection.pos, "type_error",
                             f"'{expr.kind}' needs a list field such as payments, not {describe(_type(collection))}")
        if collection.depth not in (0, depth):
            raise CheckError(expr.collection.pos, "unsupported_condition",
                             "a quantifier may range over a list of the flow or of the current item only")
        if expr.variable in scope or expr.variable in self.vocabulary.root.fields or expr.variable == "params":
            raise CheckError(expr.pos, "name_clash", f"variable {expr.variable!r} hides a field or another variable")
        inner = dict(scope, **{expr.variable: (depth + 1, collection.type.item)})
        body = self.boolean(expr.body, inner, depth + 1)
        return TQuant("any" if expr.kind == "some" else "all", collection, body, depth + 1, expr.pos)

    def membership(self, expr: Binary, scope: dict, depth: int) -> TExpr:
        element = self.value(expr.left, scope, depth)
        collection = self.value(expr.right, scope, depth)
        list_type = _type(collection)
        if not isinstance(list_type, ListType):
            raise CheckError(expr.right.pos, "type_error", f"'in' needs a list on its right, not {describe(list_type)}")
        for item in (collection.items if isinstance(collection, TListLit) else
                     (TLit(None, list_type.item, expr.right.pos),)):
            self._comparable("==", element, item, expr.pos)
        if isinstance(collection, TRef):
            if any(ref.depth == collection.depth != 0 for ref in refs(element)) or (
                    collection.depth == 0 and any(ref.depth > 0 for ref in refs(element))):
                raise CheckError(expr.pos, "unsupported_condition",
                                 "'in' over a list field needs a constant or a field of the flow on its left")
            if collection.depth not in (0, depth):
                raise CheckError(expr.right.pos, "unsupported_condition", "a list of an outer item cannot be searched here")
        else:
            self._one_field_side(element, TLit(None, NullType(), expr.pos), expr.pos, depth)
        return TIn(element, collection, expr.pos)

    def comparison(self, expr: Binary, scope: dict, depth: int) -> TExpr:
        left, right = self.value(expr.left, scope, depth), self.value(expr.right, scope, depth)
        for side, other in ((left, right), (right, left)):
            if isinstance(_type(side), NullType):
                if expr.op not in ("==", "!="):
                    raise CheckError(expr.pos, "type_error", "null can only be compared with == or !=")
                if not isinstance(other, TRef) or not other.nullable:
                    raise CheckError(other.pos, "type_error",
                                     f"{_text(other)} is never null; comparing it with null is always "
                                     f"{'false' if expr.op == '==' else 'true'}")
                if other.depth not in (0, depth):
                    raise CheckError(other.pos, "unsupported_condition", "a field of an outer item cannot be tested here")
                return TPresent(other, expr.op == "!=", expr.pos)
        self._comparable(expr.op, left, right, expr.pos)
        self._one_field_side(left, right, expr.pos, depth)
        return TCompare(expr.op, left, right, expr.pos)

    def _comparable(self, op: str, left: TExpr, right: TExpr, pos: int) -> None:
        left_type, right_type = _type(left), _type(right)
        if op in _ORDERED:
            if left_type != right_type or left_type not in (NUMBER, DATE):
                raise CheckError(pos, "type_error",
                                 f"'{op}' compares numbers or dates, not {describe(left_type)} with {describe(right_type)}")
            return
        if not comparable(left_type, right_type):
            raise CheckError(pos, "type_error", f"cannot compare {describe(left_type)} with {describe(right_type)}")
        for enum_side, other in ((left_type, right), (right_type, left)):
            if isinstance(enum_side, EnumType):
                for literal in _literals(other):
                    if literal.value not in enum_side.values:
                        raise CheckError(literal.pos, "invalid_enum_value",
                                         f"{literal.value!r} is not a value of {enum_side.name}"
                                         f"{suggest(literal.value, enum_side.values)}; it takes {', '.join(enum_side.values)}")
            if isinstance(enum_side, EnumType) and isinstance(_type(other), EnumType) and _type(other) != enum_side:
                raise CheckError(pos, "type_error", f"cannot compare {enum_side.name} with {_type(other).name}")

    def _one_field_side(self, left: TExpr, right: TExpr, pos: int, depth: int) -> None:
        """durable_rules matches a field against constants, flow fields or arithmetic on them."""
        sides = (left, right)
        if any(0 < ref.depth < depth for side in sides for ref in refs(side)):
            raise CheckError(pos, "unsupported_condition",
                             "a field of an outer quantifier's item cannot be used inside an inner quantifier")
        item_sides = [side for side in sides if any(ref.depth == depth > 0 for ref in refs(side))]
        if len(item_sides) == 2:
            raise CheckError(pos, "unsupported_condition",
                             "two fields of the same list item cannot be compared; compare one with a constant")
        if item_sides and not isinstance(item_sides[0], TRef):
            raise CheckError(pos, "unsupported_condition",
                             "put the item's field alone on one side of the comparison (no arithmetic on it)")
        if not item_sides and not any(isinstance(side, TRef) for side in sides) and any(
                any(True for _ in refs(side)) for side in sides):
            raise CheckError(pos, "unsupported_condition",
                             "one side of a comparison must be a single field (move the arithmetic to the other side)")

    # values ---------------------------------------------------------------
    def value(self, expr: Expr, scope: dict, depth: int) -> TExpr:
        if isinstance(expr, Literal):
            return TLit(expr.value, _literal_type(expr.value), expr.pos)
        if isinstance(expr, ListLiteral):
            if len(expr.items) > MAX_LIST_ITEMS:
                raise CheckError(expr.items[MAX_LIST_ITEMS].pos, "list_too_long",
                                 f"a list of {len(expr.items):,} values; a list holds at most {MAX_LIST_ITEMS}")
            items = tuple(self.value(item, scope, depth) for item in expr.items)
            if not all(isinstance(item, TLit) for item in items):
                raise CheckError(expr.pos, "type_error", "a list written in a condition may hold only constants")
            types = {item.type for item in items}
            if len(types) > 1:
                raise CheckError(expr.pos, "type_error", "a list must hold values of one type")
            return TListLit(items, ListType(types.pop() if types else STRING), expr.pos)
        if isinstance(expr, Unary) and expr.op == "-":
            operand = self.value(expr.operand, scope, depth)
            if _type(operand) != NUMBER:
                raise CheckError(expr.pos, "type_error", f"'-' needs a number, not {describe(_type(operand))}")
            if isinstance(operand, TLit):
                return TLit(-operand.value, NUMBER, expr.pos)
            return TArith("-", TLit(0, NUMBER, expr.pos), operand, NUMBER, expr.pos)
        if isinstance(expr, Binary) and expr.op in ("+", "-", "*", "/"):
            return self.arithmetic(expr, scope, depth)
        if isinstance(expr, (Name, Attribute, Call)):
            return self.path(expr, scope, depth)
        return self._boolean(expr, scope, depth)

    def arithmetic(self, expr: Binary, scope: dict, depth: int) -> TExpr:
        left, right = self.value(expr.left, scope, depth), self.value(expr.right, scope, depth)
        for side in (left, right):
            if _type(side) != NUMBER:
                raise CheckError(side.pos, "type_error", f"'{expr.op}' needs numbers, not {describe(_type(side))}")
        if expr.op == "/" and not isinstance(right, (TLit, TParam)):
            raise CheckError(expr.right.pos, "unsupported_condition", "divide only by a constant or a parameter")
        if expr.op == "/" and isinstance(right, TLit) and right.value == 0:
            raise CheckError(expr.right.pos, "type_error", "division by zero")
        if isinstance(left, TLit) and isinstance(right, TLit):
            value = ARITH[expr.op](left.value, right.value)  # of two finite numbers: may grow past, never raise
            if not finite(value):
                raise CheckError(expr.pos, "type_error", "this arithmetic overflows")
            return TLit(value, NUMBER, expr.pos)
        return TArith(expr.op, left, right, NUMBER, expr.pos)

    def path(self, expr: Expr, scope: dict, depth: int) -> TExpr:
        attributes: list[Attribute] = []
        root = expr
        while isinstance(root, Attribute):
            attributes.insert(0, root)
            root = root.base
        if isinstance(root, Name) and root.name == "params":
            if len(attributes) != 1:
                raise CheckError(root.pos, "type_error", "write a parameter as params.NAME")
            name = attributes[0].name
            if name not in self.parameters:
                raise CheckError(attributes[0].pos, "undefined_parameter",
                                 f"parameter {name!r} is not defined in this jurisdiction or its parents"
                                 f"{suggest(name, self.parameters)}")
            return TParam(name, self.parameters[name], attributes[0].pos)
        ref = self.root(root, scope, depth)
        for attribute in attributes:
            ref = self.attribute(ref, attribute)
        return ref

    def root(self, root: Expr, scope: dict, depth: int) -> TExpr:
        if isinstance(root, Name):
            if root.name in scope:
                item_depth, item_type = scope[root.name]
                return TRef(item_depth, "", item_type, False, root.name, root.pos)
            field = self.vocabulary.root.fields.get(root.name)
            if field is None:
                candidates = [*self.vocabulary.root.fields, *scope, "params"]
                raise CheckError(root.pos, "unknown_field", f"unknown field {root.name!r}{suggest(root.name, candidates)}")
            return TRef(0, root.name, field.type, field.nullable, root.name, root.pos)
        if not isinstance(root, Call):
            raise CheckError(root.pos, "type_error", "expected a field, a parameter or a function call")
        if root.function == "date":
            return self.date_literal(root)
        function = self.vocabulary.functions.get(root.function)
        if function is None:
            candidates = [*self.vocabulary.functions, "date"]
            raise CheckError(root.pos, "unknown_function", f"unknown function {root.function!r}{suggest(root.function, candidates)}")
        if len(root.args) != 1:
            raise CheckError(root.pos, "type_error", f"{root.function}() takes one argument")
        argument = root.args[0]
        text = f"{root.function}(…)"
        if isinstance(function.argument, EnumType):
            if not isinstance(argument, Literal) or argument.value not in function.argument.values:
                raise CheckError(argument.pos, "type_error",
                                 f"{root.function}() takes one of {', '.join(map(repr, function.argument.values))}")
            key, ref_depth = function.key(argument.value), 0
            text = f"{root.function}({argument.value!r})"
        else:
            target = self.value(argument, scope, depth)
            if isinstance(function.argument, ListType):
                if not isinstance(target, TRef) or not isinstance(target.type, ListType):
                    raise CheckError(argument.pos, "type_error", f"{root.function}() takes a list field")
            elif not isinstance(target, TRef) or target.depth != 0 or target.text not in function.argument:
                raise CheckError(argument.pos, "type_error",
                                 f"{root.function}() takes one of the fields {', '.join(function.argument)}")
            key = function.key(target.key)
            ref_depth = target.depth
            text = f"{root.function}({target.text})"
        return TRef(ref_depth, key, function.result.type, function.result.nullable, text, root.pos)

    def attribute(self, ref: TExpr, attribute: Attribute) -> TRef:
        if not isinstance(ref, TRef) or not isinstance(ref.type, ObjectType):
            raise CheckError(attribute.pos, "type_error", f"{_text(ref)} has no fields (it is {describe(_type(ref))})")
        field = ref.type.fields.get(attribute.name)
        text = f"{ref.text}.{attribute.name}"
        if field is None:
            raise CheckError(attribute.pos, "unknown_field",
                             f"{ref.type.name} has no field {attribute.name!r}{suggest(attribute.name, ref.type.fields)}")
        if field.personal:
            raise CheckError(attribute.pos, "personal_data",
                             f"{text} is a personal identifier; rules cannot read it")
        key = self.vocabulary.fact_key(ref.key, attribute.name) if ref.key else attribute.name
        return TRef(ref.depth, key, field.type, ref.nullable or field.nullable, text, ref.pos)

    def date_literal(self, call: Call) -> TLit:
        if len(call.args) != 1 or not isinstance(call.args[0], Literal) or not isinstance(call.args[0].value, str):
            raise CheckError(call.pos, "type_error", 'date() takes a text like "2024-01-01"')
        try:
            return TLit(dt.date.fromisoformat(call.args[0].value).toordinal(), DATE, call.pos)
        except ValueError:
            raise CheckError(call.args[0].pos, "invalid_date", f"{call.args[0].value!r} is not a date (YYYY-MM-DD)") from None


def _chain(expr: Binary) -> tuple[list[Expr], tuple[int, ...]]:
    """The operands of an ``and`` (or ``or``) chain, which the parser builds left-deep, and where each operator
    stands: a + chain is bounded by the parser's depth limit, an ``or`` of hundreds of alternatives is not."""
    op, operands, joins = expr.op, [], []
    while isinstance(expr, Binary) and expr.op == op:
        operands.append(expr.right)
        joins.append(expr.pos)
        expr = expr.left
    return [expr, *reversed(operands)], tuple(reversed(joins))


def _type(expr: TExpr) -> Type:
    if isinstance(expr, (TLit, TListLit, TParam, TRef, TArith)):
        return expr.type
    return BOOL


def _literals(expr: TExpr) -> list[TLit]:
    if isinstance(expr, TLit) and isinstance(expr.value, str):
        return [expr]
    return []


def _literal_type(value: object) -> Type:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return NullType()


def _text(expr: TExpr) -> str:
    return expr.text if isinstance(expr, TRef) else "this value"
