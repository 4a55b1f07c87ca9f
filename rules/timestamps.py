"""RFC 3339 timestamps and full dates, read exactly as the contract says: the one parser of the
flow's dates and of every date a licit command takes (``parse_when``; docs/commands.md, "Dates").

``datetime.fromisoformat`` alone also takes ``10:15+08:00`` (no seconds), ``+0800``,
``2026-W48-2`` and ``20261201``; pydantic's lax mode reads ``"1764547200"`` as a Unix
time. A caller who sends one of those has a bug worth hearing about, so the shape is
checked first. Imported by the CLI, so it stays free of pydantic.
"""
from __future__ import annotations

import datetime as dt
import re

__all__ = ["parse_date", "parse_timestamp", "parse_when", "DATE_EXAMPLE", "TIMESTAMP_EXAMPLE", "WHEN_FORMS"]

TIMESTAMP_EXAMPLE = "2026-11-24T10:15:00+08:00"
DATE_EXAMPLE = "2026-12-01"
_FULL_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_LOCAL_TIME = _FULL_DATE + r"[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
_TIMESTAMP = re.compile(_LOCAL_TIME + r"([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")
_WITHOUT_OFFSET = re.compile(_LOCAL_TIME)
_DATE = re.compile(_FULL_DATE)
WHEN_FORMS = f"a date like {DATE_EXAMPLE} nor an RFC 3339 timestamp with offset like {TIMESTAMP_EXAMPLE}"


def parse_timestamp(text: str) -> dt.datetime:
    """An RFC 3339 date-time with seconds and an offset (or Z); ValueError otherwise."""
    if _WITHOUT_OFFSET.fullmatch(text):
        raise ValueError(f"has no UTC offset; add one, like {TIMESTAMP_EXAMPLE} or 2026-11-24T02:15:00Z")
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError(f"expected an RFC 3339 timestamp with offset, like {TIMESTAMP_EXAMPLE}")
    return dt.datetime.fromisoformat(text.upper())  # 3.11 reads neither a lowercase t nor z


def parse_date(text: str) -> dt.date:
    """An RFC 3339 full-date, YYYY-MM-DD; ValueError otherwise."""
    if not _DATE.fullmatch(text):
        raise ValueError(f"expected a date like {DATE_EXAMPLE}")
    return dt.date.fromisoformat(text)


def parse_when(text: str) -> dt.date | dt.datetime:
    """What a command's date option takes: a date (a whole day; ``dt.date``) or an RFC 3339 timestamp with
    an offset (an instant; ``dt.datetime``); ValueError saying both forms otherwise."""
    if _DATE.fullmatch(text):
        try:
            return dt.date.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"is not a valid date ({error})") from None
    if _WITHOUT_OFFSET.fullmatch(text):
        return parse_timestamp(text)  # raises: it says to add an offset
    if _TIMESTAMP.fullmatch(text):
        try:
            return parse_timestamp(text)
        except ValueError as error:
            raise ValueError(f"is not a valid timestamp ({error})") from None
    raise ValueError(f"is neither {WHEN_FORMS}")
