"""The writer's side of the log file: the one connection that extends the chain.

Each batch of callers' records is one transaction, durable when it commits (WAL,
synchronous=FULL), holding only what the chain needs: the records and any rule set
new to the log. The rows queries read are derived afterwards (audit.derived), many
records at a time, in transactions that need no fsync of their own: WAL commits
reach the disk in order, so the next durable commit carries them.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import time
from dataclasses import dataclass

from audit.canonical import GENESIS_HASH, MAX_SAFE_INTEGER, digest_of_stored_ruleset, record_hash, record_text
from audit.derived import derive, derived_upto
from audit.errors import AuditError, AuditWriteError, RecordRefused
from audit.records import Entry, StoredRuleset
from audit.schema import as_audit_error, create_schema, last_written, read_meta, schema_version
from audit.tables import FORMAT, SCHEMA_VERSION
from audit.times import utc_now

_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")  # audit.times' form: nothing JSON escapes
_NOT_AT_HEAD = "only appends at the head of its chain"  # audit.tables' decisions_append_at_head
_IDS_PER_QUERY = 500  # well below SQLite's limit on parameters
_DERIVE_AT_MOST = 10_000  # records whose rows one transaction derives: bounded time and memory
_WAL_PAGES = 1000  # SQLite's default


class Refused(Exception):
    """The log refuses these records themselves; other callers' records may still be committed."""


class RulesetUnknown(Exception):
    """A record names a rule set the log does not hold, and its caller did not send it."""


@dataclass
class Submission:
    """One caller's records (all or none), and what became of them."""

    entries: list[Entry]
    rulesets: list[StoredRuleset]
    seq: int | None = None  # the last record's sequence number, once durable
    error: Exception | None = None


class Appender:
    def __init__(self, conn: sqlite3.Connection, path: str, key_check: str):
        self.conn = conn
        self.path = path
        meta = self._open_or_create(key_check)
        conn.execute("PRAGMA synchronous=FULL")
        # SQLite checkpoints the WAL into the file after a commit that leaves it longer than this; not
        # after the callers' durable commits (it would delay their answers), after derivations
        conn.execute("PRAGMA wal_autocheckpoint=0")
        self.key_check = meta.get("key_check")
        self._digests = {digest for (digest,) in conn.execute("SELECT digest FROM rulesets")}
        self.head = self._head()
        self.derived = derived_upto(conn)
        self._underived_ids: set[str] = set()  # decision ids committed since the last derivation

    @property
    def underived(self) -> int:
        return self.head[0] - self.derived

    def append(self, batch: list[Submission]) -> None:
        """Commit every submission of `batch` it can; sets each one's seq or error."""
        accepted = []
        seen: set[str] = set()
        for submission in batch:
            try:
                self._check(submission, seen)
                accepted.append(submission)
            except (Refused, RulesetUnknown) as problem:
                submission.error = problem
        try:
            self._commit(accepted)
        except AuditWriteError as problem:
            for submission in accepted:
                if submission.error is None:
                    submission.error = problem

    def derive_pending(self) -> None:
        """Derive the rows of every committed record not yet derived, in bounded transactions."""
        while self.underived > 0:
            upto = min(self.head[0], self.derived + _DERIVE_AT_MOST)
            self.conn.execute("PRAGMA synchronous=NORMAL")  # the next durable commit carries it to disk
            self.conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                derive(self.conn, self.derived, upto)
                self.conn.execute("COMMIT")
            except BaseException:
                _roll_back(self.conn)
                raise
            finally:
                self.conn.execute("PRAGMA wal_autocheckpoint=0")
                self.conn.execute("PRAGMA synchronous=FULL")
            self.derived = upto
            if self.derived == self.head[0]:
                self._underived_ids.clear()

    def _check(self, submission: Submission, seen: set[str]) -> None:
        new_digests = {ruleset.digest for ruleset in submission.rulesets}
        for text in (*(e.decision_json for e in submission.entries), *(e.flow_json for e in submission.entries),
                     *(r.files_json for r in submission.rulesets)):
            try:
                text.decode()
            except UnicodeDecodeError:
                raise Refused(f"cannot write decision log {self.path}: a record that is not UTF-8") from None
        for ruleset in submission.rulesets:
            if digest_of_stored_ruleset(ruleset.files_json.decode()) != ruleset.digest:
                raise Refused(f"cannot write decision log {self.path}: rule set {ruleset.digest} does not match its "
                              "files")
        for entry in submission.entries:
            if not _INSTANT.fullmatch(entry.evaluated_at) or not 0 <= entry.duration_us <= MAX_SAFE_INTEGER:
                raise Refused(f"cannot write decision log {self.path}: decision {entry.decision_id} is malformed")
            if entry.ruleset_digest not in self._digests and entry.ruleset_digest not in new_digests:
                raise RulesetUnknown(entry.ruleset_digest)
        ids = [entry.decision_id for entry in submission.entries]
        held = seen.intersection(ids) | self._underived_ids.intersection(ids)
        if held or len(set(ids)) != len(ids):
            self._refuse_duplicate(held or {next(i for i in ids if ids.count(i) > 1)})
        seen.update(ids)

    def _refuse_duplicate(self, held: set[str]) -> None:
        raise Refused(f"cannot write decision log {self.path}: it already holds decision {min(held)}")

    def _refuse_derived_duplicates(self, batch: list[Submission]) -> list[Submission]:
        """Inside the transaction: `batch` without the submissions holding a decision id among
        those of derived records (the others it checked itself), which get their error."""
        ids = [entry.decision_id for submission in batch for entry in submission.entries]
        held = set()
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start:start + _IDS_PER_QUERY]
            held.update(row[0] for row in self.conn.execute(
                f"SELECT decision_id FROM decision_lookups WHERE decision_id IN ({', '.join('?' * len(chunk))})",
                chunk))
        kept = []
        for submission in batch:
            mine = held.intersection(entry.decision_id for entry in submission.entries)
            try:
                if mine:
                    self._refuse_duplicate(mine)
                kept.append(submission)
            except Refused as problem:
                submission.error = problem
        return kept

    def _commit(self, batch: list[Submission]) -> None:
        """One durable transaction for `batch`; AuditWriteError if the log cannot be written. The
        duplicate check runs inside it, so that a read of the index costs no transaction of its own."""
        if not batch:
            return
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            batch = self._refuse_derived_duplicates(batch)
            # the head this writer last wrote (it is the log's only writer; the log's own trigger
            # refuses a stale one, and the head is read again after any failure)
            seq, prev_hash = self.head
            rulesets = {r.digest: r for s in batch for r in s.rulesets if r.digest not in self._digests}
            conn.executemany("INSERT OR IGNORE INTO rulesets(digest, files) VALUES (?, ?)",
                             [(r.digest, r.files_json.decode()) for r in rulesets.values()])
            recorded_at = utc_now()
            rows, lasts = [], []
            for submission in batch:
                for entry in submission.entries:
                    seq += 1
                    text = record_text(entry.decision_json, entry.duration_us, entry.evaluated_at, entry.flow_json,
                                       prev_hash, recorded_at, seq)
                    digest = record_hash(text)
                    rows.append((seq, recorded_at, entry.evaluated_at, entry.duration_us, prev_hash, digest,
                                 entry.decision_json.decode(), entry.flow_json.decode()))
                    prev_hash = digest
                lasts.append(seq)
            conn.executemany(
                "INSERT INTO decisions(seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            _roll_back(conn)
            self.head = self._head()
            if isinstance(error, sqlite3.IntegrityError) and _NOT_AT_HEAD not in str(error):
                raise RecordRefused(f"cannot write decision log {self.path}: {error}") from None
            raise AuditWriteError(f"cannot write decision log {self.path}: {error}") from None
        except BaseException:
            _roll_back(conn)
            raise
        self.head = (seq, prev_hash)
        self._digests.update(rulesets)
        for submission, last in zip(batch, lasts):
            submission.seq = last
            self._underived_ids.update(entry.decision_id for entry in submission.entries)

    def _head(self) -> tuple[int, str]:
        """The chain's head, refusing a log cut at its end."""
        head = self.conn.execute("SELECT seq, hash FROM decisions ORDER BY seq DESC LIMIT 1").fetchone()
        seq, digest = head or (0, GENESIS_HASH)
        # Below SQLite's largest sequence number ever written, records were cut from the end: new
        # records would take their numbers, link to the record before the cut, and hide the removal.
        written = last_written(self.conn, seq)
        if written > seq:
            raise AuditWriteError(
                f"cannot write decision log {self.path}: it ends at seq {seq} but seq {written} was written, so "
                "records were removed; nothing more is logged to it (run `licit audit verify`)")
        return seq, digest

    def _open_or_create(self, key_check: str) -> dict[str, str]:
        conn = self.conn
        try:
            if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0:
                _use_wal(conn, time.monotonic() + 5)
                conn.execute("BEGIN IMMEDIATE")
                try:
                    create_schema(conn, {"format": FORMAT, "schema_version": str(SCHEMA_VERSION),
                                         "created_at": utc_now(), "hash_algorithm": "sha256",
                                         "key_check": key_check}, SCHEMA_VERSION)
                    conn.execute("COMMIT")
                except BaseException:
                    _roll_back(conn)
                    raise
            meta = read_meta(conn, self.path)  # before anything changes a file that is not a Licit log
            if schema_version(meta) != SCHEMA_VERSION:
                raise AuditError(
                    f"decision log {self.path} has schema version {schema_version(meta)}, which this Licit reads "
                    f"and verifies but does not extend: move it aside (it stays readable) and a new log of "
                    f"version {SCHEMA_VERSION} is started at {self.path}")
            _use_wal(conn, time.monotonic() + 5)
            return meta
        except sqlite3.Error as error:
            raise as_audit_error(error, self.path, writing=True) from None


def _use_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Of two connections switching a new file to WAL at the same instant, SQLite fails
    one at once as busy (its deadlock guard skips the busy timeout): retry until `deadline`."""
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() >= deadline:
                raise
        time.sleep(0.001)


def _roll_back(conn: sqlite3.Connection) -> None:
    """Undo a failed transaction; its own failure must not hide the original cause."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
