"""The rule-file format, as pydantic models: what a compliance officer may write.

These models validate every YAML rule file and generate its JSON Schema
(``licit schema rules``), so editors can offer completion and errors.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WrapValidator,
                      model_validator)

__all__ = [
    "Citation", "DisabledRule", "Effect", "JurisdictionInfo", "LocalizedText", "Parameter",
    "ParameterValue", "Replacement", "RuleException", "RuleFile", "RuleSpec", "RuleVersion",
    "JURISDICTION_CODE", "PARAMETER_TYPES",
]

Effect = Literal["deny", "review", "require", "warn"]
PARAMETER_TYPES = ("number", "string", "bool", "date", "list[string]", "list[number]")

def _readable(value: str) -> str:
    # people read rule texts in decisions and listings: lines of printable text, nothing that drives a terminal
    bad = next((char for char in value if not char.isprintable() and char != "\n"), None)
    if bad is not None:
        raise ValueError(f"holds the character {bad!r} (U+{ord(bad):04X}); write printable text (new lines allowed)")
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=4000, strip_whitespace=True),
                 AfterValidator(_readable)]
# a jurisdiction code: a country, then at most three levels below it (CN-GD-SZ); always matched whole
JURISDICTION_CODE = r"[A-Z]{2}(-[A-Z0-9]{1,6}){0,3}"
RuleId = Annotated[str, StringConstraints(pattern=rf"^{JURISDICTION_CODE}(\.[A-Z0-9_]+)+$")]
ActionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Condition = Annotated[str, StringConstraints(min_length=1)]


def _check_period(start: "dt.date | None", end: "dt.date | None") -> None:
    if start is not None and end is not None and end < start:
        raise ValueError("effective_until is before effective_from")


def _date_only(value: Any) -> Any:
    # YAML already gives dates as datetime.date; a quoted "2021-01-01" is accepted too,
    # but never a number or a timestamp with a time of day.
    if isinstance(value, dt.datetime):
        raise ValueError("expected a calendar date like 2021-02-01, not a timestamp")
    if isinstance(value, (dt.date, str)):
        return value
    raise ValueError("expected a calendar date like 2021-02-01")


Date = Annotated[dt.date, BeforeValidator(_date_only), Field(strict=False)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class LocalizedText(_Model):
    """A text in Chinese and English; both are required."""

    zh: Text
    en: Text


class Citation(_Model):
    """The legal source of a rule; ``status`` says whether the text was checked."""

    source: Text
    article: Text | None = None
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    status: Literal["verified", "illustrative"]
    note: Text | None = None


class RuleVersion(_Model):
    """One dated version of a rule: its condition and citation in force over a period."""

    effective_from: Date
    effective_until: Date | None = Field(None, description="last day in force, inclusive")
    when: Condition
    citation: Citation

    @model_validator(mode="after")
    def _period(self) -> "RuleVersion":
        _check_period(self.effective_from, self.effective_until)
        return self


class Replacement(_Model):
    """This rule takes the place of a parent jurisdiction's rule while it is in force."""

    rule: RuleId
    reason: Text


class RuleSpec(_Model):
    """A rule: one condition (with ``when``) or several dated ``versions``."""

    id: RuleId
    title: Text
    effect: Effect
    action: ActionCode | None = Field(None, description="obligation code, required when effect is require")
    message: LocalizedText
    remedy: Text
    when: Condition | None = None
    citation: Citation | None = None
    effective_from: Date | None = None
    effective_until: Date | None = None
    versions: list[RuleVersion] | None = Field(None, min_length=1)
    replaces: Replacement | None = None

    @model_validator(mode="after")
    def _shape(self) -> "RuleSpec":
        single = (self.when, self.citation, self.effective_from)
        if self.versions is not None:
            if any(part is not None for part in single) or self.effective_until is not None:
                raise ValueError("a rule has either versions or when/citation/effective_from, not both")
        elif any(part is None for part in single):
            raise ValueError("a rule needs when, citation and effective_from (or a list of versions)")
        if (self.effect == "require") != (self.action is not None):
            raise ValueError("action is required with effect require, and only with it")
        _check_period(self.effective_from, self.effective_until)
        return self

    def dated_versions(self) -> list[RuleVersion]:
        if self.versions is not None:
            return list(self.versions)
        return [RuleVersion(effective_from=self.effective_from, effective_until=self.effective_until,
                            when=self.when, citation=self.citation)]


class ParameterValue(_Model):
    """A parameter's value from a date on (until the next value, or for good)."""

    from_: Date = Field(alias="from")
    value: Any
    citation: Citation | None = None
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


class Parameter(_Model):
    """A named, dated value rules read as ``params.NAME``; a child may set new values."""

    type: Literal[PARAMETER_TYPES] | None = Field(None, description="declared once, where first defined")
    description: Text | None = None
    values: list[ParameterValue] = Field(min_length=1)


class _Override(_Model):
    rule: RuleId
    reason: Text
    effective_from: Date | None = None
    effective_until: Date | None = None

    @model_validator(mode="after")
    def _period(self) -> "_Override":
        _check_period(self.effective_from, self.effective_until)
        return self


class RuleException(_Override):
    """A condition under which a parent jurisdiction's rule does not fire here."""

    when: Condition


class DisabledRule(_Override):
    """A parent jurisdiction's rule that does not apply here."""


_UTC_OFFSET = r"^[+-](0\d|1[0-4]):[0-5]\d$"  # real offsets run from -12:00 to +14:00


def _utc_offset(value: str) -> str:
    if not re.fullmatch(_UTC_OFFSET, value):
        raise ValueError(f"{value!r} is not a UTC offset like +08:00 (hours 00 to 14, minutes 00 to 59)")
    return value


def _change_cost(value: Any, _handler: Any) -> Any:
    # one message for both forms (a union would report each alternative's complaint)
    if value == "fixed" or (type(value) is int and 1 <= value <= 1000):
        return value
    raise ValueError(f"a cost is a whole number from 1 to 1000, or fixed; not {value!r}")


ChangeCost = Annotated[int | Literal["fixed"], WrapValidator(_change_cost)]


class JurisdictionInfo(_Model):
    name: LocalizedText | None = None
    utc_offset: Annotated[str, AfterValidator(_utc_offset), Field(json_schema_extra={"pattern": _UTC_OFFSET})] | None \
        = Field(None, description="local time used to date flows; inherited; +08:00 at the root by default")
    changes: dict[str, ChangeCost] = Field(
        {}, description="what a remedy may change in a flow here and at what cost (1-1000), or fixed; by flow path "
                        "(payments.apr; payments.add, payments.remove for an item); inherited, nearest wins")


class RuleFile(_Model):
    """One YAML file of a jurisdiction folder."""

    jurisdiction: JurisdictionInfo | None = None
    parameters: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")], Parameter] = {}
    rules: list[RuleSpec] = []
    exceptions: list[RuleException] = []
    disabled: list[DisabledRule] = []
