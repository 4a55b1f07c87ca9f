"""What rules can read: the vocabulary of the flow and its derived facts, and the flat fact itself.

durable_rules works best on small flat facts, so nested objects become keys joined
by ``__`` (``channel__kind``); lists of objects stay lists of flat objects. Every
list gets a ``__count``; derived facts (a jurisdiction's province, the payment
covering a product kind, …) are computed here, next to their declaration, so the
type checker and the engine cannot disagree.
"""
from __future__ import annotations

import datetime as dt
import functools
import types
import typing
from enum import Enum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from engine.flow import PERSONAL_FIELDS, Flow, Payment, Product, ProductKind
from engine.solver.changes import DEFAULT_CHANGES
from rules.types import (BOOL, DATE, NUMBER, STRING, EnumType, FactField, Function, ListType, ObjectType, Type,
                         Vocabulary)

__all__ = ["flow_vocabulary", "flow_facts", "province"]

SEP = "__"
_JURISDICTION_FIELDS = ("jurisdiction", "insurer.branch_jurisdiction", "vehicle.registration_jurisdiction")
_SKIPPED = {"requested_at"}  # rules are selected by this instant; conditions do not read it


def province(code: str) -> str:
    """The province of a jurisdiction code: CN-GD-SZ → CN-GD; CN-GD → CN-GD; CN → CN."""
    return "-".join(code.split("-")[:2])


def _field_type(annotation: Any) -> tuple[Type, bool]:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [arg for arg in args if arg is not type(None)]
        return _field_type(inner[0])[0], True
    if typing.get_origin(annotation) is typing.Annotated:
        return _field_type(args[0])
    if typing.get_origin(annotation) is list:
        return ListType(_field_type(args[0])[0]), False
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return EnumType(annotation.__name__, tuple(member.value for member in annotation)), False
        if issubclass(annotation, BaseModel):
            return _object_type(annotation), False
        if issubclass(annotation, bool):
            return BOOL, False
        if issubclass(annotation, (int, float)):
            return NUMBER, False
        if issubclass(annotation, str):
            return STRING, False
        if issubclass(annotation, dt.date):
            return DATE, False
    raise TypeError(f"no condition type for {annotation!r}")


@lru_cache(maxsize=None)
def _object_type(model: type[BaseModel]) -> ObjectType:
    fields = {}
    for name, info in model.model_fields.items():
        if name in _SKIPPED:
            continue
        field_type, nullable = _field_type(info.annotation)
        if isinstance(field_type, ListType) and any(getattr(item, "min_length", 0) for item in info.metadata):
            field_type = ListType(field_type.item, non_empty=True)
        personal = model.__name__ == "Applicant" and name in PERSONAL_FIELDS
        fields[info.alias or name] = FactField(field_type, nullable, personal)
    return ObjectType(model.__name__, fields)


@lru_cache(maxsize=None)
def flow_vocabulary() -> Vocabulary:
    kinds = _field_type(ProductKind)[0]
    functions = {
        "province": Function("province", "the province of a jurisdiction code (CN-GD-SZ → CN-GD)",
                             _JURISDICTION_FIELDS, FactField(STRING), lambda key: f"{key}{SEP}province"),
        "payment_for": Function("payment_for", "the payment covering the product of this kind (null if none)",
                                kinds, FactField(_object_type(Payment), nullable=True),
                                lambda kind: f"payment_for{SEP}{kind}"),
        "product": Function("product", "the product of this kind (null if the flow has none)",
                            kinds, FactField(_object_type(Product), nullable=True), lambda kind: f"product{SEP}{kind}"),
        "has_product": Function("has_product", "whether the flow has a product of this kind",
                                kinds, FactField(BOOL), lambda kind: f"has_product{SEP}{kind}"),
        "count": Function("count", "the number of items of a list", ListType(STRING), FactField(NUMBER),
                          lambda key: f"{key}{SEP}count"),
    }
    return Vocabulary(_object_type(Flow), functions, SEP, DEFAULT_CHANGES)


def _scalar(value: Any) -> Any:
    if type(value) in (str, int, float, bool):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.toordinal()
    return value


@lru_cache(maxsize=None)
def _plan(model: type[BaseModel], prefix: str, wanted: frozenset[str] | None) -> tuple[tuple[str, str, Any], ...]:
    """How to flatten one model class: (attribute, fact key, sub-plan or None), computed once.

    With ``wanted``, only those top-level keys are produced (list items are kept whole).
    """
    steps = []
    for name, info in model.model_fields.items():
        if name in _SKIPPED or (model.__name__ == "Applicant" and name in PERSONAL_FIELDS):
            continue
        key = prefix + (info.alias or name)
        nested = _model_in(info.annotation)
        if nested is not None and not _is_list(info.annotation):
            inner = _plan(nested, key + SEP, wanted)
            if inner:
                steps.append((name, key, ("object", inner)))
        elif wanted is not None and key not in wanted:
            continue
        elif nested is not None:
            steps.append((name, key, ("objects", _plan(nested, "", None))))
        else:
            steps.append((name, key, None))
    return tuple(steps)


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((found for arg in typing.get_args(annotation) if (found := _model_in(arg)) is not None), None)


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list or any(_is_list(arg) for arg in typing.get_args(annotation))


def _flatten(model: BaseModel, plan: tuple, into: dict[str, Any]) -> dict[str, Any]:
    for name, key, nested in plan:
        value = getattr(model, name)
        if value is None:
            continue  # absent keys are how durable_rules and the IR see null
        if nested is None:
            if isinstance(value, list):
                into[key] = [_scalar(item) for item in value]
                into[key + SEP + "count"] = len(value)
            else:
                into[key] = _scalar(value)
        elif nested[0] == "object":
            _flatten(value, nested[1], into)
        else:
            into[key] = [_flatten(item, nested[1], {}) for item in value]
            into[key + SEP + "count"] = len(value)
    return into


def flow_facts(flow: Flow, wanted: frozenset[str] | None = None) -> dict[str, Any]:
    """The flat fact rules are matched against (personal identifiers are left out).

    ``wanted`` limits it to the keys some rule reads: durable_rules parses every key it gets.
    """
    fact = _flatten(flow, _plan(Flow, "", wanted), {})
    for path in _JURISDICTION_FIELDS:
        key = path.replace(".", SEP)
        if wanted is None or key + SEP + "province" in wanted:
            fact[key + SEP + "province"] = province(functools.reduce(getattr, path.split("."), flow))
    for kind in ProductKind:
        product = next((item for item in flow.products if item.kind == kind.value), None)
        fact[f"has_product{SEP}{kind.value}"] = product is not None
        if product is not None:
            _flatten(product, _plan(Product, f"product{SEP}{kind.value}{SEP}", wanted), fact)
            _flatten(flow.payment_for(kind), _plan(Payment, f"payment_for{SEP}{kind.value}{SEP}", wanted), fact)
    return fact
