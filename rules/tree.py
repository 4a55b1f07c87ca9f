"""A loaded rule tree: jurisdiction chains and the effective rule set of each span of time.

The effective rule set of a jurisdiction is the union of its chain's rules, less
those replaced or disabled below them, each guarded by the exceptions added below
it, with every parameter taken from the nearest jurisdiction that has a value in
force. It only changes on the boundary days of some rule, override or parameter,
so the tree is cut into segments and each segment is compiled once.
"""
from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from rules.errors import RuleError
from rules.ir import And, Condition
from rules.lower import LowerError, lower, simplify
from rules.model import EffectiveRule, Jurisdiction, Override, Period, Rule, Segment
from rules.types import Type, Vocabulary

__all__ = ["RuleTree", "CompiledJurisdiction"]

DEFAULT_UTC_OFFSET = "+08:00"


class CompiledJurisdiction:
    """A jurisdiction's effective rule set for every segment of time, and the digest of its sources."""

    def __init__(self, code: str, chain: list[str], digest: str, utc_offset: str, segments: list[Segment]):
        self.code = code
        self.chain = chain
        self.digest = digest
        self.utc_offset = utc_offset
        self.segments = segments
        self._starts = [segment.period.start or dt.date.min for segment in segments]
        sign = -1 if utc_offset.startswith("-") else 1
        hours, minutes = map(int, utc_offset[1:].split(":"))
        self._zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))

    def segment_index(self, day: dt.date) -> int:
        return bisect.bisect_right(self._starts, day) - 1

    def segment_on(self, day: dt.date) -> Segment:
        return self.segments[self.segment_index(day)]

    def local_date(self, instant: dt.datetime) -> dt.date:
        """The calendar day of ``instant`` in this jurisdiction: rules are dated in local time."""
        return instant.astimezone(self._zone).date()


class RuleTree:
    def __init__(self, root: Path, jurisdictions: dict[str, Jurisdiction], vocabulary: Vocabulary):
        self.root = root
        self.jurisdictions = jurisdictions
        self.vocabulary = vocabulary
        self.compiled: dict[str, CompiledJurisdiction] = {}

    # structure -------------------------------------------------------------
    def chain(self, code: str) -> list[str]:
        """Ancestors that exist, root first, then ``code``: CN-GD-SZ → [CN, CN-GD, CN-GD-SZ]."""
        parts = code.split("-")
        return [prefix for prefix in ("-".join(parts[:size]) for size in range(1, len(parts) + 1))
                if prefix in self.jurisdictions or prefix == code]

    def parent(self, code: str) -> str | None:
        chain = self.chain(code)
        return chain[-2] if len(chain) > 1 else None

    def parameter_types(self, code: str) -> dict[str, Type]:
        types: dict[str, Type] = {}
        for member in self.chain(code):
            for name, param_type in self.jurisdictions[member].parameter_types.items():
                types.setdefault(name, param_type)
        return types

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for jurisdiction in self.jurisdictions.values() for rule in jurisdiction.rules
                     if rule.id == rule_id), None)

    def files(self, code: str) -> dict[str, str]:
        """Full source of every rule file of the chain, keyed by path within the tree."""
        return {path: text for member in self.chain(code)
                for path, text in sorted(self.jurisdictions[member].files.items())}

    def digest(self, code: str) -> str:
        canonical = json.dumps(self.files(code), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    # time ------------------------------------------------------------------
    def parameter_sources(self, code: str, day: dt.date) -> dict[str, tuple[Any, str]]:
        """Each parameter's value in force on ``day`` and the nearest jurisdiction that sets it."""
        values: dict[str, tuple[Any, str]] = {}
        for member in reversed(self.chain(code)):
            for name, dated in self.jurisdictions[member].parameter_values.items():
                in_force = [value for value in dated if value.start <= day]
                if name not in values and in_force:
                    values[name] = (in_force[-1].value, member)
        return values

    def parameters_on(self, code: str, day: dt.date) -> dict[str, Any]:
        return {name: value for name, (value, _) in self.parameter_sources(code, day).items()}

    def boundaries(self, code: str) -> list[dt.date]:
        days: set[dt.date] = set()
        for member in self.chain(code):
            jurisdiction = self.jurisdictions[member]
            for rule in jurisdiction.rules:
                for version in rule.versions:
                    days.update(version.period.boundaries())
            for override in jurisdiction.overrides:
                days.update(override.period.boundaries())
            for dated in jurisdiction.parameter_values.values():
                days.update(value.start for value in dated)
        return sorted(days)

    def overrides_on(self, code: str, rule: Rule, day: dt.date) -> list[Override]:
        """Overrides of ``rule`` in force on ``day``, from jurisdictions below the rule's own."""
        chain = self.chain(code)
        below = chain[chain.index(rule.jurisdiction) + 1:]
        return [override for member in below for override in self.jurisdictions[member].overrides
                if override.target == rule.id and override.period.contains(day)]

    def effective(self, code: str, day: dt.date) -> tuple[list[EffectiveRule], dict[str, Any], list[RuleError]]:
        parameters = self.parameters_on(code, day)
        effective, errors = [], []
        for member in self.chain(code):
            for rule in self.jurisdictions[member].rules:
                version = rule.version_on(day)
                if version is None:
                    continue
                overrides = self.overrides_on(code, rule, day)
                if any(override.kind in ("replacement", "disable") for override in overrides):
                    continue
                exceptions = [override for override in overrides if override.kind == "exception"]
                try:
                    parts: list[Condition] = [lower(version.typed, parameters, self.vocabulary)]
                    parts += [lower(exception.typed, parameters, self.vocabulary, negated=True)
                              for exception in exceptions]
                except LowerError as error:
                    errors.append(_located(version.location, error.code, f"{rule.id}: {error.message} on {day} in {code}"))
                    continue
                effective.append(EffectiveRule(rule, version, simplify(And(tuple(parts))), exceptions))
        return effective, parameters, errors

    def compile(self) -> list[RuleError]:
        """Compute every jurisdiction's segments; return the errors (e.g. a parameter not in force)."""
        errors: list[RuleError] = []
        for code in sorted(self.jurisdictions):
            days = self.boundaries(code)
            segments = []
            for index, start in enumerate([None, *days]):
                end = days[index] - dt.timedelta(days=1) if index < len(days) else None
                rules, parameters, problems = self.effective(code, start or dt.date.min)
                errors.extend(problems)
                segments.append(Segment(Period(start, end), rules, parameters))
            offset = next((self.jurisdictions[member].utc_offset for member in reversed(self.chain(code))
                           if self.jurisdictions[member].utc_offset), DEFAULT_UTC_OFFSET)
            self.compiled[code] = CompiledJurisdiction(code, self.chain(code), self.digest(code), offset, segments)
        return errors


def _located(location, code: str, message: str) -> RuleError:
    return RuleError(location.file, location.line, location.col, code, message)
