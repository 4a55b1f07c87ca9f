"""DecisionLog: the writer side of the tamper-evident decision log."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from audit.append import ChainAppender, RecordRefused, roll_back
from audit.errors import AuditError, AuditWriteError
from audit.groupcommit import SETTLED, TIMED_OUT, CommitQueue, FileTurn, Spool, Submission, spool_directory
from audit.records import Entry, Item, prepare_entry, prepare_ruleset
from audit.redaction import key_check, log_key, resolve_key
from audit.schema import FORMAT, SCHEMA_VERSION, as_audit_error, create_schema, read_meta
from audit.times import utc_now

__all__ = ["DecisionLog", "AuditError", "AuditWriteError", "RecordRefused", "default_db_path"]

DB_ENV = "LICIT_AUDIT_DB"


def default_db_path() -> Path:
    """--db, else $LICIT_AUDIT_DB, else ./licit-audit.db."""
    return Path(os.environ.get(DB_ENV) or "licit-audit.db")


class DecisionLog:
    """An append-only, hash-chained decision log in one SQLite file.

    One instance may be shared by many threads; many processes may each open their
    own on the same file. `record` returns once its decision is in a durable
    commit (WAL, synchronous=FULL); threads and processes that arrive while
    another commits share the next commit (audit.groupcommit).
    """

    def __init__(self, path: str | os.PathLike, *, key: bytes | None = None, timeout: float = 5.0):
        self.path = Path(path)
        self.timeout = timeout
        self._pid = os.getpid()
        self._stored_digests: set[str] = set()
        self._reader: sqlite3.Connection | None = None
        self._reader_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = _open_writer(self.path, timeout)
        try:
            self._key = self._prepare(key)
            self._spool, self._turn = _open_spool(self.path)
            self._queue = CommitQueue(self.path)
            self._appender = ChainAppender(self._conn, self.path)
        except BaseException:
            self._conn.close()
            raise

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> int:
        """Append one decision; returns its sequence number once it is on disk."""
        return self.record_many([(decision, flow, ruleset, duration_s)])

    def record_many(self, items: Iterable[Item]) -> int:
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
        if not entries:
            raise AuditError("nothing to record: no decisions given")
        submission = Submission(entries, list(new_rulesets.values()))
        return self._queue.submit(submission, self._commit, time.monotonic() + self.timeout)

    def close(self) -> None:
        """Close once no thread of this process is committing (or `timeout` has passed)."""
        if self._conn is None:
            return
        self._queue.close(time.monotonic() + self.timeout)
        self._conn.close()
        self._conn = None
        with self._reader_lock:
            if self._reader is not None:
                self._reader.close()
        self._turn.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _commit(self, batch: list[Submission]) -> None:
        """Commit `batch` (the submissions of this process's threads) in this process's
        turn, or, if its rule sets are all in the log, possibly in the turn of a
        process ahead of it; sets each submission's seq or error."""
        entries = [entry for submission in batch for entry in submission.entries]
        rulesets = list({r.digest: r for submission in batch for r in submission.rulesets}.values())
        waiting = None
        try:
            if not self._turn.try_take():
                if not rulesets:
                    waiting = self._spool.put(entries)
                turn = self._turn.take(time.monotonic() + self.timeout, settled=_gone(waiting))
                if turn == SETTLED:  # a process ahead committed it
                    return self._read_back(batch)
                if turn == TIMED_OUT:
                    raise AuditWriteError(
                        f"cannot write decision log {self.path}: database is locked "
                        f"(other writers held it for more than {self.timeout:g} s)"
                    )
            try:
                self._commit_in_turn(batch, entries, rulesets, waiting)
            finally:
                self._turn.give_back()
        except (AuditError, OSError) as error:
            failure = error if isinstance(error, AuditError) else AuditWriteError(
                f"cannot write decision log {self.path}: its spool: {error.strerror}")
            for submission in batch:
                if submission.seq is None:
                    submission.error = failure
        finally:
            if waiting is not None:  # committed or withdrawn: either way no longer waiting
                self._spool.remove([waiting])

    def _commit_in_turn(self, batch, entries, rulesets, waiting: Path | None) -> None:
        if waiting is not None and not waiting.exists():  # committed just before the turn came
            return self._read_back(batch)
        if self._conn is None:
            raise AuditWriteError(f"cannot write decision log {self.path}: it is closed")
        try:
            last, settled = self._appender.append(entries, rulesets, self._spool.waiting(exclude=waiting))
        except RecordRefused:
            if waiting is not None and self._appender.holds(entries):
                # committed by a writer stopped before it could remove the spool file
                return self._read_back(batch)
            if len(batch) == 1:
                raise
            # Someone's record was refused: each submission alone, so that it fails only its own caller.
            for submission in batch:
                try:
                    submission.seq, _ = self._appender.append(submission.entries, submission.rulesets)
                    self._stored_digests.update(r.digest for r in submission.rulesets)
                except AuditWriteError as error:
                    submission.error = error
            return None
        # Only once committed: a rolled-back rule set must be sent again.
        self._stored_digests.update(r.digest for r in rulesets)
        first = last - len(entries)
        for submission in batch:
            first += len(submission.entries)
            submission.seq = first
        self._spool.remove(settled)  # after the seqs: a failure here must not undo a commit
        return None

    def _read_back(self, batch: list[Submission]) -> None:
        """The sequence numbers another process's commit gave `batch`, read outside any turn."""
        for submission in batch:
            submission.seq = self._seq_of(submission.entries[-1])

    def _seq_of(self, entry: Entry) -> int:
        with self._reader_lock:
            try:
                if self._reader is None:
                    self._reader = sqlite3.connect(self.path, timeout=self.timeout, check_same_thread=False)
                row = self._reader.execute(
                    "SELECT seq FROM decisions WHERE decision_id = ?", (entry.decision_id,)
                ).fetchone()
            except sqlite3.Error as error:
                raise AuditWriteError(
                    f"cannot read decision {entry.decision_id} back from {self.path}: {error}") from None
        if row is None:  # spool files are removed only after their commit
            raise AuditWriteError(f"decision {entry.decision_id} left the spool of {self.path} but is not in the log")
        return row[0]

    def _prepare(self, key: bytes | None) -> bytes:
        """Create the schema if the file is new, check it is a Licit log of a known
        version, and that this process holds the log's key and can write."""
        conn = self._conn
        try:
            conn.execute("PRAGMA synchronous=FULL")  # a commit survives power loss
            deadline = time.monotonic() + self.timeout
            if _is_empty(conn):
                _create(conn, self.path, key, deadline)
            meta = read_meta(conn, self.path)
            _use_wal(conn, deadline)
            resolved = log_key(self.path, meta.get("key_check"), key)
            # Fail at start-up, not at the first decision, if the file is read-only.
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
            return resolved
        except sqlite3.Error as error:
            raise as_audit_error(error, self.path, writing=True) from None


def _gone(spool_file: Path | None) -> Callable[[], bool]:
    if spool_file is None:
        return lambda: False
    return lambda: not spool_file.exists()


def _open_writer(path: Path, timeout: float) -> sqlite3.Connection:
    directory = path.parent
    if not directory.is_dir():
        raise AuditWriteError(f"cannot open decision log {path}: directory {directory} does not exist")
    try:
        return sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as error:
        raise as_audit_error(error, path, writing=True) from None


def _open_spool(path: Path) -> tuple[Spool, FileTurn]:
    """The spool holds what the log holds, so whoever may read or write the log may
    read or write the spool: its permissions follow the log file's."""
    directory = spool_directory(path)
    try:
        file_mode = path.stat().st_mode & 0o666
        try:  # no check first: writers opening the log together race to create it
            directory.mkdir()
        except FileExistsError:
            pass
        else:
            directory.chmod(file_mode | (file_mode & 0o444) >> 2)  # x beside every r, for a directory
        spool = Spool(directory, file_mode)
        spool.remove_abandoned()
        return spool, FileTurn(directory, file_mode)
    except OSError as error:
        raise AuditWriteError(f"cannot write decision log {path}: its spool {directory}: {error.strerror}") from None


def _is_empty(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def _use_wal(conn: sqlite3.Connection, deadline: float) -> None:
    """Of two connections switching a new file to WAL at the same instant, SQLite fails
    one at once as busy (its deadlock guard skips the busy timeout): writers opening a
    new log together retry until `deadline`."""
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if error.sqlite_errorname != "SQLITE_BUSY" or time.monotonic() >= deadline:
                raise
        time.sleep(0.001)


def _create(conn: sqlite3.Connection, path: Path, key: bytes | None, deadline: float) -> None:
    """Concurrent creators serialise on the write lock; the loser finds the schema made."""
    _use_wal(conn, deadline)
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
        roll_back(conn)
        raise
