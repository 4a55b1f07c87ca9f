"""Abstract syntax of conditions, as the parser builds them. ``pos`` is a character offset."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Binary", "Call", "Expr", "ListLiteral", "Literal", "Name", "Quantifier", "Unary", "Attribute"]


class Expr:
    pos: int


@dataclass(frozen=True)
class Literal(Expr):
    value: Any  # int, float, str, bool or None
    pos: int


@dataclass(frozen=True)
class ListLiteral(Expr):
    items: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True)
class Name(Expr):
    name: str
    pos: int


@dataclass(frozen=True)
class Attribute(Expr):
    base: Expr
    name: str
    pos: int  # offset of the attribute name


@dataclass(frozen=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True)
class Unary(Expr):
    op: str  # "not" or "-"
    operand: Expr
    pos: int


@dataclass(frozen=True)
class Binary(Expr):
    op: str  # and or == != < <= > >= in "not in" + - * /
    left: Expr
    right: Expr
    pos: int


@dataclass(frozen=True)
class Quantifier(Expr):
    kind: str  # "some" or "every"
    variable: str
    collection: Expr
    body: Expr
    pos: int
