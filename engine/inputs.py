"""Turns what a caller sends (dict, JSON text, model) into a validated :class:`Flow`, and the
``as_of`` a caller may add into the instant the rules are selected for."""
from __future__ import annotations

import datetime as dt
import difflib
import itertools
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any, BinaryIO, Iterable, Iterator

from pydantic import ValidationError

from engine.errors import FieldError, FlowValidationError
from engine.flow import Flow
from engine.identifiers import identifier_errors
from engine.jsontext import load_json
from rules.wording import brief, printable

if TYPE_CHECKING:
    from rules.tree import CompiledJurisdiction

__all__ = ["check_request_age", "field_path", "flow_document", "flow_documents", "json_document", "parse_flow", "rules_instant",
           "MAX_INPUT_BYTES", "MAX_REQUEST_AGE"]

MAX_INPUT_BYTES = 1_000_000
MAX_REQUEST_AGE = dt.timedelta(hours=24)  # Engine's default
MAX_CLOCK_SKEW = dt.timedelta(minutes=5)  # how far ahead of the engine's clock a caller's may run
_LINE_CHUNK = 1 << 16
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2099, 12, 31)  # rule packs date rules within these


def field_path(location: tuple) -> str:
    """``payments[1].apr``; a key of the caller's shown escaped (it may hold a newline or an escape sequence)."""
    path = ""
    for part in location:
        if isinstance(part, int) and not isinstance(part, bool) and abs(part) < 10**9:
            path += f"[{part}]"
        else:
            name = printable(part) if isinstance(part, str) else brief(part)
            path += f".{name}" if path else name
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
        name = location[-1] if isinstance(location[-1], str) else ""
        near = difflib.get_close_matches(name, _known_fields(location), n=1)
        return "unknown field" + (f" (did you mean {near[0]!r}?)" if near else "")
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    if kind in ("enum", "literal_error", "string_pattern_mismatch", "less_than_equal", "greater_than",
                "greater_than_equal", "less_than") and isinstance(given, (str, int, float, Decimal)):
        written = str(given) if isinstance(given, Decimal) else None  # a JSON number as it was written
        if written is not None and len(written) > 60:
            written = written[:57] + "..."
        message += f" (got {brief(given) if written is None else written})"
    return printable(message)


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


def _too_large(source: str | None, root: str = "(flow)", limit: int = MAX_INPUT_BYTES) -> FlowValidationError:
    return FlowValidationError([FieldError(root, f"input is larger than {limit:,} bytes")], source)


def flow_documents(paths: Iterable[str], stdin: BinaryIO) -> Iterator[tuple[str, str | Exception]]:
    """Each flow document ``paths`` name, as (where it comes from, its text or why it cannot be read): a file,
    or for "-" each non-blank line of ``stdin``. At most MAX_INPUT_BYTES + 1 bytes of a document are read
    (``/dev/zero`` or an endless line is refused, not read into memory); a line that is too long is skipped
    to its end, and the lines after it are read as usual. Text is UTF-8 whatever the locale."""
    for path in paths:
        if path == "-":
            yield from _lines(stdin)
        else:
            yield path, flow_document(path, stdin)


def flow_document(path: str, stdin: BinaryIO) -> str | Exception:
    """One flow document, whole: the file ``path``, or standard input for "-", read no further than
    MAX_INPUT_BYTES + 1 bytes; its text, or why it cannot be read."""
    try:
        if path == "-":
            data = stdin.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as file:
                data = file.read(MAX_INPUT_BYTES + 1)
    except OSError as error:
        return error
    return _too_large(path) if len(data) > MAX_INPUT_BYTES else _decoded(data)


def _lines(stream: BinaryIO) -> Iterator[tuple[str, str | Exception]]:
    for number in itertools.count(1):
        line = stream.readline(MAX_INPUT_BYTES + 1)
        if not line:
            return
        source = f"<stdin>:{number}"
        if len(line) > MAX_INPUT_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):  # the rest of the line, a chunk at a time
                line = stream.readline(_LINE_CHUNK)
            yield source, _too_large(source)
        elif line.strip():
            yield source, _decoded(line)


def _decoded(data: bytes) -> str | UnicodeDecodeError:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        return error


def _document(text: str | bytes, source: str | None) -> object:
    document, errors = json_document(text, source=source)
    if errors:
        raise FlowValidationError(errors, source)
    return document


def json_document(text: str | bytes, root: str = "(flow)", source: str | None = None,
                  limit: int | None = MAX_INPUT_BYTES) -> tuple[object, list[FieldError]]:
    """JSON text read by the flow's rules: FlowValidationError (at ``root``) if it is not JSON or is
    over ``limit``; else the document and the flaws found in it (repeated keys, overlong integers)."""
    # characters are at most 4 bytes: count the bytes only of a text that may be too large
    if limit is not None and (len(text) > limit or (isinstance(text, str) and len(text) > limit // 4
                                                    and len(text.encode("utf-8", "surrogatepass")) > limit)):
        raise _too_large(source, root, limit)
    try:
        return load_json(text)
    except json.JSONDecodeError as error:
        raise FlowValidationError([FieldError(root, f"not JSON: {error.msg} at line {error.lineno} column "
                                                    f"{error.colno}")], source) from None
    except (RecursionError, ValueError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else str(error)
        raise FlowValidationError([FieldError(root, f"not acceptable JSON: {reason}")], source) from None


def _json_type(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    return "a number" if number else kinds.get(type(value), type(value).__name__)


def check_request_age(requested_at: dt.datetime, now: dt.datetime, max_age: dt.timedelta) -> None:
    """Refuse a flow requested more than ``max_age`` before ``now`` (the engine's clock) or more than
    MAX_CLOCK_SKEW after it: ``requested_at`` selects the rules, so a caller who could date a flow freely
    could pick the rules it is decided under."""
    clock = now.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if requested_at < now - max_age:
        problem = f"is more than {_span(max_age)} before the engine's clock ({clock})"
    elif requested_at > now + MAX_CLOCK_SKEW:
        problem = f"is more than {_span(MAX_CLOCK_SKEW)} after the engine's clock ({clock})"
    else:
        return
    raise FlowValidationError([FieldError("requested_at", f"{requested_at.isoformat()} {problem}: a flow is decided "
                                                          f"when it is requested; to decide it under the rules of "
                                                          f"another instant, give as_of")])


def _span(delta: dt.timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0 and seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{delta.total_seconds():g} seconds"


def rules_instant(flow: Flow, as_of: Any, jurisdiction: CompiledJurisdiction) -> tuple[dt.datetime, dt.date]:
    """The instant the rules are selected for (``as_of`` if given, else ``requested_at``) and its local day.

    ``as_of`` is a datetime with a UTC offset or a date (its noon in the jurisdiction's local time),
    as docs/python-api.md documents. Its day in the jurisdiction's local time must lie in 2000–2099."""
    field = "requested_at" if as_of is None else "as_of"
    if as_of is not None and not isinstance(as_of, dt.date):
        raise FlowValidationError([FieldError("as_of", f"expected a datetime with a UTC offset or a date, not "
                                                       f"{type(as_of).__name__} {as_of!r}"[:200])])
    instant = flow.requested_at if as_of is None else jurisdiction.instant_of(as_of)
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise FlowValidationError([FieldError("as_of", "needs a UTC offset")])
    try:
        day = jurisdiction.local_date(instant)
    except OverflowError:  # within a day of datetime.min or max
        day = instant.date()
    if not FIRST_DAY <= day <= LAST_DAY:
        raise FlowValidationError([FieldError(field, f"{instant.isoformat()} is outside 2000–2099 (local date {day})")])
    return instant, day
