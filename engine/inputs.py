"""Turns what a caller sends (dict, JSON text, model) into a validated :class:`Flow`, and the
``as_of`` a caller may add into the instant the rules are selected for."""
from __future__ import annotations

import datetime as dt
import difflib
import json
from decimal import Decimal
from typing import Any, Callable

from pydantic import ValidationError

from engine.errors import FieldError, FlowValidationError
from engine.flow import Flow
from engine.identifiers import identifier_errors
from engine.jsontext import load_json

__all__ = ["parse_flow", "rules_instant", "field_path", "MAX_INPUT_BYTES"]

MAX_INPUT_BYTES = 1_000_000
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)  # rule packs date rules within these


def field_path(location: tuple) -> str:
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(flow)"


def _known_fields(location: tuple) -> list[str]:
    model: Any = Flow
    for part in location[:-1]:
        if isinstance(part, int):
            continue
        field = next((info for name, info in model.model_fields.items() if (info.alias or name) == part), None)
        if field is None:
            return []
        model = _model_in(field.annotation)
        if model is None:
            return []
    return [info.alias or name for name, info in model.model_fields.items()]


def _model_in(annotation: Any) -> Any:
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _message(error: dict) -> str:
    kind, location = error["type"], tuple(error["loc"])
    if kind == "extra_forbidden":
        near = difflib.get_close_matches(str(location[-1]), _known_fields(location), n=1)
        return "unknown field" + (f" (did you mean {near[0]!r}?)" if near else "")
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    if kind in ("enum", "literal_error", "string_pattern_mismatch", "less_than_equal", "greater_than",
                "greater_than_equal", "less_than") and isinstance(given, (str, int, float, Decimal)):
        shown = str(given) if isinstance(given, Decimal) else repr(given)  # as the JSON number was written
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        message += f" (got {shown})"
    return message


def parse_flow(flow: Flow | dict | str | bytes, source: str | None = None) -> Flow:
    """Validate a flow given as the model, a dict or JSON text; raise :class:`FlowValidationError`.

    A model is validated again: ``model_copy(update=...)`` and ``model_construct`` skip validation."""
    if isinstance(flow, Flow):
        # by alias: data_sharing[].from is the only name input may use, and pydantic cannot
        # re-validate an instance (whose fields are keyed by name) without accepting from_ too
        flow = flow.model_dump(by_alias=True, warnings=False)
    if isinstance(flow, (str, bytes)):
        flow = _document(flow, source)
    if not isinstance(flow, dict):
        raise FlowValidationError([FieldError("(flow)", f"a flow is a JSON object, not {_json_type(flow)}")], source)
    try:
        model = Flow.model_validate(flow)
    except ValidationError as error:
        raise FlowValidationError([FieldError(field_path(tuple(item["loc"])), _message(item))
                                   for item in error.errors(include_url=False)], source) from None
    except RecursionError:
        raise FlowValidationError([FieldError("(flow)", "nested too deeply")], source) from None
    errors = identifier_errors(model)
    if errors:
        raise FlowValidationError(errors, source)
    return model


def _document(text: str | bytes, source: str | None) -> object:
    if len(text) > MAX_INPUT_BYTES:
        raise FlowValidationError([FieldError("(flow)", f"input is larger than {MAX_INPUT_BYTES} bytes")], source)
    try:
        document, errors = load_json(text)
    except json.JSONDecodeError as error:
        raise FlowValidationError([FieldError("(flow)", f"not JSON: {error.msg} at line {error.lineno} column "
                                                        f"{error.colno}")], source) from None
    except (RecursionError, ValueError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise FlowValidationError([FieldError("(flow)", f"not acceptable JSON: {reason}")], source) from None
    if errors:
        raise FlowValidationError(errors, source)
    return document


def _json_type(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    return "a number" if number else kinds.get(type(value), type(value).__name__)


def rules_instant(flow: Flow, as_of: Any,
                  local_date: Callable[[dt.datetime], dt.date]) -> tuple[dt.datetime, dt.date]:
    """The instant the rules are selected for (``as_of`` if given, else ``requested_at``) and its local day.

    ``as_of`` is a datetime with a UTC offset, as docs/python-api.md documents. Its day in the
    jurisdiction's local time (``local_date``) must lie in 2000–2099."""
    field = "requested_at" if as_of is None else "as_of"
    if as_of is not None and not isinstance(as_of, dt.datetime):
        raise FlowValidationError([FieldError("as_of", f"expected a datetime with a UTC offset, not "
                                                       f"{type(as_of).__name__} {as_of!r}"[:200])])
    instant = flow.requested_at if as_of is None else as_of
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise FlowValidationError([FieldError("as_of", "needs a UTC offset")])
    try:
        day = local_date(instant)
    except OverflowError:  # within a day of datetime.min or max
        day = instant.date()
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FlowValidationError([FieldError(field, f"{instant.isoformat()} is outside 2000–2099 (local date {day})")])
    return instant, day
