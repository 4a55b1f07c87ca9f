"""Appending records to the chain over one writer connection.

A record's hash covers its predecessor's, so the chain head is read inside the
transaction that extends it. The appender remembers the head it last wrote: a
small batch with nothing else to write is then one autocommit INSERT, a single
call into SQLite from lock to fsync. That matters under threads, because every
call into SQLite hands the GIL to the caller's busy neighbours and waits to get
it back. If another process extended the chain meanwhile, the log's own trigger
refuses the stale link and the batch goes the long way: a transaction that reads
the head first.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from audit.canonical import GENESIS_HASH, record_hash
from audit.errors import AuditWriteError
from audit.records import Entry, StoredRuleset
from audit.schema import last_written
from audit.times import utc_now

__all__ = ["ChainAppender", "RecordRefused", "roll_back"]

_COLUMNS = "seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow"
_ROW = "(?, ?, ?, ?, ?, ?, ?, ?)"
_NOT_AT_HEAD = "only appends at the head of its chain"  # audit.schema's decisions_append_at_head
_ONE_STATEMENT_ROWS = 64  # 8 parameters a row, far below SQLite's limit on them


class RecordRefused(AuditWriteError):
    """The log refused these records themselves (a decision id it already holds, say),
    not the write: other records may still be committed."""


class ChainAppender:
    def __init__(self, conn: sqlite3.Connection, path: Path):
        self._conn = conn
        self._path = path
        self._head: tuple[int, str] | None = None  # (seq, hash) this appender last committed

    def append(
        self,
        entries: Sequence[Entry],
        rulesets: Sequence[StoredRuleset] = (),
        spooled: Sequence[tuple[Path, Sequence[Entry]]] = (),
    ) -> tuple[int, list[Path]]:
        """Commit `entries` durably, after the spooled batches of other processes.

        Spooled batches go first, each whole or not at all; one already in the log
        (its committer was killed after its commit, before removing the spool file)
        is not written again, and one the log holds with other content is left for
        its own writer to fail on. Returns the last sequence number written and the
        spool files this commit settled. Any failure writes nothing and raises
        AuditWriteError (RecordRefused if SQLite refused the records themselves); if
        spooled batches took part in a refused transaction, `entries` are tried once
        more alone, so that no other writer's record can stop them.
        """
        if self._head is not None and entries and not rulesets and not spooled \
                and len(entries) <= _ONE_STATEMENT_ROWS:
            try:
                return self._append_in_one_statement(entries), []
            except sqlite3.Error as error:
                self._head = None  # whatever happened, the next append reads the head
                roll_back(self._conn)
                if not isinstance(error, sqlite3.IntegrityError):
                    raise AuditWriteError(f"cannot write decision log {self._path}: {error}") from None
                if _NOT_AT_HEAD not in str(error):
                    raise RecordRefused(f"cannot write decision log {self._path}: {error}") from None
        self._head = None
        try:
            return self._append_in_transaction(entries, rulesets, spooled)
        except sqlite3.IntegrityError as error:
            roll_back(self._conn)
            if not spooled:
                raise RecordRefused(f"cannot write decision log {self._path}: {error}") from None
        except BaseException as error:
            roll_back(self._conn)
            if isinstance(error, sqlite3.Error):
                raise AuditWriteError(f"cannot write decision log {self._path}: {error}") from None
            raise
        return self.append(entries, rulesets)

    def holds(self, entries: Sequence[Entry]) -> bool:
        """Whether the log holds `entries` as they are (a spooled batch is committed whole or not at all)."""
        return _as_written([_stored(self._conn, entry) for entry in entries], entries)

    def _append_in_one_statement(self, entries: Sequence[Entry]) -> int:
        seq, prev_hash = self._head
        rows = []
        recorded_at = utc_now()
        for entry in entries:
            seq += 1
            prev_hash = _row(rows, entry, seq, prev_hash, recorded_at)
        self._conn.execute(f"INSERT INTO decisions({_COLUMNS}) VALUES {', '.join([_ROW] * len(entries))}", rows)
        self._head = (seq, prev_hash)
        return seq

    def _append_in_transaction(self, entries, rulesets, spooled) -> tuple[int, list[Path]]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        head = conn.execute("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = head or (0, GENESIS_HASH)
        _refuse_cut_log(conn, seq, self._path)
        conn.executemany(
            "INSERT OR IGNORE INTO rulesets(digest, files) VALUES (?, ?)",
            [(r.digest, r.files_json) for r in rulesets],
        )
        recorded_at = utc_now()
        settled = []
        batches = []
        for spool_file, batch in spooled:
            stored = [_stored(conn, entry) for entry in batch]
            if all(row is None for row in stored):
                batches.append(batch)
                settled.append(spool_file)
            elif _as_written(stored, batch):
                settled.append(spool_file)
        for batch in [*batches, entries]:
            for entry in batch:
                seq += 1
                rows = []
                prev_hash = _row(rows, entry, seq, prev_hash, recorded_at)
                conn.execute(f"INSERT INTO decisions({_COLUMNS}) VALUES {_ROW}", rows)
        conn.execute("COMMIT")
        self._head = (seq, prev_hash)
        return seq, settled


def _row(rows: list, entry: Entry, seq: int, prev_hash: str, recorded_at: str) -> str:
    """Add the parameters of `entry`'s row to `rows`; returns its hash, the next record's link."""
    digest = record_hash(entry.body, prev_hash, recorded_at, seq)
    rows += (seq, recorded_at, entry.evaluated_at, entry.duration_us, prev_hash, digest,
             entry.decision_json, entry.flow_json)
    return digest


def _refuse_cut_log(conn: sqlite3.Connection, head_seq: int, path: Path) -> None:
    """SQLite remembers the largest sequence number ever written. Below it, records
    were cut from the end: new records would take their numbers and link to the
    record before the cut, and the chain would verify again, hiding the removal."""
    written = last_written(conn, head_seq)
    if written > head_seq:
        raise AuditWriteError(
            f"cannot write decision log {path}: it ends at seq {head_seq} but seq {written} was written, so records "
            "were removed; nothing more is logged to it (run `licit audit verify`)"
        )


def _stored(conn: sqlite3.Connection, entry: Entry) -> tuple[str, str] | None:
    return conn.execute("SELECT decision, flow FROM decisions WHERE decision_id = ?", (entry.decision_id,)).fetchone()


def _as_written(stored: list[tuple[str, str] | None], entries: Sequence[Entry]) -> bool:
    """Whether the rows `_stored` found are `entries` as they were written."""
    return all(row == (entry.decision_json, entry.flow_json) for row, entry in zip(stored, entries))


def roll_back(conn: sqlite3.Connection) -> None:
    """Undo a failed transaction; its own failure must not hide the original cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
