"""DecisionLog: the writer side of the tamper-evident decision log."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from audit.canonical import GENESIS_HASH, chain_hash
from audit.errors import AuditError, AuditWriteError
from audit.records import Entry, StoredRuleset, prepare_entry, prepare_ruleset
from audit.redaction import key_check, resolve_key
from audit.schema import FORMAT, SCHEMA_VERSION, as_audit_error, create_schema, read_meta
from audit.times import utc_now

__all__ = ["DecisionLog", "AuditError", "AuditWriteError", "default_db_path"]

DB_ENV = "LICIT_AUDIT_DB"


def default_db_path() -> Path:
    """--db, else $LICIT_AUDIT_DB, else ./licit-audit.db."""
    return Path(os.environ.get(DB_ENV) or "licit-audit.db")


class DecisionLog:
    """An append-only, hash-chained decision log in one SQLite file.

    One instance may be shared by many threads; many processes may each open their
    own on the same file. Every `record` is one transaction that is durable
    (WAL, synchronous=FULL) before it returns.
    """

    def __init__(self, path: str | os.PathLike, *, key: bytes | None = None, timeout: float = 5.0):
        self.path = Path(path)
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._stored_digests: set[str] = set()
        self._conn: sqlite3.Connection | None = _open_writer(self.path, timeout)
        try:
            self._key = self._prepare(key)
        except BaseException:
            self._conn.close()
            raise

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> int:
        """Append one decision; returns its sequence number once it is on disk."""
        return self.record_many([(decision, flow, ruleset, duration_s)])

    def record_many(self, items: Iterable[tuple[dict, dict, dict, float]]) -> int:
        """Append (decision, flow, ruleset, duration_s) items in one transaction, all or
        none (bulk import, such as `licit audit seed`); returns the last sequence number."""
        if os.getpid() != self._pid:
            raise AuditWriteError(
                f"cannot write decision log {self.path}: opened in another process (open one per process)"
            )
        entries, new_rulesets = [], {}
        for decision, flow, ruleset, duration_s in items:
            entry = prepare_entry(decision, flow, duration_s, self._key)
            entries.append(entry)
            digest = entry.ruleset_digest
            if digest not in self._stored_digests and digest not in new_rulesets:
                new_rulesets[digest] = prepare_ruleset(ruleset, digest)
        with self._lock:
            if self._conn is None:
                raise AuditWriteError(f"cannot write decision log {self.path}: it is closed")
            seq = append_entries(self._conn, self.path, entries, list(new_rulesets.values()))
            # Only once committed: a rolled-back rule set must be sent again.
            self._stored_digests.update(new_rulesets)
        return seq

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _prepare(self, key: bytes | None) -> bytes:
        """Create the schema if the file is new, check it is a Licit log of a known
        version, and that this process holds the log's key and can write."""
        conn = self._conn
        try:
            conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
            if _is_empty(conn):
                _create(conn, self.path, key)
            meta = read_meta(conn, self.path)
            conn.execute("PRAGMA journal_mode=WAL")
            resolved = resolve_key(self.path, key)
            if key_check(resolved) != meta.get("key_check"):
                raise AuditError(f"the audit key does not match the key decision log {self.path} was created with")
            # Fail at start-up, not at the first decision, if the file is read-only.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return resolved
        except sqlite3.Error as error:
            raise as_audit_error(error, self.path, writing=True) from None


def append_entries(
    conn: sqlite3.Connection, path: Path, entries: Sequence[Entry], rulesets: Sequence[StoredRuleset]
) -> int:
    """One transaction: take the write lock, read the chain head, append, commit.

    Returns the last sequence number written. Any failure rolls the whole
    transaction back and raises AuditWriteError.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
        head = conn.execute("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev_hash = head or (0, GENESIS_HASH)
        conn.executemany(
            "INSERT OR IGNORE INTO rulesets(digest, files) VALUES (?, ?)",
            [(r.digest, r.files_json) for r in rulesets],
        )
        recorded_at = utc_now()
        for entry in entries:
            seq += 1
            prev_hash = _insert(conn, entry, seq, prev_hash, recorded_at)
        conn.execute("COMMIT")
        return seq
    except BaseException as error:
        _roll_back(conn)
        if isinstance(error, sqlite3.Error):
            raise AuditWriteError(f"cannot write decision log {path}: {error}") from None
        raise


def _roll_back(conn: sqlite3.Connection) -> None:
    """Undo a failed transaction; its own failure must not hide the original cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _insert(conn: sqlite3.Connection, entry: Entry, seq: int, prev_hash: str, recorded_at: str) -> str:
    digest = chain_hash(entry.body_hash, prev_hash, recorded_at, seq)
    conn.execute(
        "INSERT INTO decisions(seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            recorded_at,
            entry.evaluated_at,
            entry.duration_us,
            prev_hash,
            digest,
            entry.decision_json,
            entry.flow_json,
        ),
    )
    return digest


def _open_writer(path: Path, timeout: float) -> sqlite3.Connection:
    directory = path.parent
    if not directory.is_dir():
        raise AuditWriteError(f"cannot open decision log {path}: directory {directory} does not exist")
    try:
        return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise as_audit_error(error, path, writing=True) from None


def _is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def _create(conn: sqlite3.Connection, path: Path, key: bytes | None) -> None:
    """Concurrent creators serialise on the write lock; the loser finds the schema made."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        if _is_empty(conn):
            resolved = resolve_key(path, key, create=True)
            create_schema(
                conn,
                {
                    "format": FORMAT,
                    "schema_version": str(SCHEMA_VERSION),
                    "created_at": utc_now(),
                    "hash_algorithm": "sha256",
                    "key_check": key_check(resolved),
                },
            )
        conn.execute("COMMIT")
    except BaseException:
        _roll_back(conn)
        raise
