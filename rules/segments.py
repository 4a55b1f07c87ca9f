"""A jurisdiction's effective rule set over time, computed in time linear in its rules and dates.

Each rule is lowered once per *piece*: a span of days over which its version, the overrides of it in
force and the values of the parameters it reads do not change. A *segment* is a span of days over
which nothing in the chain changes (no rule, override or parameter); its rules are the pieces in force
on its first day, assembled when the segment is first asked for, so a tree of N rules each with its
own start date costs N pieces, not N segments of up to N rules each.
"""
from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterator

from rules.capacity import size_problem
from rules.ir import And, Condition
from rules.lower import LowerError, lower, simplify
from rules.model import EffectiveRule, Override, Period, Rule, Segment
from rules.typed import params_used
from rules.types import Vocabulary

if TYPE_CHECKING:
    from rules.tree import RuleTree

__all__ = ["CompiledJurisdiction", "ParameterTimeline", "rule_pieces", "Unlowered"]

Unlowered = tuple[Any, str, str, str]  # a condition the engine cannot run: where, code, whose, why
_CACHED_SEGMENTS = 64  # assembled segments kept per jurisdiction (the engine compiles its own)
_DAY = dt.timedelta(days=1)


class ParameterTimeline:
    """Each parameter's value in one jurisdiction over time: the nearest jurisdiction of the chain with a value."""

    def __init__(self, tree: "RuleTree", code: str):
        starts: dict[str, set[dt.date]] = {}
        for member in tree.chain(code):
            for name, dated in tree.jurisdictions[member].parameter_values.items():
                starts.setdefault(name, set()).update(value.start for value in dated)
        nearest_first = [tree.jurisdictions[member].parameter_values for member in reversed(tree.chain(code))]
        self._changes: dict[str, tuple[list[dt.date], list[Any]]] = {}
        for name, days in starts.items():
            ordered = sorted(days)
            self._changes[name] = (ordered, [_value_on(nearest_first, name, day) for day in ordered])

    def starts(self, name: str) -> list[dt.date]:
        return self._changes.get(name, ([], []))[0]

    def on(self, names: set[str], day: dt.date) -> dict[str, Any]:
        """The values of ``names`` in force on ``day`` (a parameter with none is left out)."""
        found = {}
        for name in names:
            days, values = self._changes.get(name, ([], []))
            index = bisect.bisect_right(days, day) - 1
            if index >= 0:
                found[name] = values[index]
        return found


def _value_on(nearest_first: list[dict], name: str, day: dt.date) -> Any:
    """The value of the nearest jurisdiction that has one in force on ``day`` (values are sorted by start)."""
    for values in nearest_first:
        in_force = [value for value in values.get(name, ()) if value.start <= day]
        if in_force:
            return in_force[-1].value
    raise KeyError(name)  # only asked for on a day some value of the chain starts


def rule_pieces(rule: Rule, overrides: list[Override], timeline: ParameterTimeline,
                vocabulary: Vocabulary) -> Iterator[tuple[EffectiveRule | None, dt.date, list[Unlowered]]]:
    """The pieces of ``rule`` in one jurisdiction, with the day each starts and the conditions that cannot be lowered.

    ``overrides`` are those of the rule declared below its own jurisdiction in the chain, parents first.
    A piece whose conditions cannot all be lowered is yielded as None with its problems."""
    reads = {parameter.name for version in rule.versions for parameter in params_used(version.typed)}
    reads |= {parameter.name for override in overrides if override.typed is not None
              for parameter in params_used(override.typed)}
    days: set[dt.date] = set()
    for period in [version.period for version in rule.versions] + [override.period for override in overrides]:
        days.update(period.boundaries())
    for name in reads:
        days.update(timeline.starts(name))
    starts: list[dt.date | None] = [None, *sorted(days)]
    current: EffectiveRule | None = None
    for index, start in enumerate(starts):
        day = start or dt.date.min
        end = starts[index + 1] - _DAY if index + 1 < len(starts) else None
        version = rule.version_on(day)
        in_force = [override for override in overrides if override.period.contains(day)]
        if version is None or any(override.kind in ("replacement", "disable") for override in in_force):
            current = None
            continue
        exceptions = [override for override in in_force if override.kind == "exception"]
        parameters = timeline.on(reads, day)
        if (current is not None and current.version is version and current.parameters == parameters
                and len(current.exceptions) == len(exceptions)
                and all(mine is theirs for mine, theirs in zip(current.exceptions, exceptions))):
            current.period = Period(current.period.start, end)  # nothing this rule reads changed
            continue
        # each condition is blamed on its own declaration: an exception's is where the child wrote it;
        # an exception is lowered negated, as the rule uses it
        declarations = [(version.location, rule.id, version.typed, False)]
        declarations += [(exception.location, f"the exception to {rule.id}", exception.typed, True)
                         for exception in exceptions]
        parts: list[Condition] = []
        problems: list[Unlowered] = []
        for location, what, typed, negated in declarations:
            try:
                parts.append(lower(typed, parameters, vocabulary, negated=negated))
            except LowerError as error:
                problems.append((location, error.code, what, error.message))
        condition = simplify(And(tuple(parts))) if not problems else None
        too_large = condition is not None and size_problem(condition)
        if too_large:  # what durable_rules cannot run bounds the language, whichever matcher runs
            problems.append((version.location, "condition_too_large", rule.id, too_large))
        if problems:
            current = None
            yield None, day, problems
            continue
        current = EffectiveRule(rule, version, condition, exceptions, Period(start, end), parameters)
        yield current, day, []


class CompiledJurisdiction:
    """A jurisdiction's effective rules over time (its pieces), its segments, and the digest of its sources."""

    def __init__(self, code: str, chain: list[str], digest: str, utc_offset: str, boundaries: list[dt.date],
                 pieces: list[EffectiveRule], parameters_on: Callable[[dt.date], dict[str, Any]]):
        self.code = code
        self.chain = chain
        self.digest = digest
        self.utc_offset = utc_offset
        self.pieces = pieces  # in rule order: the chain root first, then file order
        self._starts = [dt.date.min, *boundaries]
        self._parameters_on = parameters_on
        self.segments: Sequence[Segment] = _Segments(self)
        self._rule_counts = self._count_rules()
        sign = -1 if utc_offset.startswith("-") else 1
        hours, minutes = map(int, utc_offset[1:].split(":"))
        self._zone = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))

    def _count_rules(self) -> list[int]:
        """How many rules are in force in each segment, by a sweep over the pieces' periods."""
        changes = [0] * (len(self._starts) + 1)
        for piece in self.pieces:
            changes[self._index(piece.period.start)] += 1
            if piece.period.end is not None:
                changes[self._index(piece.period.end + _DAY)] -= 1
        counts, running = [], 0
        for change in changes[:-1]:
            running += change
            counts.append(running)
        return counts

    def _index(self, day: dt.date | None) -> int:
        return 0 if day is None else self.segment_index(day)

    def segment_index(self, day: dt.date) -> int:
        return bisect.bisect_right(self._starts, day) - 1

    def segment_on(self, day: dt.date) -> Segment:
        return self.segments[self.segment_index(day)]

    def period(self, index: int) -> Period:
        start = self._starts[index] if index else None
        end = self._starts[index + 1] - _DAY if index + 1 < len(self._starts) else None
        return Period(start, end)

    def spans(self) -> list[tuple[Period, int]]:
        """Each segment's days and how many rules are in force over them."""
        return [(self.period(index), count) for index, count in enumerate(self._rule_counts)]

    def rule_count(self, index: int) -> int:
        """The number of rules in force in segment ``index``."""
        return self._rule_counts[index]

    def pieces_in_force(self, index: int) -> list[int]:
        """Indices (into ``pieces``) of the rules in force in segment ``index``, in rule order."""
        day = self._starts[index]
        return [number for number, piece in enumerate(self.pieces) if piece.period.contains(day)]

    def local_date(self, instant: dt.datetime) -> dt.date:
        """The calendar day of ``instant`` in this jurisdiction: rules are dated in local time."""
        return instant.astimezone(self._zone).date()

    def day_of(self, when: dt.date | dt.datetime) -> dt.date:
        """A day as given, or the local day of an instant (what a command's ``--as-of`` names)."""
        return self.local_date(when) if isinstance(when, dt.datetime) else when

    def instant_of(self, when: dt.date | dt.datetime) -> dt.datetime:
        """An instant as given, or for a day its noon in local time, as scenario tests date their cases."""
        if isinstance(when, dt.datetime):
            return when
        return dt.datetime.combine(when, dt.time(12), self._zone)


class _Segments(Sequence):
    """The segments of a jurisdiction, each assembled from the pieces when first asked for (a few are kept)."""

    def __init__(self, compiled: CompiledJurisdiction):
        self._compiled = compiled
        self._segment = lru_cache(maxsize=_CACHED_SEGMENTS)(self._assemble)

    def __len__(self) -> int:
        return len(self._compiled._starts)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[number] for number in range(len(self))[index]]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._segment(index)

    def _assemble(self, index: int) -> Segment:
        compiled = self._compiled
        period = compiled.period(index)
        rules = [compiled.pieces[number] for number in compiled.pieces_in_force(index)]
        return Segment(period, rules, compiled._parameters_on(period.start or dt.date.min))
