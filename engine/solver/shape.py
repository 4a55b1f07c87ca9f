"""The shape of the flow model, read from its pydantic classes: each field's kind, range, precision and
nullability, so the symbolic flow validates as the real one does (engine.flow stays the one declaration)."""
from __future__ import annotations

import datetime as dt
import math
import types
import typing
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import lru_cache
from typing import Any

import annotated_types
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from engine.facts import _SKIPPED
from engine.flow import PERSONAL_FIELDS, Flow
from engine.solver.strings import CODE, TEXT

__all__ = ["FieldSpec", "fields_of", "enums"]

# kinds: bool, int, decimal (an integer count of 10**-places), string (an enum's or CODE or TEXT), date,
# members (a list of distinct enum values), object (a nested model), items (a list of objects)


@dataclass(frozen=True)
class FieldSpec:
    name: str  # the attribute
    key: str  # in JSON and in fact keys
    kind: str
    nullable: bool = False
    low: int | None = None  # bounds, inclusive, in units for a decimal; list lengths for members and items
    high: int | None = None
    places: int = 0
    domain: str | None = None  # for string and members: the enum's name, CODE or TEXT
    choices: tuple[str, ...] = ()  # an enum's values
    model: type[BaseModel] | None = None
    fact: bool = True  # rules read it (not requested_at, not the applicant's identifiers)

    @property
    def scale(self) -> int:
        return 10 ** self.places


def _unwrap(annotation: Any) -> tuple[Any, list, bool]:
    """The base type under Annotated and Optional, with the metadata found on the way."""
    metadata, nullable = [], False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            nullable = True
            annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
        elif origin is typing.Annotated:
            metadata += list(annotation.__metadata__)
            annotation = typing.get_args(annotation)[0]
        else:
            break
    flat = []
    for item in metadata:
        flat += item.metadata if isinstance(item, FieldInfo) else [item]
    return annotation, flat, nullable


def _bounds(metadata: list, scale: int = 1) -> tuple[int | None, int | None]:
    """Inclusive integer bounds (of units of 1/scale) from the field's constraints."""
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = math.ceil(_exact(item.ge) * scale)
        elif isinstance(item, annotated_types.Gt):
            low = math.floor(_exact(item.gt) * scale) + 1
        elif isinstance(item, annotated_types.Le):
            high = math.floor(_exact(item.le) * scale)
        elif isinstance(item, annotated_types.Lt):
            high = math.ceil(_exact(item.lt) * scale) - 1
        elif isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = item.max_length
    return low, high


def _exact(number: float) -> Fraction:
    return Fraction(repr(number))


def _values(enum: type[Enum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


def _spec(name: str, key: str, annotation: Any, metadata: list, fact: bool) -> FieldSpec:
    if name in _SKIPPED:
        return FieldSpec(name, key, "instant", fact=False)  # rules are selected by it, never read it
    base, inner, nullable = _unwrap(annotation)
    metadata = metadata + inner
    if typing.get_origin(base) is list:
        item, _, _ = _unwrap(typing.get_args(base)[0])
        low, high = _bounds(metadata)
        if isinstance(item, type) and issubclass(item, Enum):
            return FieldSpec(name, key, "members", nullable, low or 0, high or len(item), domain=item.__name__,
                             choices=_values(item))
        return FieldSpec(name, key, "items", nullable, low or 0, high, model=item, fact=fact)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return FieldSpec(name, key, "object", nullable, model=base, fact=fact)
    if isinstance(base, type) and issubclass(base, Enum):
        return FieldSpec(name, key, "string", nullable, domain=base.__name__, choices=_values(base), fact=fact)
    if base is bool:
        return FieldSpec(name, key, "bool", nullable, fact=fact)
    if base is int:
        return FieldSpec(name, key, "int", nullable, *_bounds(metadata), fact=fact)
    if base is float:
        places = next(item.func.places for item in metadata if hasattr(getattr(item, "func", None), "places"))
        return FieldSpec(name, key, "decimal", nullable, *_bounds(metadata, 10 ** places), places=places, fact=fact)
    if base is str:
        code = any(isinstance(item, StringConstraints) and item.pattern for item in metadata)
        return FieldSpec(name, key, "string", nullable, domain=CODE if code else TEXT, fact=fact)
    if base is dt.date:
        return FieldSpec(name, key, "date", nullable, dt.date.min.toordinal(), dt.date.max.toordinal(), fact=fact)
    raise TypeError(f"the solver cannot model {name}: {annotation!r}")


@lru_cache(maxsize=None)
def fields_of(model: type[BaseModel]) -> tuple[FieldSpec, ...]:
    specs = []
    for name, info in model.model_fields.items():
        fact = name not in _SKIPPED and not (model.__name__ == "Applicant" and name in PERSONAL_FIELDS)
        specs.append(_spec(name, info.alias or name, info.annotation, list(info.metadata), fact))
    return tuple(specs)


@lru_cache(maxsize=None)
def enums() -> dict[str, tuple[str, ...]]:
    """Every enum of the flow model, by name, with its values."""
    found: dict[str, tuple[str, ...]] = {}

    def visit(model: type[BaseModel]) -> None:
        for spec in fields_of(model):
            if spec.model is not None:
                visit(spec.model)
            elif spec.choices:
                found[spec.domain] = spec.choices
    visit(Flow)
    return found
