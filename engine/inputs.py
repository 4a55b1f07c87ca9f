"""Turns what a caller sends (dict, JSON text, model) into a validated :class:`Flow`."""
from __future__ import annotations

import difflib
import json
from typing import Any

from pydantic import ValidationError

from engine.errors import FieldError, FlowValidationError
from engine.flow import Flow

__all__ = ["parse_flow", "field_path", "MAX_INPUT_BYTES"]

MAX_INPUT_BYTES = 1_000_000


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
                "greater_than_equal", "less_than") and isinstance(given, (str, int, float)):
        shown = repr(given) if len(repr(given)) <= 60 else repr(given)[:57] + "..."
        message += f" (got {shown})"
    return message


def parse_flow(flow: Flow | dict | str | bytes, source: str | None = None) -> Flow:
    """Validate a flow given as the model, a dict or JSON text; raise :class:`FlowValidationError`."""
    if isinstance(flow, Flow):
        return flow
    if isinstance(flow, (str, bytes)):
        if len(flow) > MAX_INPUT_BYTES:
            raise FlowValidationError([FieldError("(flow)", f"input is larger than {MAX_INPUT_BYTES} bytes")], source)
        try:
            flow = json.loads(flow)
        except json.JSONDecodeError as error:
            raise FlowValidationError([FieldError("(flow)", f"not JSON: {error.msg} at line {error.lineno} column "
                                                            f"{error.colno}")], source) from None
        except (RecursionError, ValueError) as error:
            reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
            raise FlowValidationError([FieldError("(flow)", f"not acceptable JSON: {reason}")], source) from None
    if not isinstance(flow, dict):
        raise FlowValidationError([FieldError("(flow)", f"a flow is a JSON object, not {type(flow).__name__}")], source)
    try:
        return Flow.model_validate(flow)
    except ValidationError as error:
        raise FlowValidationError([FieldError(field_path(tuple(item["loc"])), _message(item))
                                   for item in error.errors(include_url=False)], source) from None
    except RecursionError:
        raise FlowValidationError([FieldError("(flow)", "nested too deeply")], source) from None
