"""Instants in the log: one UTC text form, so that text order is time order."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from audit.errors import AuditInputError
from rules.timestamps import parse_when

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


When = str | date | datetime  # a date (a whole UTC day) or an instant; text as rules.timestamps.parse_when reads it


def lower_bound(when: When, what: str = "--since") -> str:
    """Start of a filter range, inclusive: a date means 00:00 UTC that day."""
    return _bound(_start(_when(when, what)), timedelta(0))


def upper_bound(when: When, what: str = "--until") -> str:
    """End of a filter range as an exclusive bound: a date includes that whole UTC day,
    a timestamp includes that instant."""
    when = _when(when, what)
    return _bound(_start(when), _ONE_MICROSECOND if isinstance(when, datetime) else timedelta(days=1))


def _when(when: When, what: str) -> date | datetime:
    if not isinstance(when, str):
        if isinstance(when, datetime) and when.utcoffset() is None:
            raise AuditInputError(f"{what} {when.isoformat()} has no UTC offset")
        return when
    try:
        return parse_when(when)
    except ValueError as error:
        raise AuditInputError(f"{what} {when!r} {error}") from None


def _start(when: date | datetime) -> datetime:
    """A date as 00:00 UTC that day, or a timestamp as given."""
    return when if isinstance(when, datetime) else datetime(when.year, when.month, when.day, tzinfo=timezone.utc)


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
