"""Impact of a draft rule tree: the logged flows decided again under the draft, at their own
instants or all at a proposed effective date, and what would change against what was logged.

Workers read spans of the log (engine.batch.span_runner), each deciding with its own engine on the
draft; what comes back is counted (Tally), so memory stays flat whatever the log's size.
Nothing is written to the log.
"""
from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from audit.spans import UNREADABLE, LoggedRecord, Selection, Span
from engine.core import Engine
from engine.errors import FlowValidationError, LicitError
from engine.batch.logged_rules import LoggedClock
from engine.batch.span_runner import plan, run_spans
from engine.matching import BATCH_MATCHER, resolve_matcher
from rules.tree import at_local_noon

__all__ = ["ImpactReport", "Tally", "draft_impact", "sample_spans"]

EXAMPLES = 5  # decision ids kept as examples of each transition, rule change or reason
OUTCOMES = ("allow", "conditional", "review", "deny")  # weakest first

# why the draft cannot decide a flow
NO_PACK = "the draft has no rule pack for the jurisdiction"
NO_RULES = "no rule of the draft is in force at the instant"
REFUSED = "the flow is refused"
FAILED = "engine error"


@dataclass
class Tally:
    """Counts by key, with the first EXAMPLES decision ids (in log order) and the first detail of each."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    def add(self, key: Hashable, decision_id: str, detail: str | None = None) -> None:
        self.counts[key] += 1
        shown = self.examples.setdefault(key, [])
        if len(shown) < EXAMPLES:
            shown.append(decision_id)
        if detail is not None:
            self.details.setdefault(key, detail)

    def merge(self, later: Tally) -> None:
        """Add the tally of records that come after these in the log."""
        self.counts.update(later.counts)
        for key, ids in later.examples.items():
            shown = self.examples.setdefault(key, [])
            shown.extend(ids[:EXAMPLES - len(shown)])
        for key, detail in later.details.items():
            self.details.setdefault(key, detail)

    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class ImpactReport:
    transitions: Tally = field(default_factory=Tally)  # (logged outcome, draft outcome)
    rules: Tally = field(default_factory=Tally)  # (jurisdiction, rule id, "starts" | "stops")
    undecidable: Tally = field(default_factory=Tally)  # (why, jurisdiction)
    unread: Tally = field(default_factory=Tally)  # why (audit.spans: CHAIN_LINK, UNREADABLE)
    rules_changed: int = 0  # decisions whose fired rules differ, whether or not their outcome does

    @property
    def evaluated(self) -> int:
        return self.transitions.total()

    @property
    def changed(self) -> int:
        return sum(count for (was, now), count in self.transitions.counts.items() if was != now)

    @property
    def considered(self) -> int:
        return self.evaluated + self.undecidable.total() + self.unread.total()

    def merge(self, later: ImpactReport) -> None:
        for name in ("transitions", "rules", "undecidable", "unread"):
            getattr(self, name).merge(getattr(later, name))
        self.rules_changed += later.rules_changed

    def to_json(self) -> dict:
        rank = {outcome: index for index, outcome in enumerate(OUTCOMES)}
        transitions = sorted(self.transitions.counts, key=lambda pair: (pair[0] == pair[1], rank.get(pair[0], 9),
                                                                          rank.get(pair[1], 9)))
        rules: dict[str, dict[str, list[dict]]] = {}
        for key in sorted(self.rules.counts, key=lambda key: (key[0], key[2], -self.rules.counts[key], key[1])):
            code, rule_id, change = key
            rules.setdefault(code, {"starts_firing": [], "stops_firing": []})[f"{change}_firing"].append(
                {"rule_id": rule_id, "count": self.rules.counts[key], "examples": self.rules.examples[key]})
        return {
            "considered": self.considered,
            "evaluated": self.evaluated,
            "changed": self.changed,
            "rules_changed": self.rules_changed,
            "transitions": [{"from": was, "to": now, "count": self.transitions.counts[was, now],
                             "examples": self.transitions.examples[was, now]} for was, now in transitions],
            "rules": rules,
            "undecidable": {"count": self.undecidable.total(), "reasons": [
                {"reason": why, "jurisdiction": code, "count": count, "detail": self.undecidable.details.get((why, code)),
                 "examples": self.undecidable.examples[why, code]}
                for (why, code), count in sorted(self.undecidable.counts.items())]},
            "not_read": {"count": self.unread.total(), "reasons": [
                {"reason": why, "count": count, "detail": self.unread.details.get(why),
                 "examples": self.unread.examples[why]} for why, count in sorted(self.unread.counts.items())]},
        }


@dataclass(frozen=True)
class _ImpactSpans:
    """The impact job of engine.batch.span_runner: each process decides on its own engine on the draft."""

    draft: str
    digests: tuple[tuple[str, str], ...]  # (jurisdiction, digest) of the draft as first loaded
    as_of: dt.datetime | dt.date | None
    matcher: str

    def start(self, conn: sqlite3.Connection) -> tuple[Engine, LoggedClock]:
        clock = LoggedClock()
        engine = Engine(rules_dir=self.draft, clock=clock, matcher=self.matcher)
        if _digests(engine) != self.digests:
            raise LicitError(f"the draft {self.draft} changed while its impact was being measured: run it again")
        return engine, clock

    def run(self, state: tuple[Engine, LoggedClock], records: Iterator[LoggedRecord]) -> ImpactReport:
        engine, clock = state
        report = ImpactReport()
        for record in records:
            if record.problem_kind is not None:
                report.unread.add(record.problem_kind, record.decision_id, record.problem)
                continue
            self._decide(engine, clock, record, report)
        return report

    def _decide(self, engine: Engine, clock: LoggedClock, record: LoggedRecord, report: ImpactReport) -> None:
        logged = record.decision
        code = logged.get("jurisdiction")
        try:
            clock.now = dt.datetime.fromisoformat(logged["evaluated_at"].replace("Z", "+00:00"))
            instant = dt.datetime.fromisoformat(logged["as_of"]) if self.as_of is None else self.as_of
            before = [finding["rule_id"] for finding in logged["findings"]]
            was = logged["outcome"]
        except (KeyError, TypeError, ValueError, AttributeError):
            report.unread.add(UNREADABLE, record.decision_id, "its decision lacks a readable instant or findings")
            return
        compiled = engine.tree.compiled.get(code)
        if compiled is None:
            report.undecidable.add((NO_PACK, code), record.decision_id, f"no rule pack for {code!r} in the draft")
            return
        try:
            decision = engine.evaluate(record.flow, as_of=at_local_noon(instant, compiled.utc_offset))
        except FlowValidationError as error:
            first = error.errors[0]
            why = NO_RULES if first.path in ("requested_at", "as_of") else REFUSED
            report.undecidable.add((why, code), record.decision_id, str(first))
            return
        except LicitError as error:
            report.undecidable.add((FAILED, code), record.decision_id, str(error))
            return
        after = [finding.rule_id for finding in decision.findings]
        report.transitions.add((was, decision.outcome), record.decision_id)
        if set(before) != set(after):
            report.rules_changed += 1
            for rule_id in sorted(set(after) - set(before)):
                report.rules.add((code, rule_id, "starts"), record.decision_id)
            for rule_id in sorted(set(before) - set(after)):
                report.rules.add((code, rule_id, "stops"), record.decision_id)


def _digests(engine: Engine) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((code, compiled.digest) for code, compiled in engine.tree.compiled.items()))


def sample_spans(spans: list[Span], size: int, seed: int = 0) -> list[Span]:
    """`size` records spread over `spans` in proportion to the records each holds (a sample
    stratified by log order, that is by time), chosen at random within each span; the same
    seed chooses the same records. Spans left with none are dropped."""
    total = sum(span.count for span in spans)
    if size >= total:
        return spans
    shares = [size * span.count / total for span in spans]
    quotas = [int(share) for share in shares]
    by_remainder = sorted(range(len(spans)), key=lambda index: (quotas[index] - shares[index], index))
    for index in by_remainder[:size - sum(quotas)]:
        quotas[index] += 1
    rng = random.Random(seed)
    return [Span(span.first, span.last, span.count, tuple(sorted(rng.sample(range(span.count), quota))))
            for span, quota in zip(spans, quotas) if quota]


def draft_impact(db: str | os.PathLike, draft: str | os.PathLike, selection: Selection = Selection(), *,
                 as_of: dt.datetime | dt.date | None = None, sample: int | None = None, workers: int | None = None,
                 progress: Callable[[int, int], None] | None = None, matcher: str | None = None) -> ImpactReport:
    """Decide the logged flows `selection` matches (a sample of `sample` of them, if given) under the
    rule tree `draft`, at their logged instants or all at `as_of` (a date: noon local time in each
    flow's jurisdiction), and count what changes against the logged decisions. A draft that does not
    load is refused (rules.RuleSetError, with every error). `progress` gets (records done, records in
    all) before the work and after each span. `matcher` decides (default: $LICIT_MATCHER, else BATCH_MATCHER)."""
    draft = os.fspath(Path(draft))
    matcher = resolve_matcher(matcher, BATCH_MATCHER)
    # refuses a draft that does not load, before any work
    digests = _digests(Engine(rules_dir=draft, matcher=matcher))
    spans = plan(db, selection)
    if sample is not None:
        spans = sample_spans(spans, sample)
    planned = sum(span.size for span in spans)
    if progress is not None:
        progress(0, planned)
    report = ImpactReport()
    for part in run_spans(db, selection, _ImpactSpans(draft, digests, as_of, matcher), spans, workers=workers):
        report.merge(part)
        if progress is not None:
            progress(report.considered, planned)
    return report
