"""Recomputing the hash chain of a log of either schema version.

The scan is the fast path: it re-hashes every record from its stored columns (and, in
version 1, its findings and obligations rows) and stops at the first record that does
not fit. Only then does audit.diagnose look closer to say whether a record was
changed, removed, inserted or moved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from audit.canonical import GENESIS_HASH, load_json, record_body_v1, record_hash, record_link_v1, record_text
from audit.problems import RECORD_MISSING, ROWS_CHANGED, Problem

Progress = Callable[[int, int], None]  # (records done, records in all), called as long work goes on
PROGRESS_EVERY = 4096  # records between two calls: often enough for a bar, too rarely to cost

# decision and flow are read as bytes: they are hashed as stored, without decoding
RECORDS = {
    1: "SELECT d.seq, d.recorded_at, d.evaluated_at, d.duration_us, d.outcome, d.ruleset_digest, d.prev_hash, "
       "d.hash, CAST(d.decision AS BLOB), CAST(d.flow AS BLOB) FROM decisions AS d",
    # outcome and digest from the derived row (which verify checks against the record), or from the record itself
    2: "SELECT d.seq, d.recorded_at, d.evaluated_at, d.duration_us, "
       "coalesce(l.outcome, json_extract(d.decision, '$.outcome')), "
       "coalesce(l.ruleset_digest, json_extract(d.decision, '$.ruleset.digest')), d.prev_hash, d.hash, "
       "CAST(d.decision AS BLOB), CAST(d.flow AS BLOB) FROM decisions AS d "
       "LEFT JOIN decision_lookups AS l ON l.seq = d.seq",
}


class Record(NamedTuple):
    seq: int
    recorded_at: str
    evaluated_at: str
    duration_us: int
    outcome: str
    ruleset_digest: str
    prev_hash: str
    hash: str
    decision: bytes
    flow: bytes


Rows = tuple[list, list] | None  # a version-1 record's (findings, obligations) rows; None in version 2


@dataclass
class Scan:
    """What one pass over the chain found."""

    count: int = 0
    last: Record | None = None  # the last record that fits
    break_at: Record | None = None  # the first record that does not fit after `last`
    problems: list[Problem] = field(default_factory=list)  # version 1: rows that disagree with their record
    orphans: list[int] = field(default_factory=list)  # version 1: sequence numbers with rows but no record
    first_use: dict[str, int] = field(default_factory=dict)  # rule-set digest -> first seq using it


def scan(conn: sqlite3.Connection, version: int, progress: Callable[[int], None] | None = None) -> Scan:
    """Check every record in chain order: its hash over its content, its sequence number
    and its link to the record before; `progress` gets the count checked."""
    if version == 1:
        return _scan_v1(conn, progress)
    result = Scan()
    expected_seq, expected_prev, last = 1, GENESIS_HASH, None
    # the chain's own columns only: the rule sets records use are read from the derived rows after
    # (which verify checks against the records), not parsed out of every record here
    for row in conn.execute("SELECT seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, "
                            "CAST(decision AS BLOB), CAST(flow AS BLOB) FROM decisions ORDER BY seq"):
        seq, recorded_at, evaluated_at, duration_us, prev_hash, stored_hash, decision, flow = row
        text = record_text(decision, duration_us, evaluated_at, flow, prev_hash, recorded_at, seq)
        if seq != expected_seq or prev_hash != expected_prev or record_hash(text) != stored_hash:
            result.break_at, result.last = fetch(conn, 2, seq), last and fetch(conn, 2, last)
            break
        expected_seq, expected_prev, last = seq + 1, stored_hash, seq
        result.count += 1
        if progress and not result.count % PROGRESS_EVERY:
            progress(result.count)
    else:
        result.last = last and fetch(conn, 2, last)
    # every rule set a record up to the break uses, with the first seq using it
    for digest, seq in conn.execute(
            "SELECT json_extract(decision, '$.ruleset.digest'), min(seq) FROM decisions "
            "WHERE seq <= ? AND seq > (SELECT coalesce(max(seq), 0) FROM decision_lookups) GROUP BY 1",
            (result.count,)):
        result.first_use[digest] = seq
    for digest, seq in conn.execute("SELECT ruleset_digest, min(seq) FROM decision_lookups WHERE seq <= ? "
                                    "GROUP BY ruleset_digest", (result.count,)):
        result.first_use[digest] = min(seq, result.first_use.get(digest, seq))
    return result


def _scan_v1(conn: sqlite3.Connection, progress: Callable[[int], None] | None) -> Scan:
    result = Scan()
    findings = RowsBySeq(conn, "SELECT seq, rule_id, jurisdiction, effect, evaluated_at, outcome FROM findings")
    obligations = RowsBySeq(conn, "SELECT seq, rule_id, action FROM obligations")
    expected_seq, expected_prev, last = 1, GENESIS_HASH, None
    for row in conn.execute(f"{RECORDS[1]} ORDER BY d.seq"):
        seq, recorded_at, evaluated_at, duration_us, outcome, digest, prev_hash, stored_hash, decision, flow = row
        finding_rows = findings.take(seq)
        if any(r[4] != evaluated_at or r[5] != outcome for r in finding_rows):
            result.problems.append(
                Problem(seq, ROWS_CHANGED, "a findings row's evaluated_at/outcome differs from its record's")
            )
        record = Record._make(row)
        rows = ([r[1:4] for r in finding_rows], [r[1:3] for r in obligations.take(seq)])
        if seq != expected_seq or prev_hash != expected_prev or hash_as(1, record, rows) != stored_hash:
            result.break_at, result.last = record, last
            return result
        result.first_use.setdefault(digest, seq)
        expected_seq, expected_prev, last = seq + 1, stored_hash, record
        result.count += 1
        if progress and not result.count % PROGRESS_EVERY:
            progress(result.count)
    result.last = last
    result.orphans = sorted(set(findings.orphans() + obligations.orphans()))
    return result


def hash_as(version: int, record: Record, rows: Rows, seq: int | None = None, prev_hash: str | None = None,
            recorded_at: str | None = None) -> str:
    """The hash of `record`'s content (with `rows`, in version 1) written as `seq` after
    `prev_hash` at `recorded_at`; each defaults to the record's own."""
    seq = record.seq if seq is None else seq
    prev_hash = record.prev_hash if prev_hash is None else prev_hash
    recorded_at = record.recorded_at if recorded_at is None else recorded_at
    if version == 1:
        finding_rows, obligation_rows = rows
        body = record_body_v1(decision_json=record.decision, duration_us=record.duration_us,
                              evaluated_at=record.evaluated_at, finding_rows=finding_rows, flow_json=record.flow,
                              obligation_rows=obligation_rows)
        return record_hash(body + record_link_v1(prev_hash, recorded_at, seq))
    return record_hash(record_text(record.decision, record.duration_us, record.evaluated_at, record.flow, prev_hash,
                                   recorded_at, seq))


def stored_rows(conn: sqlite3.Connection, version: int, seq: int) -> Rows:
    """What a version-1 record's hash covers besides the record: its rows as stored."""
    if version != 1:
        return None
    findings = conn.execute(
        "SELECT rule_id, jurisdiction, effect FROM findings WHERE seq = ? ORDER BY position", (seq,)
    )
    obligations = conn.execute("SELECT rule_id, action FROM obligations WHERE seq = ? ORDER BY position", (seq,))
    return findings.fetchall(), obligations.fetchall()


def rows_from_json(version: int, record: Record) -> Rows:
    """The rows a version-1 writer derived from the decision, to tell altered rows from an altered record."""
    if version != 1:
        return None
    decision = stored_decision(record)
    try:
        return (
            [(f["rule_id"], f["jurisdiction"], f["effect"]) for f in decision.get("findings", [])],
            [(o["rule_id"], o["action"]) for o in decision.get("obligations", [])],
        )
    except (TypeError, KeyError, AttributeError):
        return [], []


def stored_decision(record: Record) -> dict:
    """The record's decision as an object, or {} when an altered record holds anything else."""
    try:
        decision = load_json(record.decision)
    except ValueError:
        return {}
    return decision if isinstance(decision, dict) else {}


def orphaned_rows(seq: int, last_written: int) -> Problem:
    """Rows for `seq` with no record: the record was removed (e.g. cut from the end), or,
    past the last sequence number ever written, the rows were forged."""
    if 1 <= seq <= last_written:
        return Problem(seq, RECORD_MISSING, f"rows derived from seq {seq} remain but its record is gone")
    return Problem(
        seq,
        ROWS_CHANGED,
        f"findings/obligations rows were added for seq {seq}, which was never written "
        f"(the log's records end at seq {last_written}): no record was ever there, unless records were "
        "cut from the end and SQLite's counter reset",
    )


def fetch(conn: sqlite3.Connection, version: int, seq: int) -> Record | None:
    row = conn.execute(f"{RECORDS[version]} WHERE d.seq = ?", (seq,)).fetchone()
    return Record._make(row) if row else None


def link_problem(conn: sqlite3.Connection, version: int, record: Record) -> str | None:
    """Why `record` does not sit intact in the chain, or None if it does."""
    prev = fetch(conn, version, record.seq - 1)
    successor = fetch(conn, version, record.seq + 1)
    return link_fault(version, record, stored_rows(conn, version, record.seq), prev.hash if prev else None,
                      successor.prev_hash if successor else None)


def link_fault(version: int, record: Record, rows: Rows, prev_hash: str | None,
               successor_prev_hash: str | None) -> str | None:
    """Why `record` (with its findings and obligations `rows`, in version 1) does not sit intact
    between the record before it (whose hash is `prev_hash`, None if there is none) and the one
    after it (whose prev_hash is `successor_prev_hash`, None if there is none); None if it does."""
    if record.hash != hash_as(version, record, rows):
        return "its stored hash does not match its content"
    if record.prev_hash != (GENESIS_HASH if prev_hash is None else prev_hash):
        return f"it does not link to seq {record.seq - 1}"
    if successor_prev_hash is not None and successor_prev_hash != record.hash:
        return f"seq {record.seq + 1} does not link to it"
    return None


class RowsBySeq:
    """A version-1 normalised table read in (seq, position) order alongside the records."""

    def __init__(self, conn: sqlite3.Connection, select: str, params: tuple = ()):
        self._rows = iter(conn.execute(f"{select} ORDER BY seq, position", params))
        self._next = next(self._rows, None)
        self._orphans: list[int] = []

    def take(self, seq: int) -> list[tuple]:
        """The rows of `seq`; rows of an earlier seq had no record."""
        taken = []
        row = self._next
        while row is not None and row[0] <= seq:
            if row[0] == seq:
                taken.append(row)
            elif not self._orphans or self._orphans[-1] != row[0]:
                self._orphans.append(row[0])
            row = next(self._rows, None)
        self._next = row
        return taken

    def orphans(self) -> list[int]:
        """Sequence numbers with rows but no record, once every record was taken."""
        return self._orphans + ([self._next[0]] if self._next is not None else [])
