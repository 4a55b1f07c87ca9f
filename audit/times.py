"""Instants in the log: one UTC text form, so that text order is time order."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from audit.errors import AuditInputError

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ONE_MICROSECOND = timedelta(microseconds=1)
BEFORE_ALL = ""  # sorts before every instant the log can hold
AFTER_ALL = "\uffff"  # sorts after every instant the log can hold


def format_instant(moment: datetime) -> str:
    """`2026-11-24T02:15:00.123456Z`: fixed width (isoformat pads the year to four
    digits, strftime does not), so SQL can compare and group it as text."""
    return _utc_text(moment.replace(tzinfo=None) - moment.utcoffset())


def utc_now() -> str:
    return format_instant(datetime.now(timezone.utc))


def parse_instant(text: object, what: str) -> datetime:
    """An RFC 3339 timestamp with an offset (`Z` or `+08:00`); AuditInputError naming `what` otherwise."""
    if not isinstance(text, str):
        raise AuditInputError(f"{what} must be an RFC 3339 timestamp, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AuditInputError(f"{what} {text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise AuditInputError(f"{what} {text!r} has no UTC offset (add Z or +08:00)")
    return moment


def normalize_instant(text: object, what: str) -> str:
    try:
        return format_instant(parse_instant(text, what))
    except OverflowError:
        raise AuditInputError(f"{what} {text!r} is outside the years 0001-9999 in UTC") from None


def lower_bound(text: str, what: str = "--since") -> str:
    """Start of a filter range, inclusive: a date means 00:00 UTC that day."""
    return _bound(_start(text, what), timedelta(0))


def upper_bound(text: str, what: str = "--until") -> str:
    """End of a filter range as an exclusive bound: a date includes that whole UTC day,
    a timestamp includes that instant."""
    return _bound(_start(text, what), timedelta(days=1) if _DATE.fullmatch(text) else _ONE_MICROSECOND)


def _start(text: str, what: str) -> datetime:
    """A date as 00:00 UTC that day, or a timestamp as given."""
    if not _DATE.fullmatch(text):
        return parse_instant(text, what)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise AuditInputError(f"{what} {text!r} is not a valid date (YYYY-MM-DD)") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)


def _bound(moment: datetime, shift: timedelta) -> str:
    """`moment + shift` in UTC as stored text. Beyond what a datetime holds (UTC before
    year 1 or after 9999) a bound is before or after every instant in the log, so
    `--until 9999-12-31` means no upper bound rather than an error."""
    delta = shift - moment.utcoffset()
    try:
        return _utc_text(moment.replace(tzinfo=None) + delta)
    except OverflowError:
        return AFTER_ALL if delta > timedelta(0) else BEFORE_ALL


def _utc_text(naive_utc: datetime) -> str:
    return naive_utc.isoformat(timespec="microseconds") + "Z"
