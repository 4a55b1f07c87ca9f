"""The loaded rule tree: jurisdictions, their rules, overrides and parameters, with source locations."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from rules.wording import printable
from rules.ir import Condition
from rules.schema import Citation, LocalizedText, RuleSpec
from rules.typed import TExpr
from rules.types import Type

__all__ = ["EffectiveRule", "Jurisdiction", "Location", "Override", "ParameterValueDef", "Period", "Rule",
           "Segment", "Version"]


@dataclass(frozen=True)
class Location:
    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return printable(f"{self.file}:{self.line}:{self.col}")  # a file name may hold anything


@dataclass(frozen=True)
class Period:
    """Days in force: ``start`` to ``end`` inclusive; ``end`` None means open-ended."""

    start: dt.date | None
    end: dt.date | None

    def contains(self, day: dt.date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)

    def boundaries(self) -> list[dt.date]:
        """Days on which being in force may change."""
        days = [self.start] if self.start else []
        if self.end is not None and self.end < dt.date.max:
            days.append(self.end + dt.timedelta(days=1))
        return days

    def __str__(self) -> str:
        return f"{self.start or '…'} – {self.end or '…'}"


@dataclass
class Version:
    period: Period
    condition: str
    typed: TExpr
    citation: Citation
    location: Location


@dataclass
class Rule:
    id: str
    jurisdiction: str
    spec: RuleSpec
    versions: list[Version]
    location: Location

    @property
    def replaces(self) -> str | None:
        return self.spec.replaces.rule if self.spec.replaces else None

    def version_on(self, day: dt.date) -> Version | None:
        return next((version for version in self.versions if version.period.contains(day)), None)


@dataclass
class Override:
    """An exception (with a condition) or a disable of a parent rule, in a child jurisdiction."""

    kind: str  # "exception", "disable" or "replacement"
    target: str
    jurisdiction: str
    reason: str
    period: Period
    location: Location
    condition: str | None = None
    typed: TExpr | None = None
    by_rule: str | None = None  # for replacements: the replacing rule


@dataclass
class ParameterValueDef:
    start: dt.date
    value: Any
    citation: Citation | None
    location: Location


@dataclass
class Jurisdiction:
    code: str
    directory: str
    files: dict[str, str] = field(default_factory=dict)  # path relative to the tree -> text
    name: LocalizedText | None = None
    utc_offset: str | None = None
    rules: list[Rule] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)
    parameter_types: dict[str, Type] = field(default_factory=dict)
    parameter_values: dict[str, list[ParameterValueDef]] = field(default_factory=dict)
    parameter_locations: dict[str, Location] = field(default_factory=dict)
    changes: dict[str, int | None] = field(default_factory=dict)  # remedy costs set here (None: fixed)


@dataclass
class EffectiveRule:
    """A rule as it applies in one jurisdiction over one segment of time."""

    rule: Rule
    version: Version
    condition: Condition
    exceptions: list[Override]


@dataclass
class Segment:
    """A span of days over which a jurisdiction's effective rule set does not change."""

    period: Period
    rules: list[EffectiveRule]
    parameters: dict[str, Any]
