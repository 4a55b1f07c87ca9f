"""Connections to a log, its meta rows and its schema (the tables: audit.tables)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from audit.errors import AuditError, AuditWriteError
from audit.tables import FORMAT, READABLE_VERSIONS, SCHEMAS

SQLITE_MAX_INTEGER = 2**63 - 1  # the largest sequence number or LIMIT SQLite takes
DB_ENV = "LICIT_AUDIT_DB"


def default_db_path() -> Path:
    """--db, else $LICIT_AUDIT_DB, else ./licit-audit.db."""
    return Path(os.environ.get(DB_ENV) or "licit-audit.db")


def create_schema(conn: sqlite3.Connection, meta: dict[str, str], version: int) -> None:
    """Inside the caller's transaction: tables, meta rows, then the triggers that freeze them."""
    tables, triggers = SCHEMAS[version]
    for statement in _statements(tables):
        conn.execute(statement)
    conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", sorted(meta.items()))
    for statement in _statements(triggers):
        conn.execute(statement)


def expected_schema(version: int) -> dict[str, str]:
    """name -> SQL, as SQLite stores it, of every object a sound log of `version` has."""
    probe = sqlite3.connect(":memory:")
    try:
        create_schema(probe, {}, version)
        return schema_objects(probe)
    finally:
        probe.close()


def schema_version(meta: dict[str, str]) -> int:
    """The version of a log whose meta read_meta accepted."""
    return int(meta["schema_version"])


def log_version(conn: sqlite3.Connection) -> int:
    """The schema version of the log open as `conn` (read_meta checked it when it was opened)."""
    return int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])


def schema_objects(conn: sqlite3.Connection) -> dict[str, str]:
    rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name != 'sqlite_sequence'")
    return dict(rows.fetchall())


def last_written(conn: sqlite3.Connection, head_seq: int) -> int:
    """The largest sequence number ever written to `decisions`, which SQLite remembers for an
    AUTOINCREMENT key (sqlite_sequence); never below the head `head_seq`."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'decisions'").fetchone()
    return max(row[0], head_seq) if row else head_seq


def read_meta(conn: sqlite3.Connection, path: str | os.PathLike) -> dict[str, str]:
    """The log's meta data; AuditError if `path` is not a Licit log this code can read."""
    try:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in names:
            raise AuditError(f"{path} is not a Licit decision log (it has no meta table)")
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as error:
        raise as_audit_error(error, path) from None
    if meta.get("format") != FORMAT:
        raise AuditError(f"{path} is not a Licit decision log (format {meta.get('format')!r})")
    if meta.get("schema_version") not in [str(version) for version in READABLE_VERSIONS]:
        readable = " and ".join(str(version) for version in READABLE_VERSIONS)
        raise AuditError(
            f"{path} has decision log schema version {meta.get('schema_version')!r}; "
            f"this Licit reads versions {readable}"
        )
    return meta


def open_reader(path: str | os.PathLike) -> tuple[sqlite3.Connection, dict[str, str]]:
    """A read-only connection (readers never block the writers, and cannot change the log).

    SQLite reads a WAL-mode log through the `-shm` index beside it, and creates that file
    if it is missing. On read-only storage (an archive, a read-only mount, a directory the
    reader cannot write) it cannot, and the log is read as an immutable file instead when
    that is safe (see _read_only_storage); closing such a connection raises AuditError
    if the log file changed while it was open."""
    file = Path(path)
    if not file.is_file():
        raise AuditError(f"no decision log at {path}")
    try:
        conn = _connect(file, path)
    except sqlite3.Error as error:
        raise as_audit_error(error, path) from None
    try:
        return conn, read_meta(conn, path)
    except BaseException:
        conn.close()
        raise


def _connect(file: Path, path: str | os.PathLike) -> sqlite3.Connection:
    conn = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # opens the -wal and -shm, or fails to
    except BaseException as error:
        conn.close()
        # CANTOPEN: no -shm and no right to create one; READONLY_DIRECTORY: the same, for a
        # user who may read the directory but not write it
        if getattr(error, "sqlite_errorname", "") not in ("SQLITE_CANTOPEN", "SQLITE_READONLY_DIRECTORY"):
            raise
        return _read_only_storage(file, path)
    return conn


def _read_only_storage(file: Path, path: str | os.PathLike) -> sqlite3.Connection:
    """The log where SQLite cannot open or create its -shm index.

    `immutable=1` reads the log file alone, without locks or the index, and ignores any
    -wal. That is the whole log only when no -wal with content lies beside it: a writer
    closing the log last checkpoints the -wal into the file and deletes it. A -wal with
    content holds records the file may not: refused, rather than read without them. A
    writer elsewhere (the same file through a writable path) could still checkpoint
    into the file while it is read; the connection's close() detects that.
    """
    resolved = file.resolve()
    wal = Path(f"{resolved}-wal")
    try:
        state = _file_state(resolved)
        unmerged = wal.exists() and wal.stat().st_size > 0
    except OSError as error:
        raise AuditError(f"cannot read decision log {path}: {error.strerror}") from None
    if unmerged:
        raise AuditError(
            f"cannot read decision log {path}: {wal.name} beside it holds changes not yet in the log file, "
            f"and SQLite cannot create {resolved.name}-shm there to read them (read-only storage); copy the log "
            f"with its -wal file to a writable directory and read the copy, or ask for a checkpointed copy"
        )
    conn = sqlite3.connect(f"{resolved.as_uri()}?immutable=1", uri=True, factory=_ImmutableRead)
    conn.watch(path, resolved, state)
    return conn


class _ImmutableRead(sqlite3.Connection):
    """A connection with `immutable=1`: SQLite neither locks the log nor looks for changes,
    so close() checks that the log file is as it was when opened; if something wrote it
    meanwhile, what was read may mix two states, and the read fails instead."""

    def watch(self, path: str | os.PathLike, file: Path, state: tuple[int, int, int]) -> None:
        self._watched = (path, file, state)

    def close(self) -> None:
        super().close()
        path, file, state = self._watched
        try:
            unchanged = _file_state(file) == state
        except OSError:
            unchanged = False
        if not unchanged:
            raise AuditError(
                f"decision log {path} changed while it was read from read-only storage without locks, "
                "so the result may mix two states: discard it and run the command again"
            )


def _file_state(file: Path) -> tuple[int, int, int]:
    status = file.stat()
    return status.st_ino, status.st_size, status.st_mtime_ns


def as_audit_error(error: sqlite3.Error, path: str | os.PathLike, *, writing: bool = False) -> AuditError:
    """One line naming the file and SQLite's cause."""
    if getattr(error, "sqlite_errorname", "") == "SQLITE_NOTADB":
        return AuditError(f"{path} is not a Licit decision log (not an SQLite database)")
    if writing:
        return AuditWriteError(f"cannot write decision log {path}: {error}")
    return AuditError(f"cannot read decision log {path}: {error}")


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";\n") if statement.strip()]
