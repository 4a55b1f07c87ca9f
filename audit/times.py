"""Instants in the log: one UTC text form, so that text order is time order."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from audit.errors import AuditError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ONE_MICROSECOND = timedelta(microseconds=1)


def format_instant(moment: datetime) -> str:
    """`2026-11-24T02:15:00.123456Z`: fixed width, so SQL can compare and group it as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def utc_now() -> str:
    return format_instant(datetime.now(timezone.utc))


def parse_instant(text: object, what: str) -> datetime:
    """An RFC 3339 timestamp with an offset (`Z` or `+08:00`); AuditError naming `what` otherwise."""
    if not isinstance(text, str):
        raise AuditError(f"{what} must be an RFC 3339 timestamp, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AuditError(f"{what} {text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise AuditError(f"{what} {text!r} has no UTC offset (add Z or +08:00)")
    return moment


def normalize_instant(text: object, what: str) -> str:
    return format_instant(parse_instant(text, what))


def lower_bound(text: str, what: str = "--since") -> str:
    """Start of a filter range, inclusive: a date means 00:00 UTC that day."""
    if _DATE.match(text):
        return format_instant(_midnight_utc(text, what))
    return normalize_instant(text, what)


def upper_bound(text: str, what: str = "--until") -> str:
    """End of a filter range as an exclusive bound: a date includes that whole UTC day,
    a timestamp includes that instant."""
    if _DATE.match(text):
        return format_instant(_midnight_utc(text, what) + timedelta(days=1))
    return format_instant(parse_instant(text, what) + _ONE_MICROSECOND)


def _midnight_utc(text: str, what: str) -> datetime:
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise AuditError(f"{what} {text!r} is not a valid date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
