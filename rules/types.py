"""Types of the condition language and the vocabulary of facts rules may read.

``rules`` does not know the enrollment flow: the engine describes it as a
:class:`Vocabulary` (fields, their types, derived facts) and the loader
type-checks every condition against it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

__all__ = [
    "BOOL", "DATE", "NUMBER", "STRING", "Change", "EnumType", "FactField", "Function", "ListType", "NullType",
    "ObjectType", "ScalarType", "Type", "Vocabulary", "comparable", "describe",
]


class Type:
    """Base of every condition type."""


@dataclass(frozen=True)
class ScalarType(Type):
    name: str


@dataclass(frozen=True)
class EnumType(Type):
    name: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ListType(Type):
    item: Type
    non_empty: bool = False  # the input contract guarantees at least one item


@dataclass(frozen=True)
class NullType(Type):
    pass


@dataclass(frozen=True)
class FactField:
    """A field of an object: its type, whether it may be null, and whether rules may read it."""

    type: Type
    nullable: bool = False
    personal: bool = False


@dataclass(frozen=True, eq=False)
class ObjectType(Type):
    name: str
    fields: dict[str, FactField] = field(default_factory=dict)


NUMBER = ScalarType("number")
STRING = ScalarType("string")
BOOL = ScalarType("bool")
DATE = ScalarType("date")


@dataclass(frozen=True)
class Function:
    """A derived fact the engine computes, called as ``name(argument)``.

    ``argument`` is either an enum whose literal value is passed (``product("ctpl")``)
    or a tuple of the field paths it may be applied to (``province(insurer.branch_jurisdiction)``).
    ``key`` maps the argument (literal value, or the field's fact key) to the fact key of the result.
    """

    name: str
    doc: str
    argument: EnumType | tuple[str, ...] | ListType
    result: FactField
    key: Callable[[str], str]


@dataclass(frozen=True)
class Change:
    """Whether a remedy may change a field of the flow (or add or remove an item of a list), and at what cost.

    ``cost`` None: a remedy leaves it as it is. ``fact``: it is a fact about the person or the request,
    which no pack may make changeable."""

    cost: int | None
    note: str = ""
    fact: bool = False


@dataclass
class Vocabulary:
    root: ObjectType
    functions: dict[str, Function]
    key_separator: str = "__"
    changes: dict[str, Change] = field(default_factory=dict)  # by flow path (payments.apr, payments.add)

    def fact_key(self, *parts: str) -> str:
        return self.key_separator.join(parts)

    def count_key(self, list_key: str) -> str:
        """Fact key of the number of items of the list at ``list_key``; the engine fills it."""
        return f"{list_key}{self.key_separator}count"


def describe(type_: Type) -> str:
    if isinstance(type_, ScalarType):
        return type_.name
    if isinstance(type_, EnumType):
        return f"{type_.name} ({', '.join(type_.values)})"
    if isinstance(type_, ListType):
        return f"list of {describe(type_.item)}"
    if isinstance(type_, ObjectType):
        return type_.name
    return "null"


def comparable(left: Type, right: Type) -> bool:
    """Whether ``==`` may compare the two types (enums compare with strings)."""
    if left == right:
        return True
    textual = (STRING,)
    return (isinstance(left, EnumType) or left in textual) and (isinstance(right, EnumType) or right in textual)
