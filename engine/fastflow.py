"""A fast path for validating flows, with the exact model (engine.flow.Flow) behind it.

Pydantic builds the model's validator with a Python call for each enum value (``use_enum_values``),
each length bound of a constrained list, each amount's precision, each list that must not repeat,
each identifier that must be printable and the two checks across products and payments. The fast validator is the same core schema with
those calls taken out (enums become literals, bounds move into the list schemas), followed by one
check of the whole flow in Python for what they did. Whatever either refuses is validated again
by the exact model, so an accepted flow is exactly the model's and every error message is the
model's own. If pydantic's schema ever holds a call this module does not know, it is kept.
"""
from __future__ import annotations

import functools
import operator
from decimal import Decimal
from typing import Any

from pydantic import ValidationError
from pydantic_core import SchemaValidator

from engine.flow import Flow, _decimal_places, _places, _printable, _unique

__all__ = ["validate_flow"]

_VALUE = operator.attrgetter("value")
_CROSS_CHECKS = {Flow._one_product_per_kind.__func__, Flow._each_product_paid_once.__func__}
_PLACES = [("products", "premium", 2), ("products", "pricing_factor", 4), ("payments", "apr", 6)]
_UNIQUE_LISTS = 4  # channel.platform_activities, channel.platform_licenses, payments[].covers, data_sharing[].categories
_IDENTIFIERS = 5  # flow_id, channel.platform_id, channel.pilot_id, insurer.id, payments[].provider


def _removable(function: Any) -> str | None:
    """Which of the model's Python calls ``function`` is, if the whole-flow check does its work."""
    if isinstance(function, operator.attrgetter) and repr(function) == repr(_VALUE):
        return "enum value"
    if isinstance(function, functools.partial) and function.func.__name__ in ("max_length_validator",
                                                                            "min_length_validator"):
        return "length"
    if function is _unique:
        return "unique"
    if function is _printable:
        return "printable"
    if getattr(function, "__qualname__", "") == _places(0).func.__qualname__:
        return "places"
    if getattr(function, "__func__", None) in _CROSS_CHECKS:
        return "cross"
    return None


def _fast(schema: Any, removed: list[str]) -> Any:
    """The core schema with the calls the whole-flow check replaces taken out."""
    if isinstance(schema, list):
        return [_fast(item, removed) for item in schema]
    if not isinstance(schema, dict):
        return schema
    kind = schema.get("type")
    if kind == "enum":
        return {"type": "literal", "expected": [member.value for member in schema["members"]]}
    if kind in ("function-after", "function-wrap") and _removable(schema["function"]["function"]):
        what = _removable(schema["function"]["function"])
        removed.append(what)
        inner = _fast(schema["schema"], removed)
        if what == "length" and inner.get("type") == "list":
            bound = schema["function"]["function"]
            inner = dict(inner, **bound.keywords)
        elif what == "length":
            raise TypeError("a length bound on something other than a list")
        return inner
    return {key: _fast(value, removed) for key, value in schema.items()}


def _fast_validator() -> SchemaValidator | None:
    removed: list[str] = []
    try:
        schema = _fast(Flow.__pydantic_core_schema__, removed)
    except TypeError:
        return None
    # the whole-flow check covers exactly these: if pydantic builds the schema otherwise, use the model alone
    if removed.count("unique") != _UNIQUE_LISTS or removed.count("places") != len(_PLACES) or \
            removed.count("cross") != len(_CROSS_CHECKS) or removed.count("printable") != _IDENTIFIERS:
        return None
    # pydantic-core reuses a complete model class's own validator for a model schema ("prebuilt"), which
    # would bring every call back: the classes are marked incomplete while this validator is built
    models = [model for model in _models(schema)]
    completeness = {model: model.__dict__.get("__pydantic_complete__") for model in models}
    try:
        for model in models:
            type.__setattr__(model, "__pydantic_complete__", False)
        return SchemaValidator(schema)
    except Exception:  # a schema this module did not foresee: the model alone is always right
        return None
    finally:
        for model, complete in completeness.items():
            type.__setattr__(model, "__pydantic_complete__", complete)


def _models(schema: Any):
    """The model classes a core schema builds."""
    if isinstance(schema, list):
        for item in schema:
            yield from _models(item)
    elif isinstance(schema, dict):
        if schema.get("type") == "model":
            yield schema["cls"]
        for value in schema.values():
            yield from _models(value)


_FAST = _fast_validator()


def _whole_flow_holds(data: dict, flow: Flow) -> bool:
    """What the taken-out calls check, for a flow the fast validator accepted: identifiers are printable, no
    list repeats a value,
    no amount has more decimal places than its field allows (engine.flow._places: the JSON number as
    written, a Decimal, and the float), and each product kind appears once and is paid by exactly one
    payment, which covers only the flow's products."""
    channel = flow.channel
    identifiers = (flow.flow_id, channel.platform_id, channel.pilot_id, flow.insurer.id,
                   *[payment.provider for payment in flow.payments])
    if not all(value is None or value.isprintable() for value in identifiers):
        return False
    for values in (channel.platform_activities, channel.platform_licenses,
                   *[payment.covers for payment in flow.payments], *[share.categories for share in flow.data_sharing]):
        if len(set(values)) != len(values):
            return False
    for collection, field, places in _PLACES:
        for model, given in zip(getattr(flow, collection), data[collection]):
            number = getattr(model, field)
            if number is not None and (round(number, places) != number or (
                    isinstance(given[field], Decimal) and _decimal_places(given[field]) > places)):
                return False
    kinds = [product.kind for product in flow.products]
    covered = [kind for payment in flow.payments for kind in payment.covers]  # each payment's without repeats
    return len(set(kinds)) == len(kinds) and sorted(covered) == sorted(kinds)


def validate_flow(data: dict) -> Flow:
    """``Flow.model_validate(data)``: the same model, or the same ValidationError, in less time."""
    if _FAST is not None:
        try:
            flow = _FAST.validate_python(data)
        except ValidationError:
            pass
        else:
            if _whole_flow_holds(data, flow):
                return flow
    return Flow.model_validate(data)
