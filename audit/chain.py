"""Recomputing the hash chain, and naming what broke it.

The scan is the fast path: it re-hashes every record from its stored columns and
its normalised rows and stops at the first record that does not fit. Only then
does `diagnose` look closer (parsing JSON, searching for where a record came
from) to say whether a record was changed, removed, inserted or moved.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from audit.canonical import GENESIS_HASH, load_json, record_body, record_hash
from rules.wording import counted

CONTENT_CHANGED = "content changed"
RECORD_MISSING = "record missing"
RECORD_INSERTED = "record inserted"
REORDERED = "records reordered"
ROWS_CHANGED = "normalised rows changed"

# decision and flow are read as bytes: they are hashed as stored, without decoding
_RECORD_COLUMNS = (
    "seq, recorded_at, evaluated_at, duration_us, outcome, ruleset_digest, prev_hash, hash, "
    "CAST(decision AS BLOB), CAST(flow AS BLOB)"
)
_RENUMBERING_SEARCH = 16  # how far from a likely place a moved record is looked for


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


@dataclass(frozen=True)
class Problem:
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        return f"{where}: {self.kind} - {self.detail}"


@dataclass
class Scan:
    """What one pass over the chain found."""

    count: int = 0
    last: Record | None = None  # the last record that fits
    break_at: Record | None = None  # the first record that does not fit after `last`
    problems: list[Problem] = field(default_factory=list)  # normalised rows that disagree with their record
    orphans: list[int] = field(default_factory=list)  # sequence numbers with normalised rows but no record
    first_use: dict[str, int] = field(default_factory=dict)  # rule-set digest -> first seq using it


Progress = Callable[[int, int], None]  # (records done, records in all), called as long work goes on
PROGRESS_EVERY = 4096  # records between two calls: often enough for a bar, too rarely to cost


def scan(conn: sqlite3.Connection, progress: Callable[[int], None] | None = None) -> Scan:
    """Check every record in chain order: its hash over its content and rows, its
    sequence number and its link to the record before; `progress` gets the count checked."""
    result = Scan()
    findings = RowsBySeq(conn, "SELECT seq, rule_id, jurisdiction, effect, evaluated_at, outcome FROM findings")
    obligations = RowsBySeq(conn, "SELECT seq, rule_id, action FROM obligations")
    expected_seq, expected_prev, last = 1, GENESIS_HASH, None
    for row in conn.execute(f"SELECT {_RECORD_COLUMNS} FROM decisions ORDER BY seq"):
        seq, recorded_at, evaluated_at, duration_us, outcome, digest, prev_hash, stored_hash, decision, flow = row
        finding_rows = findings.take(seq)
        if any(r[4] != evaluated_at or r[5] != outcome for r in finding_rows):
            result.problems.append(
                Problem(seq, ROWS_CHANGED, "a findings row's evaluated_at/outcome differs from its record's")
            )
        body = record_body(
            decision_json=decision,
            duration_us=duration_us,
            evaluated_at=evaluated_at,
            finding_rows=[r[1:4] for r in finding_rows],
            flow_json=flow,
            obligation_rows=[r[1:3] for r in obligations.take(seq)],
        )
        if (
            seq != expected_seq
            or prev_hash != expected_prev
            or record_hash(body, prev_hash, recorded_at, seq) != stored_hash
        ):
            result.break_at, result.last = Record._make(row), last and Record._make(last)
            return result
        result.first_use.setdefault(digest, seq)
        expected_seq, expected_prev, last = seq + 1, stored_hash, row
        result.count += 1
        if progress and not result.count % PROGRESS_EVERY:
            progress(result.count)
    result.last = last and Record._make(last)
    result.orphans = sorted(set(findings.orphans() + obligations.orphans()))
    return result


def orphaned_rows(seq: int, last_written: int) -> Problem:
    """Rows for `seq` with no record: the record was removed (e.g. cut from the end), or,
    past the last sequence number ever written, the rows were forged."""
    if 1 <= seq <= last_written:
        return Problem(seq, RECORD_MISSING, f"normalised rows remain for seq {seq} but its record is gone")
    return Problem(
        seq,
        ROWS_CHANGED,
        f"findings/obligations rows were added for seq {seq}, which was never written "
        f"(the log's records end at seq {last_written}): no record was ever there, unless records were "
        "cut from the end and SQLite's counter reset",
    )


def fetch(conn: sqlite3.Connection, where: str, params: tuple) -> Record | None:
    row = conn.execute(f"SELECT {_RECORD_COLUMNS} FROM decisions WHERE {where}", params).fetchone()
    return Record._make(row) if row else None


def link_problem(conn: sqlite3.Connection, record: Record) -> str | None:
    """Why `record` does not sit intact in the chain, or None if it does."""
    prev = fetch(conn, "seq = ?", (record.seq - 1,))
    successor = fetch(conn, "seq = ?", (record.seq + 1,))
    return link_fault(record, _stored_rows(conn, record.seq), prev.hash if prev else None,
                      successor.prev_hash if successor else None)


def link_fault(record: Record, rows: tuple[list, list], prev_hash: str | None,
               successor_prev_hash: str | None) -> str | None:
    """Why `record`, with its findings and obligations `rows`, does not sit intact between the
    record before it (whose hash is `prev_hash`, None if there is none) and the one after it (whose
    prev_hash is `successor_prev_hash`, None if there is none); None if it does."""
    if record.hash != _hash(record, *rows):
        return "its stored hash does not match its content"
    if record.prev_hash != (GENESIS_HASH if prev_hash is None else prev_hash):
        return f"it does not link to seq {record.seq - 1}"
    if successor_prev_hash is not None and successor_prev_hash != record.hash:
        return f"seq {record.seq + 1} does not link to it"
    return None


def diagnose(conn: sqlite3.Connection, prev: Record | None, record: Record) -> Problem:
    """Name the damage at the first record that does not fit after `prev`."""
    expected_seq = prev.seq + 1 if prev else 1
    expected_prev = prev.hash if prev else GENESIS_HASH
    if record.seq != expected_seq:
        span = f"seq {expected_seq}" if record.seq == expected_seq + 1 else f"seq {expected_seq}-{record.seq - 1}"
        after = f"after seq {prev.seq}" if prev else "at the start of the log"
        return Problem(expected_seq, RECORD_MISSING, f"{span} absent {after}")
    json_rows = _rows_from_json(record)
    if record.hash != _hash(record, *_stored_rows(conn, record.seq)):
        if record.hash == _hash(record, *json_rows) and record.prev_hash == expected_prev:
            return Problem(record.seq, ROWS_CHANGED, "its findings/obligations rows no longer match the record")
        return _moved_or_changed(conn, record, json_rows, expected_prev)
    predecessor = _seq_with_hash(conn, record.prev_hash)
    if predecessor is not None and predecessor > record.seq:
        return Problem(record.seq, REORDERED, f"this record was written after seq {predecessor}")
    if prev is None:
        return Problem(1, RECORD_MISSING, "seq 1 does not start the chain: earlier records were removed")
    return Problem(
        prev.seq, CONTENT_CHANGED, f"its content and hash were rewritten: seq {record.seq} still links to the original"
    )


def _moved_or_changed(conn: sqlite3.Connection, record: Record, json_rows: tuple, expected_prev: str) -> Problem:
    origin = _origin(conn, record, json_rows)
    if origin is None:
        successor = fetch(conn, "seq = ?", (record.seq + 1,))
        if successor and successor.prev_hash == expected_prev:
            successor_origin = _origin(conn, successor, _rows_from_json(successor))
            if successor_origin is not None and successor_origin.seq == record.seq:
                return Problem(
                    record.seq, RECORD_INSERTED, "a forged record was inserted here and later records renumbered"
                )
        return Problem(record.seq, CONTENT_CHANGED, "its stored hash does not match its content")
    if origin.own_link and origin.seq < record.seq:
        return Problem(
            origin.seq,
            RECORD_INSERTED,
            f"{counted(record.seq - origin.seq, 'record')} inserted before the original seq {origin.seq}, "
            f"now renumbered seq {record.seq}",
        )
    if origin.own_link:
        # renumbered down: moved back past its predecessor, or the records between them are gone
        predecessor = _seq_with_hash(conn, record.prev_hash)
        if predecessor is None or predecessor < record.seq:
            removed = origin.seq - record.seq
            return Problem(record.seq, RECORD_MISSING,
                           f"{counted(removed, 'record')} removed here and later ones renumbered")
    return Problem(record.seq, REORDERED, _whereabouts(conn, record.seq, origin.seq))


class _Origin(NamedTuple):
    seq: int  # the sequence number the record was written as
    own_link: bool  # moved with its own prev_hash and hash, not under another record's


def _origin(conn: sqlite3.Connection, record: Record, rows: tuple) -> _Origin | None:
    """Where this record was written, if near its place or where its decision id ranks.

    Each candidate is proven by a hash: this record's own, computed for that sequence
    number (the row was renumbered), or the one stored at that sequence number (the
    content was moved beneath the chain's columns). Decision ids sort by time
    (engine.decision.new_decision_id), so a record's rank among them is near where
    it was written, however far it was moved.
    """
    body = _body(record, *rows)
    near = range(record.seq - _RENUMBERING_SEARCH, record.seq + _RENUMBERING_SEARCH + 1)
    rank = _decision_id_rank(conn, record)
    ranked = range(rank - _RENUMBERING_SEARCH, rank + _RENUMBERING_SEARCH + 1) if rank is not None else range(0)
    candidates = dict.fromkeys(seq for seq in (*near, *ranked) if seq >= 1)
    return next(filter(None, (_written_as(conn, record, body, seq) for seq in candidates)), None)


def _written_as(conn: sqlite3.Connection, record: Record, body: bytes, seq: int) -> _Origin | None:
    """Whether `record`, with content `body`, was written as `seq`."""
    if record_hash(body, record.prev_hash, record.recorded_at, seq) == record.hash:
        return _Origin(seq, own_link=True)
    slot = fetch(conn, "seq = ?", (seq,)) if seq != record.seq else None
    # the content may have taken its recorded_at along, or left it with the chain's columns
    if slot and any(record_hash(body, slot.prev_hash, at, seq) == slot.hash
                    for at in {record.recorded_at, slot.recorded_at}):
        return _Origin(seq, own_link=False)
    return None


def _whereabouts(conn: sqlite3.Connection, seq: int, origin: int) -> str:
    """Which record stands at `seq`, and whether the one written there stands in its place (a swap)."""
    held = f"seq {seq} holds the record written as seq {origin}"
    other = fetch(conn, "seq = ?", (origin,))
    if other is not None and _written_as(conn, other, _body(other, *_rows_from_json(other)), seq):
        return f"{held}, and seq {origin} holds the record written as seq {seq}"
    return held


def _decision_id_rank(conn: sqlite3.Connection, record: Record) -> int | None:
    decision_id = _stored_decision(record).get("decision_id")
    if not isinstance(decision_id, str):
        return None
    return conn.execute("SELECT count(*) + 1 FROM decisions WHERE decision_id < ?", (decision_id,)).fetchone()[0]


def _seq_with_hash(conn: sqlite3.Connection, digest: str) -> int | None:
    row = conn.execute("SELECT seq FROM decisions WHERE hash = ?", (digest,)).fetchone()
    return row[0] if row else None


def _hash(record: Record, finding_rows, obligation_rows) -> str:
    return record_hash(_body(record, finding_rows, obligation_rows), record.prev_hash, record.recorded_at, record.seq)


def _body(record: Record, finding_rows, obligation_rows) -> bytes:
    return record_body(
        decision_json=record.decision,
        duration_us=record.duration_us,
        evaluated_at=record.evaluated_at,
        finding_rows=finding_rows,
        flow_json=record.flow,
        obligation_rows=obligation_rows,
    )


def _stored_rows(conn: sqlite3.Connection, seq: int) -> tuple[list, list]:
    findings = conn.execute(
        "SELECT rule_id, jurisdiction, effect FROM findings WHERE seq = ? ORDER BY position", (seq,)
    )
    obligations = conn.execute("SELECT rule_id, action FROM obligations WHERE seq = ? ORDER BY position", (seq,))
    return findings.fetchall(), obligations.fetchall()


def _rows_from_json(record: Record) -> tuple[list, list]:
    """The rows the writer derived from the decision, to tell altered rows from an altered record."""
    decision = _stored_decision(record)
    try:
        return (
            [(f["rule_id"], f["jurisdiction"], f["effect"]) for f in decision.get("findings", [])],
            [(o["rule_id"], o["action"]) for o in decision.get("obligations", [])],
        )
    except (TypeError, KeyError, AttributeError):
        return [], []


def _stored_decision(record: Record) -> dict:
    """The record's decision as an object, or {} when an altered record holds anything else."""
    try:
        decision = load_json(record.decision)
    except ValueError:
        return {}
    return decision if isinstance(decision, dict) else {}


class RowsBySeq:
    """A normalised table read in (seq, position) order alongside the records."""

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
