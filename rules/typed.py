"""The type-checked form of a condition, before parameters are filled in.

``depth`` says whose field a ``TRef`` reads: 0 the flow itself, n the item bound
by the n-th enclosing quantifier.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from rules.types import Type

__all__ = ["TAnd", "TArith", "TCompare", "TExpr", "TIn", "TListLit", "TLit", "TNot", "TOr", "TParam",
           "TPresent", "TQuant", "TRef", "refs", "params_used"]


class TExpr:
    pos: int


@dataclass(frozen=True)
class TLit(TExpr):
    value: Any
    type: Type
    pos: int


@dataclass(frozen=True)
class TListLit(TExpr):
    items: tuple[TLit, ...]
    type: Type  # ListType
    pos: int


@dataclass(frozen=True)
class TParam(TExpr):
    name: str
    type: Type
    pos: int


@dataclass(frozen=True)
class TRef(TExpr):
    depth: int
    key: str
    type: Type
    nullable: bool
    text: str  # the path as written, for messages
    pos: int


@dataclass(frozen=True)
class TArith(TExpr):
    op: str
    left: TExpr
    right: TExpr
    type: Type
    pos: int


@dataclass(frozen=True)
class TCompare(TExpr):
    op: str
    left: TExpr
    right: TExpr
    pos: int


@dataclass(frozen=True)
class TPresent(TExpr):
    ref: TRef
    present: bool
    pos: int


@dataclass(frozen=True)
class TIn(TExpr):
    element: TExpr
    collection: TExpr  # TListLit, TParam of a list type, or TRef to a list
    pos: int


@dataclass(frozen=True)
class TAnd(TExpr):
    children: tuple[TExpr, ...]
    pos: int
    joins: tuple[int, ...] = ()  # where each ``and`` between two children is written, when they were


@dataclass(frozen=True)
class TOr(TExpr):
    children: tuple[TExpr, ...]
    pos: int
    joins: tuple[int, ...] = ()  # where each ``or`` between two children is written, when they were


@dataclass(frozen=True)
class TNot(TExpr):
    operand: TExpr
    pos: int


@dataclass(frozen=True)
class TQuant(TExpr):
    kind: str  # "any" or "all"
    collection: TRef
    body: TExpr
    depth: int  # the depth of the bound item
    pos: int


def _children(expr: TExpr) -> tuple[TExpr, ...]:
    if isinstance(expr, (TArith, TCompare)):
        return expr.left, expr.right
    if isinstance(expr, TIn):
        return expr.element, expr.collection
    if isinstance(expr, (TAnd, TOr)):
        return expr.children
    if isinstance(expr, TNot):
        return (expr.operand,)
    if isinstance(expr, TPresent):
        return (expr.ref,)
    if isinstance(expr, TQuant):
        return expr.collection, expr.body
    return ()


def refs(expr: TExpr) -> Iterator[TRef]:
    if isinstance(expr, TRef):
        yield expr
    for child in _children(expr):
        yield from refs(child)


def params_used(expr: TExpr) -> Iterator[TParam]:
    if isinstance(expr, TParam):
        yield expr
    for child in _children(expr):
        yield from params_used(child)
