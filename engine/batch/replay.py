"""Replay: decide logged flows again under exactly the rule sets they were decided with, at the
instants they were decided, and say whether each decision comes out the same.

One decision (`replay_decision`) or every decision a selection of the log matches (`replay_log`,
over spans of the log in worker processes: engine.batch.span_runner). Nothing is written to the log.
"""
from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from audit import AuditError, get_decision
from audit.schema import open_reader
from audit.spans import UNREADABLE, LoggedRecord, Selection
from engine.decision import Decision
from engine.errors import FlowValidationError, LicitError
from engine.batch.logged_rules import LoggedClock, StoredRuleSets, UnusableRuleSet
from engine.batch.span_runner import plan, run_spans
from engine.matching import BATCH_MATCHER, resolve_matcher

__all__ = ["ReplayItem", "ReplaySummary", "decision_differences", "replay_decision", "replay_log"]

# what a decision holds that is not a judgement: each replay is a new decision, made now, by this Licit
_NOT_COMPARED = frozenset({"decision_id", "evaluated_at", "engine_version"})

# why a record is not replayed, besides audit.spans' CHAIN_LINK and UNREADABLE
RULESET = "stored rule set unusable"
REFUSED = "flow refused by this Licit"
FAILED = "engine error"


@dataclass(frozen=True)
class ReplayItem:
    """A record that did not replay identical: `differences` (what differs, logged against
    replayed) or, if it could not be replayed, `kind` and `reason`."""

    seq: int
    decision_id: str
    differences: dict | None = None
    kind: str | None = None
    reason: str | None = None

    @property
    def status(self) -> str:
        return "different" if self.differences is not None else "not replayable"

    def to_json(self) -> dict:
        shown = {"seq": self.seq, "decision_id": self.decision_id, "status": self.status}
        if self.differences is not None:
            shown["differences"] = self.differences
        else:
            shown["kind"], shown["reason"] = self.kind, self.reason
        return shown


@dataclass
class ReplaySummary:
    identical: int = 0
    different: int = 0
    not_replayable: Counter = field(default_factory=Counter)  # kind -> records

    @property
    def replayed(self) -> int:
        return self.identical + self.different + sum(self.not_replayable.values())

    @property
    def all_identical(self) -> bool:
        return self.different == 0 and not self.not_replayable

    def add(self, other: ReplaySummary) -> None:
        self.identical += other.identical
        self.different += other.different
        self.not_replayable.update(other.not_replayable)

    def to_json(self) -> dict:
        return {"replayed": self.replayed, "identical": self.identical, "different": self.different,
                "not_replayable": sum(self.not_replayable.values()),
                "not_replayable_by_kind": dict(sorted(self.not_replayable.items()))}


def decision_differences(logged: dict, replayed: dict) -> dict:
    """What differs between two decisions (as JSON objects), field by field, leaving out what every
    new decision has of its own (id, time, engine version); {} when they decide the same."""
    differences = {}
    for key in sorted((logged.keys() | replayed.keys()) - _NOT_COMPARED):
        was, now = logged.get(key), replayed.get(key)
        if was == now:
            continue
        if key in ("findings", "obligations") and isinstance(was, list) and isinstance(now, list):
            differences[key] = _list_differences(was, now)
        else:
            differences[key] = {"logged": was, "replayed": now}
    return differences


def _list_differences(was: list, now: list) -> dict:
    """Findings or obligations by rule id: which only the log has, which only the replay, which changed."""
    def by_rule(items: list) -> dict:
        return {item.get("rule_id") if isinstance(item, dict) else repr(item): item for item in items}

    logged, replayed = by_rule(was), by_rule(now)
    shown = {"only_logged": sorted(logged.keys() - replayed.keys(), key=str),
             "only_replayed": sorted(replayed.keys() - logged.keys(), key=str),
             "changed": sorted((rule for rule in logged.keys() & replayed.keys() if logged[rule] != replayed[rule]),
                               key=str)}
    if not any(shown.values()):
        shown["order"] = {"logged": list(logged), "replayed": list(replayed)}
    return {name: value for name, value in shown.items() if value}


class _Replayer:
    """Replays records, one process's engines on the stored rule sets at hand."""

    def __init__(self, conn: sqlite3.Connection, matcher: str | None = None):
        self.clock = LoggedClock()
        self.rulesets = StoredRuleSets(conn, self.clock, matcher=resolve_matcher(matcher, BATCH_MATCHER))

    def replay(self, record: LoggedRecord) -> tuple[ReplayItem | None, Decision | None]:
        """(None if identical, else what differs or why it was not replayed; the replayed decision)."""
        if record.problem is not None:
            return _not_replayable(record, record.problem_kind, record.problem)
        logged = record.decision
        try:
            as_of = dt.datetime.fromisoformat(logged["as_of"])
            self.clock.now = dt.datetime.fromisoformat(logged["evaluated_at"].replace("Z", "+00:00"))
        except (TypeError, KeyError, ValueError):
            return _not_replayable(record, UNREADABLE, "its decision has no readable as_of and evaluated_at")
        try:
            engine = self.rulesets.engine(record.ruleset_digest)
        except UnusableRuleSet as error:
            return _not_replayable(record, RULESET, str(error))
        try:
            replayed = engine.evaluate(record.flow, as_of=as_of)
        except FlowValidationError as error:
            return _not_replayable(record, REFUSED, str(error))
        except LicitError as error:
            return _not_replayable(record, FAILED, str(error))
        differences = decision_differences(logged, replayed.model_dump(mode="json"))
        if not differences:
            return None, replayed
        return ReplayItem(record.seq, record.decision_id, differences=differences), replayed


def _not_replayable(record: LoggedRecord, kind: str, reason: str) -> tuple[ReplayItem, None]:
    return ReplayItem(record.seq, record.decision_id, kind=kind, reason=reason), None


@dataclass(frozen=True)
class _ReplaySpans:
    """The replay job of engine.batch.span_runner: a part is (summary, items that did not replay identical)."""

    matcher: str | None = None

    def start(self, conn: sqlite3.Connection) -> _Replayer:
        return _Replayer(conn, self.matcher)

    def run(self, replayer: _Replayer, records: Iterator[LoggedRecord]) -> tuple[ReplaySummary, list[ReplayItem]]:
        summary, items = ReplaySummary(), []
        for record in records:
            item, _ = replayer.replay(record)
            if item is None:
                summary.identical += 1
            elif item.differences is not None:
                summary.different += 1
                items.append(item)
            else:
                summary.not_replayable[item.kind] += 1
                items.append(item)
        return summary, items


def replay_log(db: str | os.PathLike, selection: Selection = Selection(), *, workers: int | None = None,
               on_item: Callable[[ReplayItem], None] | None = None,
               progress: Callable[[int, int], None] | None = None, matcher: str | None = None) -> ReplaySummary:
    """Replay every record `selection` matches; returns the counts. Each record that does not replay
    identical goes to `on_item` as soon as its span is done, in log order; `progress` gets (records
    done, records in all) before the work and after each span. `matcher` decides (default: $LICIT_MATCHER,
    else BATCH_MATCHER)."""
    matcher = resolve_matcher(matcher, BATCH_MATCHER)  # a matcher that cannot be used fails before any work
    spans = plan(db, selection)
    planned = sum(span.count for span in spans)
    if progress is not None:
        progress(0, planned)
    total = ReplaySummary()
    for summary, items in run_spans(db, selection, _ReplaySpans(matcher), spans, workers=workers):
        total.add(summary)
        for item in items:
            if on_item is not None:
                on_item(item)
        if progress is not None:
            progress(total.replayed, planned)
    return total


def replay_decision(db: str | os.PathLike, decision_id: str, *, matcher: str | None = None) -> dict:
    """The logged and the replayed outcome and rule ids, what differs, and whether they are identical.
    A record or rule set that does not verify is not replayed (AuditError).

    The logged flow carries keyed hashes instead of the applicant's identifiers; rules
    cannot read those fields, so the replay decides exactly as the original did.
    """
    stored = get_decision(db, decision_id)
    if not stored["chain_link_verified"]:
        # a record that is not as it was logged would replay "identical" to whatever it now says
        raise AuditError(f"decision {decision_id} does not verify in the log ({stored['chain_link_problem']}); "
                         "not replayed (run `licit audit verify`)")
    record = LoggedRecord(stored["seq"], decision_id, stored["ruleset_digest"], stored["decision"], stored["flow"])
    conn, _ = open_reader(db)
    try:
        item, replayed = _Replayer(conn, matcher).replay(record)
    finally:
        conn.close()
    if replayed is None:
        raise AuditError(f"decision {decision_id} cannot be replayed: {item.reason}")
    logged = stored["decision"]
    return {"decision_id": decision_id, "ruleset_digest": stored["ruleset_digest"], "chain_link_verified": True,
            "digest_matches": replayed.ruleset.digest == stored["ruleset_digest"],
            "logged": _summary(logged["outcome"], logged["findings"]),
            "replayed": _summary(replayed.outcome, [finding.model_dump() for finding in replayed.findings]),
            "differences": item.differences if item is not None else {},
            "identical": item is None}


def _summary(outcome: str, findings: list) -> dict:
    return {"outcome": outcome, "rule_ids": sorted(finding["rule_id"] for finding in findings)}
