"""The data queries read, checked against the hashed records.

The hash chain covers each record's stored JSON, not the rows queries read through
indexes: in schema version 2 the derived lookup, findings and obligations rows
(audit.derived), in version 1 the lookup columns SQLite generated from the JSON. With
the file (and, in version 1, SQLite's writable_schema), someone can make those disagree
with the records: every query then lies while the chain still verifies. This check
recomputes each of them from its record and has SQLite check every index against its
table.

verify runs these checks and SQLite's integrity check on connections of their own, in threads
beside the chain scan: SQLite works without the GIL, so the three share two cores
(docs/design.md).
"""

from __future__ import annotations

import os
import sqlite3

from audit.derived import check_derived
from audit.problems import FILE_DAMAGED, LOOKUPS_CHANGED, Problem
from audit.schema import open_reader
from audit.tables import LOOKUPS

_DIFFERS = [f"{column} IS NOT {expression}" for column, expression in LOOKUPS]  # version 1: true where tampered
_INTEGRITY_LINES = 5


def check_lookups(path: str | os.PathLike, version: int, mmap_bytes: int) -> list[Problem]:
    """Problems with the rows queries read; [] when they are what the records hold."""
    conn = _snapshot(path, mmap_bytes)
    try:
        return _changed_lookups(conn) if version == 1 else check_derived(conn)
    finally:
        conn.close()


def check_file(path: str | os.PathLike, mmap_bytes: int) -> list[Problem]:
    """SQLite's integrity check: every index against its table, and the file's own structure."""
    conn = _snapshot(path, mmap_bytes)
    try:
        return _damage(conn)
    finally:
        conn.close()


def _snapshot(path: str | os.PathLike, mmap_bytes: int) -> sqlite3.Connection:
    conn, _ = open_reader(path)
    conn.execute(f"PRAGMA mmap_size={mmap_bytes}")
    conn.execute("BEGIN")  # one snapshot for the whole check, while writers go on
    return conn


def _damage(conn: sqlite3.Connection) -> list[Problem]:
    found = [line for (line,) in conn.execute(f"PRAGMA integrity_check({_INTEGRITY_LINES})")]
    if found == ["ok"]:
        return []
    return [Problem(None, FILE_DAMAGED, f"SQLite's integrity check: {'; '.join(found)} - an index disagrees with its "
                                        "table or the file is corrupt (a copy taken while the log was being written, "
                                        "a disk fault, or tampering)")]


def _changed_lookups(conn: sqlite3.Connection) -> list[Problem]:
    """Version 1: the first record whose generated lookup columns differ from its JSON."""
    row = conn.execute(f"SELECT seq FROM decisions WHERE {' OR '.join(_DIFFERS)} ORDER BY seq LIMIT 1").fetchone()
    if row is None:
        return []
    seq = row[0]
    differs = conn.execute(f"SELECT {', '.join(_DIFFERS)} FROM decisions WHERE seq = ?", (seq,)).fetchone()
    columns = [column for (column, _), different in zip(LOOKUPS, differs) if different]
    return [Problem(seq, LOOKUPS_CHANGED, f"its {', '.join(columns)} no longer match its stored decision, "
                                          "so queries on them give wrong answers")]
