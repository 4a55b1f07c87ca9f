"""What can be known about a lowered condition (IR) without a flow: whether any flow
can satisfy it, values it compares a field with that the field never takes, and a
text equal for conditions that differ only in operand order. Lint's checks of
effective rule sets are built on these."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from rules.ir import And, Compare, Condition, Const, Lit, Or, Present, Quant, Ref
from rules.types import EnumType, ListType, ObjectType, Type, Vocabulary

__all__ = ["Scope", "canonical", "flow_scope", "impossible_values", "never_true"]

_MAX_CLAUSES = 512  # beyond this a condition is assumed satisfiable rather than analysed


@dataclass(frozen=True)
class Scope:
    """The fields a condition may read at one level: the flow, or the current item of a list."""

    types: dict[str, Type]
    label: str  # how a key is written for people: "" for the flow, "payments[]." for a payment
    separator: str  # of the parts of a flat key: channel__kind

    def label_of(self, ref: Ref) -> str:
        return self.label + ref.key.replace(self.separator, ".") if ref.key else self.label.rstrip(".")

    def of_items(self, quant: Quant) -> "Scope":
        """The scope inside a quantifier over the list ``quant.ref``."""
        list_type = self.types.get(quant.ref.key)
        item = list_type.item if isinstance(list_type, ListType) else None
        label = self.label_of(quant.ref) + "[]"
        if isinstance(item, ObjectType):
            return Scope(_flatten(item, "", {}, self.separator), label + ".", self.separator)
        return Scope({"": item} if item else {}, label, self.separator)


def flow_scope(vocabulary: Vocabulary) -> Scope:
    """The scope of a rule's condition: every key of the flat fact, as the engine builds it."""
    return Scope(_fact_types(vocabulary), "", vocabulary.key_separator)


def _fact_types(vocabulary: Vocabulary) -> dict[str, Type]:
    """The type of every key of the flat fact (and of each list's items)."""
    separator = vocabulary.key_separator
    types = _flatten(vocabulary.root, "", {}, separator)
    for function in vocabulary.functions.values():
        arguments = (function.argument.values if isinstance(function.argument, EnumType) else
                     [path.replace(".", separator) for path in function.argument]
                     if isinstance(function.argument, tuple) else [])
        for argument in arguments:
            key = function.key(argument)
            if isinstance(function.result.type, ObjectType):
                _flatten(function.result.type, key + separator, types, separator)
            else:
                types[key] = function.result.type
    return types


def _flatten(obj: ObjectType, prefix: str, into: dict[str, Type], separator: str) -> dict[str, Type]:
    for name, fact_field in obj.fields.items():
        if isinstance(fact_field.type, ObjectType):
            _flatten(fact_field.type, prefix + name + separator, into, separator)
        else:
            into[prefix + name] = fact_field.type
    return into


def impossible_values(condition: Condition, scope: Scope) -> Iterator[tuple[str, Any, tuple[str, ...]]]:
    """Comparisons of an enum field with a value outside the enum."""
    if isinstance(condition, (And, Or)):
        for child in condition.children:
            yield from impossible_values(child, scope)
    elif isinstance(condition, Quant):
        yield from impossible_values(condition.body, scope.of_items(condition))
    elif isinstance(condition, Compare) and isinstance(condition.right, Lit):
        field_type = scope.types.get(condition.left.key)
        if isinstance(field_type, EnumType) and condition.right.value not in field_type.values:
            yield scope.label_of(condition.left), condition.right.value, field_type.values


def _clauses(condition: Condition) -> list[list[Condition]] | None:
    """The condition as a disjunction of conjunctions of atoms; None when that is too large to try."""
    if isinstance(condition, Or):
        clauses = []
        for child in condition.children:
            expanded = _clauses(child)
            if expanded is None:
                return None
            clauses.extend(expanded)
    elif isinstance(condition, And):
        clauses = [[]]
        for child in condition.children:
            expanded = _clauses(child)
            if expanded is None:
                return None
            clauses = [clause + more for clause in clauses for more in expanded]
            if len(clauses) > _MAX_CLAUSES:
                return None
    else:
        clauses = [[condition]]
    return clauses if len(clauses) <= _MAX_CLAUSES else None


def never_true(condition: Condition, scope: Scope) -> str | None:
    """Why no flow can satisfy ``condition``, or None if some flow may."""
    clauses = _clauses(condition)
    if clauses is None:
        return None
    reasons = []
    for clause in clauses:
        reason = _conflict(clause, scope)
        if reason is None:
            return None
        reasons.append(reason)
    return "; ".join(dict.fromkeys(reasons))


@dataclass
class _Bounds:
    equal: set = field(default_factory=set)
    different: set = field(default_factory=set)
    low: tuple | None = None  # (value, strict)
    high: tuple | None = None
    absent: bool = False
    compared: bool = False


def _conflict(clause: list[Condition], scope: Scope) -> str | None:
    bounds: dict[Ref, _Bounds] = {}
    for atom in clause:
        if isinstance(atom, Const) and not atom.value:
            return "it is false"
        if isinstance(atom, Quant) and atom.kind == "any":
            inner = never_true(atom.body, scope.of_items(atom))
            if inner is not None:
                return f"no item of {scope.label_of(atom.ref)} can match: {inner}"
        if isinstance(atom, Present):
            bounds.setdefault(_plain(atom.ref), _Bounds()).absent |= not atom.present
        if isinstance(atom, Compare) and isinstance(atom.right, Lit):
            _narrow(bounds.setdefault(_plain(atom.left), _Bounds()), atom.op, atom.right.value)
    for ref, bound in bounds.items():
        reason = _contradiction(bound, scope.types.get(ref.key))
        if reason is not None:
            return f"{scope.label_of(ref)} {reason}"
    return None


def _plain(ref: Ref) -> Ref:
    return Ref(ref.scope, ref.key)  # the same field, however nullable the comparison saw it


def _narrow(bound: _Bounds, op: str, value: Any) -> None:
    bound.compared = True
    if op == "==":
        bound.equal.add(value)
    elif op == "!=":
        bound.different.add(value)
    elif op in (">", ">="):
        candidate = (value, op == ">")
        if bound.low is None or candidate[0] > bound.low[0] or (candidate[0] == bound.low[0] and candidate[1]):
            bound.low = candidate
    else:
        candidate = (value, op == "<")
        if bound.high is None or candidate[0] < bound.high[0] or (candidate[0] == bound.high[0] and candidate[1]):
            bound.high = candidate


def _contradiction(bound: _Bounds, field_type: Type | None) -> str | None:
    if bound.absent and bound.compared:
        return "is required to be null and compared with a value"
    if len(bound.equal) > 1:
        return f"cannot equal {' and '.join(map(repr, sorted(bound.equal, key=repr)))} at once"
    if bound.equal & bound.different:
        return f"cannot both equal and differ from {next(iter(bound.equal & bound.different))!r}"
    if isinstance(field_type, EnumType):
        if bound.equal and not bound.equal <= set(field_type.values):
            return f"is compared with {next(iter(bound.equal))!r}, which it never takes"
        if set(field_type.values) <= bound.different:
            return f"differs from every value it can take ({', '.join(field_type.values)})"
    low, high = bound.low, bound.high
    numbers = [value for value in bound.equal if isinstance(value, (int, float)) and not isinstance(value, bool)]
    for value in numbers:
        if (low and (value < low[0] or (value == low[0] and low[1]))) or \
                (high and (value > high[0] or (value == high[0] and high[1]))):
            return f"cannot equal {value!r} and be {_range(low, high)}"
    if low and high and (low[0] > high[0] or (low[0] == high[0] and (low[1] or high[1]))):
        return f"cannot be {_range(low, high)}"
    return None


def _range(low: tuple | None, high: tuple | None) -> str:
    parts = []
    if low:
        parts.append(f"{'>' if low[1] else '>='} {low[0]!r}")
    if high:
        parts.append(f"{'<' if high[1] else '<='} {high[0]!r}")
    return " and ".join(parts)


def canonical(condition: Condition) -> str:
    """A text equal for conditions that differ only in the order of and/or operands."""
    if isinstance(condition, (And, Or)):
        children = sorted(canonical(child) for child in condition.children)
        return f"{type(condition).__name__}({', '.join(children)})"
    if isinstance(condition, Quant):
        return f"Quant({condition.kind}, {condition.ref.key}, {canonical(condition.body)})"
    return repr(condition)
