"""Naming what broke the chain at the first record that does not fit: whether a record
was changed, removed, inserted or moved (parsing JSON and searching for where a record
came from, which the fast scan in audit.chain does not do)."""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from audit.canonical import GENESIS_HASH
from audit.chain import Record, Rows, fetch, hash_as, rows_from_json, stored_decision, stored_rows
from audit.problems import CONTENT_CHANGED, RECORD_INSERTED, RECORD_MISSING, REORDERED, ROWS_CHANGED, Problem
from rules.wording import counted

_RENUMBERING_SEARCH = 16  # how far from a likely place a moved record is looked for


class _Log(NamedTuple):
    conn: sqlite3.Connection
    version: int

    def fetch(self, seq: int) -> Record | None:
        return fetch(self.conn, self.version, seq)


def diagnose(conn: sqlite3.Connection, version: int, prev: Record | None, record: Record) -> Problem:
    """Name the damage at the first record that does not fit after `prev`."""
    log = _Log(conn, version)
    expected_seq = prev.seq + 1 if prev else 1
    expected_prev = prev.hash if prev else GENESIS_HASH
    if record.seq != expected_seq:
        span = f"seq {expected_seq}" if record.seq == expected_seq + 1 else f"seq {expected_seq}-{record.seq - 1}"
        after = f"after seq {prev.seq}" if prev else "at the start of the log"
        return Problem(expected_seq, RECORD_MISSING, f"{span} absent {after}")
    json_rows = rows_from_json(version, record)
    if record.hash != hash_as(version, record, stored_rows(conn, version, record.seq)):
        if version == 1 and record.hash == hash_as(1, record, json_rows) and record.prev_hash == expected_prev:
            return Problem(record.seq, ROWS_CHANGED, "its findings/obligations rows no longer match the record")
        return _moved_or_changed(log, record, json_rows, expected_prev)
    predecessor = _seq_with_hash(conn, record.prev_hash)
    if predecessor is not None and predecessor > record.seq:
        return Problem(record.seq, REORDERED, f"this record was written after seq {predecessor}")
    if prev is None:
        return Problem(1, RECORD_MISSING, "seq 1 does not start the chain: earlier records were removed")
    return Problem(
        prev.seq, CONTENT_CHANGED, f"its content and hash were rewritten: seq {record.seq} still links to the original"
    )


def _moved_or_changed(log: _Log, record: Record, json_rows: Rows, expected_prev: str) -> Problem:
    origin = _origin(log, record, json_rows)
    if origin is None:
        successor = log.fetch(record.seq + 1)
        if successor and successor.prev_hash == expected_prev:
            successor_origin = _origin(log, successor, rows_from_json(log.version, successor))
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
        predecessor = _seq_with_hash(log.conn, record.prev_hash)
        if predecessor is None or predecessor < record.seq:
            removed = origin.seq - record.seq
            return Problem(record.seq, RECORD_MISSING,
                           f"{counted(removed, 'record')} removed here and later ones renumbered")
    return Problem(record.seq, REORDERED, _whereabouts(log, record.seq, origin.seq))


class _Origin(NamedTuple):
    seq: int  # the sequence number the record was written as
    own_link: bool  # moved with its own prev_hash and hash, not under another record's


def _origin(log: _Log, record: Record, rows: Rows) -> _Origin | None:
    """Where this record was written, if near its place or where its decision id ranks.

    Each candidate is proven by a hash: this record's own, computed for that sequence
    number (the row was renumbered), or the one stored at that sequence number (the
    content was moved beneath the chain's columns). Decision ids sort by time
    (engine.decision.new_decision_id), so a record's rank among them is near where
    it was written, however far it was moved.
    """
    near = range(record.seq - _RENUMBERING_SEARCH, record.seq + _RENUMBERING_SEARCH + 1)
    rank = _decision_id_rank(log, record)
    ranked = range(rank - _RENUMBERING_SEARCH, rank + _RENUMBERING_SEARCH + 1) if rank is not None else range(0)
    candidates = dict.fromkeys(seq for seq in (*near, *ranked) if seq >= 1)
    return next(filter(None, (_written_as(log, record, rows, seq) for seq in candidates)), None)


def _written_as(log: _Log, record: Record, rows: Rows, seq: int) -> _Origin | None:
    """Whether `record`, with `rows`, was written as `seq`."""
    if hash_as(log.version, record, rows, seq) == record.hash:
        return _Origin(seq, own_link=True)
    slot = log.fetch(seq) if seq != record.seq else None
    # the content may have taken its recorded_at along, or left it with the chain's columns
    if slot and any(hash_as(log.version, record, rows, seq, slot.prev_hash, at) == slot.hash
                    for at in {record.recorded_at, slot.recorded_at}):
        return _Origin(seq, own_link=False)
    return None


def _whereabouts(log: _Log, seq: int, origin: int) -> str:
    """Which record stands at `seq`, and whether the one written there stands in its place (a swap)."""
    held = f"seq {seq} holds the record written as seq {origin}"
    other = log.fetch(origin)
    if other is not None and _written_as(log, other, rows_from_json(log.version, other), seq):
        return f"{held}, and seq {origin} holds the record written as seq {seq}"
    return held


def _decision_id_rank(log: _Log, record: Record) -> int | None:
    decision_id = stored_decision(record).get("decision_id")
    if not isinstance(decision_id, str):
        return None
    table = "decisions" if log.version == 1 else "decision_lookups"  # where decision ids are indexed
    return log.conn.execute(f"SELECT count(*) + 1 FROM {table} WHERE decision_id < ?", (decision_id,)).fetchone()[0]


def _seq_with_hash(conn: sqlite3.Connection, digest: str) -> int | None:
    row = conn.execute("SELECT seq FROM decisions WHERE hash = ?", (digest,)).fetchone()
    return row[0] if row else None
