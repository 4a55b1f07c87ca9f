"""A loaded rule tree: jurisdiction chains and the effective rule set of each span of time.

The effective rule set of a jurisdiction is the union of its chain's rules, less
those replaced or disabled below them, each guarded by the exceptions added below
it, with every parameter taken from the nearest jurisdiction that has a value in
force. It only changes on the boundary days of some rule, override or parameter,
so the tree is cut into segments; each rule is lowered once per span over which what it
reads does not change (rules/segments.py), so loading is linear in rules and dates.

Overrides of one rule must leave the effective rule unambiguous on every day: once a
jurisdiction replaces a rule, it and those below it override the replacing rule, not
the replaced one; and one jurisdiction does not both replace a rule and disable or
except it at the same time. Such clashes are load errors; overrides that change
nothing (a rule disabled twice, the same exception twice) are lint warnings.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from rules.errors import RuleError
from rules.model import EffectiveRule, Jurisdiction, Override, Period, Rule
from rules.segments import CompiledJurisdiction, ParameterTimeline, Unlowered, rule_pieces
from rules.types import Type, Vocabulary

__all__ = ["RuleTree", "CompiledJurisdiction", "at_local_noon"]

DEFAULT_UTC_OFFSET = "+08:00"


def at_local_noon(value: dt.date, utc_offset: str) -> dt.datetime:
    """A timestamp as it is; a date as noon that day at `utc_offset` (a jurisdiction's local time):
    rules are dated by local day, so a date names the rules in force all that day."""
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(f"{value.isoformat()}T12:00:00{utc_offset}")


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

    def changes(self, code: str) -> dict[str, int | None]:
        """What a remedy may change in ``code`` and at what cost (None: never): the vocabulary's defaults, then
        each jurisdiction of the chain's own, the nearest winning."""
        costs = {path: change.cost for path, change in self.vocabulary.changes.items()}
        for member in self.chain(code):
            if member in self.jurisdictions:
                costs.update(self.jurisdictions[member].changes)
        return costs

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

    def conflicting_overrides(self) -> list[RuleError]:
        """Overrides that make the effective rule ambiguous: load errors, at the later declaration."""
        return [error for error in self._override_clashes() if error.code == "conflicting_override"]

    def redundant_overrides(self) -> list[RuleError]:
        """Overrides that change nothing: lint warnings, at the later declaration."""
        return [error for error in self._override_clashes() if error.code == "redundant_override"]

    def _override_clashes(self) -> list[RuleError]:
        # parents first, then in file order: the later of two declarations is the one reported, naming the first
        overrides = sorted((override for jurisdiction in self.jurisdictions.values()
                            for override in jurisdiction.overrides if self._overrides_a_parent_rule(override)),
                           key=lambda item: (len(self.chain(item.jurisdiction)), item.location.file,
                                             item.location.line, item.location.col))
        clashes, reported = [], set()
        for index, later in enumerate(overrides):
            declaration = later.by_rule or later.location  # a replacing rule's versions are one declaration
            found = [(code, earlier) for earlier in overrides[:index] for code in [self._clash(earlier, later)] if code]
            if found and declaration not in reported:
                code, earlier = min(found, key=lambda item: item[0] != "conflicting_override")
                reported.add(declaration)
                clashes.append(_located(later.location, code, _clash_message(code, earlier, later)))
        return clashes

    def _overrides_a_parent_rule(self, override: Override) -> bool:
        # an override naming no parent rule is already a load error (unknown_rule, not_in_parent, ...)
        rule = self.rule(override.target)
        return rule is not None and rule.jurisdiction in self.chain(override.jurisdiction)[:-1]

    def _clash(self, earlier: Override, later: Override) -> str | None:
        """How ``later`` clashes with ``earlier``, declared in the same jurisdiction or above it."""
        same = earlier.jurisdiction == later.jurisdiction
        if (earlier.target != later.target or _overlap(earlier.period, later.period) is None
                or (earlier.by_rule is not None and earlier.by_rule == later.by_rule)
                or not (same or earlier.jurisdiction in self.chain(later.jurisdiction))):
            return None
        kinds = (earlier.kind, later.kind)
        if earlier.kind == "replacement" or (same and "replacement" in kinds):
            return "conflicting_override"
        if later.kind != "replacement" and (earlier.kind == "disable" or (same and kinds == ("exception", "disable"))):
            return "redundant_override"  # a disabled rule never fires: its exceptions and other disables do nothing
        if kinds == ("exception", "exception") and _words(earlier.condition) == _words(later.condition):
            return "redundant_override"
        return None  # a child refines its parent: replacing a rule it excepts or disables, disabling one it excepts

    def compile(self) -> list[RuleError]:
        """Compute every jurisdiction's pieces and segments; return the errors (e.g. a parameter not in force).

        A condition that cannot be lowered is one error, on the first day and jurisdiction it fails
        in, not one per piece and jurisdiction of the chain.
        """
        first: dict[Unlowered, tuple[dt.date, str]] = {}
        for code in sorted(self.jurisdictions):
            chain = self.chain(code)
            timeline = ParameterTimeline(self, code)
            overrides: dict[str, list[Override]] = {}
            for member in chain:
                for override in self.jurisdictions[member].overrides:
                    overrides.setdefault(override.target, []).append(override)
            pieces: list[EffectiveRule] = []
            for position, member in enumerate(chain):
                below = set(chain[position + 1:])
                for rule in self.jurisdictions[member].rules:
                    mine = [override for override in overrides.get(rule.id, ()) if override.jurisdiction in below]
                    for piece, day, problems in rule_pieces(rule, mine, timeline, self.vocabulary):
                        for problem in problems:
                            first[problem] = min(first.get(problem, (day, code)), (day, code))
                        if piece is not None:
                            pieces.append(piece)
            offset = next((self.jurisdictions[member].utc_offset for member in reversed(chain)
                           if self.jurisdictions[member].utc_offset), DEFAULT_UTC_OFFSET)
            self.compiled[code] = CompiledJurisdiction(code, chain, self.digest(code), offset, self.boundaries(code),
                                                       pieces, lambda day, code=code: self.parameters_on(code, day))
        return [_located(location, error_code, f"{what}: on {day} in {code}, {message}")
                for (location, error_code, what, message), (day, code) in first.items()]


def _overlap(first: Period, second: Period) -> Period | None:
    start = max((day for day in (first.start, second.start) if day), default=None)
    end = min((day for day in (first.end, second.end) if day), default=None)
    return None if start and end and start > end else Period(start, end)


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


_DOES = {"replacement": "{by} replaces", "disable": "this disables", "exception": "this adds an exception to"}
_DONE = {"replacement": "{by} already replaces in {where}", "disable": "is already disabled in {where}",
         "exception": "already has an exception in {where}"}
_INSTEAD = {"replacement": "replace", "disable": "disable", "exception": "add the exception to"}


def _clash_message(code: str, earlier: Override, later: Override) -> str:
    since = _overlap(earlier.period, later.period).start
    does = _DOES[later.kind].format(by=later.by_rule)
    done = _DONE[earlier.kind].format(by=earlier.by_rule, where=earlier.jurisdiction)
    message = f"{does} {later.target}, which {done}{f' from {since}' if since else ''} ({earlier.location})"
    if code == "redundant_override":
        if earlier.kind == "exception" and later.kind == "exception":
            return f"{message} with the same condition: it changes nothing"
        dead = "that exception" if earlier.kind == "exception" else "this"
        return f"{message}: the rule is disabled, so {dead} changes nothing"
    if earlier.kind == "replacement" and earlier.jurisdiction != later.jurisdiction:
        return f"{message}: {_INSTEAD[later.kind]} {earlier.by_rule} instead"
    return f"{message}: the effective rule would be ambiguous; keep one, or date them so they do not overlap"


def _located(location, code: str, message: str) -> RuleError:
    return RuleError(location.file, location.line, location.col, code, message)
