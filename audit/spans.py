"""Reading a log in spans of sequence numbers, for work over many records (replay, impact).

A span is a range of sequence numbers, so that work over a log can be divided between
processes (or machines sharing the file) without any of them holding more than the span
it reads. `plan_spans` finds the spans that hold the records a selection matches;
`read_span` gives those records in chain order, each with whether its link in the hash
chain verifies (the check `get_decision` makes for one record) and, when it does, its
decision and redacted flow parsed.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from audit.canonical import load_json
from audit.chain import RECORDS, Record, RowsBySeq, link_fault
from audit.schema import log_version
from audit.times import AFTER_ALL, BEFORE_ALL, lower_bound, upper_bound

__all__ = ["CHAIN_LINK", "UNREADABLE", "LoggedRecord", "Selection", "Span", "plan_spans", "read_span"]

# a record's decision id and jurisdiction: in version 2 from its derived row, or (not derived yet) itself
_DECISION_ID = {1: "d.decision_id", 2: "coalesce(l.decision_id, json_extract(d.decision, '$.decision_id'))"}
_JURISDICTION = {1: "d.jurisdiction", 2: "coalesce(l.jurisdiction, json_extract(d.decision, '$.jurisdiction'))"}
_SOURCE = {1: "decisions AS d", 2: "decisions AS d LEFT JOIN decision_lookups AS l ON l.seq = d.seq"}

# why a record cannot be used (LoggedRecord.problem_kind)
CHAIN_LINK = "chain link does not verify"
UNREADABLE = "record cannot be read"


@dataclass(frozen=True)
class Selection:
    """Which records: decided from `since` and until `until` (dates, as text or `date`, are whole UTC
    days; timestamps are instants; as `licit audit query` takes them), in `jurisdiction`; None means any."""

    since: str | date | None = None
    until: str | date | None = None
    jurisdiction: str | None = None

    def to_json(self) -> dict:
        def shown(when: str | date | None) -> str | None:
            return when if when is None or isinstance(when, str) else when.isoformat()

        return {"since": shown(self.since), "until": shown(self.until), "jurisdiction": self.jurisdiction}

    def bounds(self) -> tuple[str, str]:
        """The evaluated_at range as stored text, low inclusive, high exclusive (AuditInputError if malformed)."""
        low = lower_bound(self.since) if self.since is not None else BEFORE_ALL
        high = upper_bound(self.until) if self.until is not None else AFTER_ALL
        return low, high

    def _where(self, version: int) -> tuple[str, tuple]:
        """A condition on `decisions AS d` (and, in version 2, `decision_lookups AS l` joined to it)."""
        low, high = self.bounds()
        if self.jurisdiction is None:
            return "d.evaluated_at >= ? AND d.evaluated_at < ?", (low, high)
        return f"d.evaluated_at >= ? AND d.evaluated_at < ? AND {_JURISDICTION[version]} = ?", (
            low, high, self.jurisdiction)


@dataclass(frozen=True)
class Span:
    """Sequence numbers `first` to `last`, holding `count` records of the selection; `keep`, if
    given, the positions (0-based, ascending) among those records of the ones to read."""

    first: int
    last: int
    count: int
    keep: tuple[int, ...] | None = None

    @property
    def size(self) -> int:
        return self.count if self.keep is None else len(self.keep)


class LoggedRecord(NamedTuple):
    """A record as a batch job sees it (a tuple: one is made per record). `problem_kind` (CHAIN_LINK or
    UNREADABLE) and `problem` say why it cannot be used; `decision` and `flow` are then None."""

    seq: int
    decision_id: str
    ruleset_digest: str
    decision: dict | None
    flow: dict | None
    problem_kind: str | None = None
    problem: str | None = None


def plan_spans(conn: sqlite3.Connection, selection: Selection, width: int) -> list[Span]:
    """The spans, each at most `width` sequence numbers wide, that hold records of `selection`,
    in sequence order; memory grows with the number of spans only."""
    if selection == Selection():
        # every record: the chain numbers them without gaps (a gap is a removed record, which the
        # link check of the record after it reports), so the ends of the chain are enough
        first = conn.execute("SELECT seq FROM decisions ORDER BY seq LIMIT 1").fetchone()
        last = conn.execute("SELECT seq FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        if first is None:
            return []
        starts = range(first[0], last[0] + 1, width)
        return [Span(start, min(start + width - 1, last[0]), min(width, last[0] - start + 1)) for start in starts]
    version = log_version(conn)
    where, params = selection._where(version)
    rows = conn.execute(
        f"SELECT (d.seq - 1) / ?, count(*), min(d.seq), max(d.seq) FROM {_SOURCE[version]} WHERE {where} "
        "GROUP BY 1 ORDER BY 1", (width, *params),
    )
    return [Span(first, last, count) for _, count, first, last in rows]


def read_span(conn: sqlite3.Connection, span: Span, selection: Selection) -> Iterator[LoggedRecord]:
    """The records of `selection` in `span`, in sequence order (only those at `span.keep`, if given)."""
    low, high = selection.bounds()
    jurisdiction = selection.jurisdiction
    kept = iter(span.keep) if span.keep is not None else None
    next_kept = next(kept, None) if kept is not None else None
    position = -1  # of the current record among the selection's records in the span
    bounds = (span.first, span.last)
    version = log_version(conn)
    findings = obligations = None
    if version == 1:  # what a version-1 record's hash covers besides the record
        findings = RowsBySeq(conn, "SELECT seq, rule_id, jurisdiction, effect FROM findings WHERE seq BETWEEN ? AND ?",
                             bounds)
        obligations = RowsBySeq(conn, "SELECT seq, rule_id, action FROM obligations WHERE seq BETWEEN ? AND ?",
                                bounds)
    # one record either side of the span too: each record's link is checked against both neighbours
    rows = conn.execute(_span_rows(version), (span.first - 1, span.last + 1))
    before = current = None
    for after in itertools.chain(rows, [None]):
        if current is not None and span.first <= current[0] <= span.last and low <= current[2] < high and (
                jurisdiction is None or current[11] == jurisdiction):
            position += 1
            if kept is None or position == next_kept:
                if kept is not None:
                    next_kept = next(kept, None)
                rows_of = (findings.take(current[0]), obligations.take(current[0])) if version == 1 else None
                yield _logged(version, current, before, after, rows_of)
                if kept is not None and next_kept is None:
                    return
        before, current = current, after


def _span_rows(version: int) -> str:
    """The records of seq BETWEEN ? AND ?, as chain.RECORDS reads them, then decision id and jurisdiction."""
    select, source = RECORDS[version].split(" FROM ", 1)
    return f"{select}, {_DECISION_ID[version]}, {_JURISDICTION[version]} FROM {source} WHERE d.seq BETWEEN ? AND ? " \
           "ORDER BY d.seq"


def _logged(version: int, row: tuple, before: tuple | None, after: tuple | None, rows_of: tuple | None
            ) -> LoggedRecord:
    record = Record._make(row[:10])
    seq, decision_id = record.seq, row[10]
    prev_hash = before[7] if before is not None and before[0] == seq - 1 else None
    successor_prev_hash = after[6] if after is not None and after[0] == seq + 1 else None
    rows = ([r[1:] for r in rows_of[0]], [r[1:] for r in rows_of[1]]) if rows_of is not None else None
    fault = link_fault(version, record, rows, prev_hash, successor_prev_hash)
    if fault is not None:
        return LoggedRecord(seq, decision_id, record.ruleset_digest, None, None, CHAIN_LINK, fault)
    try:
        decision, flow = load_json(record.decision), load_json(record.flow)
    except ValueError as error:
        return LoggedRecord(seq, decision_id, record.ruleset_digest, None, None, UNREADABLE, str(error))
    return LoggedRecord(seq, decision_id, record.ruleset_digest, decision, flow)
