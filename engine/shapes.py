"""Conditions unrolled for the shape of a flow (how long its lists are), for durable_rules.

durable_rules matches a quantifier (``$iany``/``$iall``) by parsing the list again for each one and
shares no node between two of them: a rule over payments costs a few µs however rarely it fires.
A flow's lists are short (one or two payments, a few data-sharing entries), so for one *shape* (the
length of each list of objects some rule quantifies over) every quantifier over such a list becomes
an ``or`` (some) or an ``and`` (every) over its items, each item's fields flat keys of the fact
(``payments__0__apr``): plain tests, shared between rules like any other. A quantifier over a list of
enum values (``"quote" in channel.platform_activities``) becomes tests of flags that are present only
when the value is in the list (``channel__platform_activities__has__quote``), whatever the shape.

The unrolled condition holds exactly when the original does (the differential tests compare the
matchers on random flows); whatever cannot be unrolled is matched as it is.
"""
from __future__ import annotations

from typing import Any

from engine.facts import SEP
from rules.conditions import Scope
from rules.ir import FACT, ITEM, And, Arith, Compare, Condition, Const, Lit, Operand, Or, Present, Quant, Ref
from rules.lower import LowerError, compare, simplify
from rules.types import EnumType, ListType, ObjectType

__all__ = ["Shapes", "MAX_FACT_KEYS"]

MAX_FACT_KEYS = 240  # durable_rules refuses an object of more than 255 properties
_HAS = "has"


class _Unrollable(Exception):
    """A quantifier over a list that is neither of objects nor of enum values: match the condition as it is."""


class Shapes:
    """How a jurisdiction's conditions unroll: which lists are of objects (unrolled per shape) and which
    of enum values (turned into flags), and the flat fact of a flow for its shape."""

    def __init__(self, scope: Scope, conditions: list[Condition]):
        self._scope = scope
        self.object_lists: list[str] = []  # fact keys, in a fixed order: a shape lists their lengths in it
        self._enum_lists: dict[str, tuple[str, ...]] = {}  # fact key -> values, at the top level
        # list of objects -> its items' keys that are lists of enum values, with those values
        self._item_enum_lists: dict[str, dict[str, tuple[str, ...]]] = {}
        for condition in conditions:
            self._note(condition, scope, None)
        self.object_lists.sort()
        self._spread = [*self.object_lists, *self._enum_lists]  # keys whose lists become flat keys or flags

    def _note(self, condition: Condition, scope: Scope, within: str | None) -> None:
        if isinstance(condition, (And, Or)):
            for child in condition.children:
                self._note(child, scope, within)
        elif isinstance(condition, Quant):
            list_type = scope.types.get(condition.ref.key)
            item = list_type.item if isinstance(list_type, ListType) else None
            if isinstance(item, ObjectType) and condition.ref.scope == FACT:
                if condition.ref.key not in self.object_lists:
                    self.object_lists.append(condition.ref.key)
                self._note(condition.body, scope.of_items(condition), condition.ref.key)
            elif isinstance(item, EnumType):
                if condition.ref.scope == FACT:
                    self._enum_lists[condition.ref.key] = item.values
                elif within is not None:
                    self._item_enum_lists.setdefault(within, {})[condition.ref.key] = item.values

    @property
    def unrolls_flags(self) -> bool:
        return bool(self._enum_lists)

    def shape(self, facts: dict[str, Any]) -> tuple[int, ...]:
        return tuple(len(facts.get(key) or ()) for key in self.object_lists)

    def flat_fact(self, facts: dict[str, Any]) -> dict[str, Any]:
        """``facts`` with each list of objects spread into flat keys per item and each enum list into flags."""
        flat = facts.copy()
        for key in self._spread:
            flat.pop(key, None)
        for key in self._enum_lists:
            for value in facts.get(key) or ():
                flat[f"{key}{SEP}{_HAS}{SEP}{value}"] = True
        for key in self.object_lists:
            inner = self._item_enum_lists.get(key, {})
            for index, item in enumerate(facts.get(key) or ()):
                prefix = f"{key}{SEP}{index}{SEP}"
                for name, value in item.items():
                    if name in inner:
                        for element in value:
                            flat[f"{prefix}{name}{SEP}{_HAS}{SEP}{element}"] = True
                    else:
                        flat[prefix + name] = value
        return flat

    def unroll(self, condition: Condition, shape: tuple[int, ...]) -> Condition | None:
        """The condition for flows of this shape, in plain tests; None if it cannot be unrolled."""
        try:
            return simplify(_Unroller(self, dict(zip(self.object_lists, shape))).condition(condition, None))
        except (_Unrollable, LowerError):
            return None


class _Unroller:
    """Unrolls one condition for the list lengths ``lengths``; the current item is ``(list key, key prefix)``."""

    def __init__(self, shapes: Shapes, lengths: dict[str, int]):
        self.shapes = shapes
        self.lengths = lengths
        self.counts = {f"{key}{SEP}count": length for key, length in lengths.items()}

    def condition(self, condition: Condition, item: tuple[str, str] | None) -> Condition:
        if isinstance(condition, (And, Or)):
            return simplify(type(condition)(tuple(self.condition(child, item) for child in condition.children)))
        if isinstance(condition, Const):
            return condition
        if isinstance(condition, Present):
            found = self.operand(condition.ref, item)
            if isinstance(found, Lit):
                return Const((found.value is not None) == condition.present)
            return Present(found, condition.present)
        if isinstance(condition, Compare):
            return compare(condition.op, self.operand(condition.left, item), self.operand(condition.right, item))
        return self.quantifier(condition, item)

    def quantifier(self, quant: Quant, item: tuple[str, str] | None) -> Condition:
        some = quant.kind == "any"
        if quant.ref.scope == FACT and quant.ref.key in self.lengths:
            key = quant.ref.key
            parts = tuple(self.condition(quant.body, (key, f"{key}{SEP}{index}"))
                          for index in range(self.lengths[key]))
        elif quant.ref.scope == FACT and quant.ref.key in self.shapes._enum_lists:
            parts = tuple(self._with_value(quant, quant.ref.key, value, some)
                          for value in self.shapes._enum_lists[quant.ref.key])
        elif item is not None and quant.ref.key in self.shapes._item_enum_lists.get(item[0], {}):
            parts = tuple(self._with_value(quant, f"{item[1]}{SEP}{quant.ref.key}", value, some)
                          for value in self.shapes._item_enum_lists[item[0]][quant.ref.key])
        else:
            raise _Unrollable(quant.ref.key)
        if not parts:
            return Const(not some)
        return simplify(Or(parts) if some else And(parts))

    def _with_value(self, quant: Quant, key: str, value: str, some: bool) -> Condition:
        """For a list of enum values: some item holds iff some value present holds; every item holds iff no
        value present fails."""
        flag = Ref(FACT, f"{key}{SEP}{_HAS}{SEP}{value}")
        body = self.condition(_substitute(quant.body, Lit(value)), None)
        return And((Present(flag, True), body)) if some else Or((Present(flag, False), body))

    def operand(self, operand: Operand, item: tuple[str, str] | None) -> Operand:
        if isinstance(operand, Lit):
            return operand
        if isinstance(operand, Arith):
            return Arith(operand.op, self.operand(operand.left, item), self.operand(operand.right, item))
        if operand.scope == FACT:
            return Lit(self.counts[operand.key]) if operand.key in self.counts else operand
        if item is None or operand.key == "":
            raise _Unrollable(operand.key)
        return Ref(FACT, f"{item[1]}{SEP}{operand.key}", operand.nullable)


def _substitute(condition: Condition, value: Lit) -> Condition:
    """``condition`` with the current item (``Ref(ITEM, "")``, a list's scalar value) replaced by ``value``."""
    if isinstance(condition, (And, Or)):
        return type(condition)(tuple(_substitute(child, value) for child in condition.children))
    if isinstance(condition, Compare):
        return compare(condition.op, _value(condition.left, value), _value(condition.right, value))
    if isinstance(condition, Present):
        return Const(condition.present) if _value(condition.ref, value) is value else condition
    return condition


def _value(operand: Operand, value: Lit) -> Operand:
    if isinstance(operand, Ref) and operand.scope == ITEM and operand.key == "":
        return value
    if isinstance(operand, Arith):
        return Arith(operand.op, _value(operand.left, value), _value(operand.right, value))
    return operand
