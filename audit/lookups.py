"""The data queries read, checked against the hashed records.

The hash chain covers each record's stored JSON, not the rows queries read through
indexes: in schema version 2 the derived lookup, findings and obligations rows
(audit.derived), in version 1 the lookup columns SQLite generated from the JSON. With
the file (and, in version 1, SQLite's writable_schema), someone can make those disagree
with the records: every query then lies while the chain still verifies. This check
recomputes each of them from its record and has SQLite check every index against its
table.

verify runs it on its own connection in a thread beside the chain scan: SQLite
works without the GIL, so on two cores it adds little to verify's time (docs/design.md).
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
    """Problems with the rows queries read, with the log's indexes or with its file; [] when
    queries can be trusted."""
    conn, _ = open_reader(path)
    try:
        conn.execute(f"PRAGMA mmap_size={mmap_bytes}")
        conn.execute("BEGIN")  # one snapshot for all checks, while writers go on
        # the lookup scan reads the records in the order the chain scan does, sharing its reads from
        # disk; the integrity check then finds the file in the page cache
        changed = _changed_lookups(conn) if version == 1 else check_derived(conn)
        return changed + _damage(conn)
    finally:
        conn.close()


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
