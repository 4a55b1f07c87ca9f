"""The data queries read, checked against the hashed records.

The hash chain covers each record's stored JSON, not the lookup columns SQLite
generates from it nor the indexes that queries use. With the file and SQLite's
writable_schema, someone can make those disagree with the records: every query
then lies while the chain still verifies. This check recomputes every lookup
column from its record and has SQLite check every index against its table.

verify runs it on its own connection in a thread beside the chain scan: SQLite
works without the GIL, so on two cores it adds little to verify's time (docs/design.md).
"""

from __future__ import annotations

import os
import re
import sqlite3

from audit.chain import Problem
from audit.schema import TABLES, open_reader

LOOKUPS_CHANGED = "lookup columns changed"
FILE_DAMAGED = "file damaged"

# (column, the expression SQLite generates it with), read from the schema itself
LOOKUP_COLUMNS = re.findall(
    r"(\w+) +TEXT(?: NOT NULL)? GENERATED ALWAYS AS \((json_extract\(\w+, '[^']+'\))\) STORED", TABLES
)
_DIFFERS = [f"{column} IS NOT {expression}" for column, expression in LOOKUP_COLUMNS]  # true where tampered
_INTEGRITY_LINES = 5


def check_lookups(path: str | os.PathLike, mmap_bytes: int) -> list[Problem]:
    """Problems with the log's indexes (or its file) and the first record whose lookup
    columns disagree with it; [] when queries can be trusted."""
    conn, _ = open_reader(path)
    try:
        conn.execute(f"PRAGMA mmap_size={mmap_bytes}")
        # the lookup scan reads the records in the order the chain scan does, sharing its reads from
        # disk; the integrity check then finds the file in the page cache
        return _changed_lookups(conn) + _damage(conn)
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
    row = conn.execute(f"SELECT seq FROM decisions WHERE {' OR '.join(_DIFFERS)} ORDER BY seq LIMIT 1").fetchone()
    if row is None:
        return []
    seq = row[0]
    differs = conn.execute(f"SELECT {', '.join(_DIFFERS)} FROM decisions WHERE seq = ?", (seq,)).fetchone()
    columns = [column for (column, _), different in zip(LOOKUP_COLUMNS, differs) if different]
    return [Problem(seq, LOOKUPS_CHANGED, f"its {', '.join(columns)} no longer match its stored decision, "
                                          "so queries on them give wrong answers")]
