"""Rows derived from committed records (schema version 2): what queries read through indexes.

The durable commit of a record holds only the chain. The writer derives its lookup,
findings and obligations rows afterwards, for many records at once, in a transaction
of its own (audit.writer.appender): the indexes' pages are then written once for a
batch instead of once per record. decision_lookups' largest seq is how far derivation
has come: every record up to it has its rows, none beyond it has any.

Records committed but not yet derived (the writer was between batches, or was killed)
are read from the chain itself: queries add their rows (materialize_tail), so that a
query never misses a committed record, and verify recomputes every derived row from
its record (check_derived). One set of SELECTs below defines the rows for all three.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from audit.chain import orphaned_rows
from audit.problems import LOOKUPS_CHANGED, ROWS_CHANGED, Problem
from audit.schema import last_written
from audit.tables import FINDING_FIELDS, LOOKUPS, OBLIGATION_FIELDS

_RECORDS = "decisions AS d"
_OUTCOME = "json_extract(d.decision, '$.outcome')"


class _Derived(NamedTuple):
    keys: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (column, the expression over the record that derives it)
    source: str

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def select(self) -> str:
        """Its rows from the records; a WHERE on d.seq follows."""
        return f"SELECT {', '.join(f'{expression} AS {name}' for name, expression in self.columns)} FROM {self.source}"


def _items(list_name: str) -> str:
    return f"{_RECORDS}, json_each(d.decision, '$.{list_name}') AS item"


_ITEM = (("seq", "d.seq"), ("position", "item.key"))
DERIVED = {
    "findings": _Derived(("seq", "position"), (
        *_ITEM, *FINDING_FIELDS, ("evaluated_at", "d.evaluated_at"), ("outcome", _OUTCOME)), _items("findings")),
    "obligations": _Derived(("seq", "position"), (*_ITEM, *OBLIGATION_FIELDS), _items("obligations")),
    # last: its largest seq says how far derivation has come (audit.tables' triggers)
    "decision_lookups": _Derived(("seq",), (("seq", "d.seq"), *LOOKUPS, ("evaluated_at", "d.evaluated_at")),
                                 _RECORDS),
}


def derived_upto(conn: sqlite3.Connection) -> int:
    """The last seq whose rows are derived (0: none)."""
    return conn.execute("SELECT coalesce(max(seq), 0) FROM decision_lookups").fetchone()[0]


def derive(conn: sqlite3.Connection, after: int, upto: int) -> None:
    """Inside the caller's transaction: the rows of records `after` < seq <= `upto`."""
    for table, rows in DERIVED.items():
        conn.execute(f"INSERT INTO {table}({', '.join(rows.names)}) {rows.select} WHERE d.seq > ? AND d.seq <= ?",
                     (after, upto))


def materialize_tail(conn: sqlite3.Connection) -> bool:
    """Inside the caller's read transaction: TEMP tables tail_findings, tail_obligations and
    tail_decision_lookups holding the rows of the records not yet derived, computed from the
    chain; False (and none made) when every record is derived. A reader's own connection
    writes TEMP tables even when the log is read-only."""
    upto = derived_upto(conn)
    if conn.execute("SELECT 1 FROM decisions WHERE seq > ? LIMIT 1", (upto,)).fetchone() is None:
        return False
    for table, rows in DERIVED.items():
        conn.execute(f"CREATE TEMP TABLE tail_{table} AS {rows.select} WHERE d.seq > ?", (upto,))
    return True


def drop_tail(conn: sqlite3.Connection) -> None:
    for table in DERIVED:
        conn.execute(f"DROP TABLE IF EXISTS temp.tail_{table}")


def check_derived(conn: sqlite3.Connection) -> list[Problem]:
    """Every derived row against the record it comes from: a row that differs, is missing,
    or has no record to come from (forged, or left after its record was removed)."""
    upto = derived_upto(conn)
    problems = []
    for table, rows in DERIVED.items():
        kind = LOOKUPS_CHANGED if table == "decision_lookups" else ROWS_CHANGED
        select = rows.select
        joined = " AND ".join(f"stored.{key} = expected.{key}" for key in rows.keys)
        differs = " OR ".join(f"stored.{name} IS NOT expected.{name}" for name in rows.names if name not in rows.keys)
        expected, first = conn.execute(
            f"SELECT count(*), min(CASE WHEN stored.seq IS NULL OR {differs} THEN expected.seq END) "
            f"FROM ({select} WHERE d.seq <= ?) AS expected LEFT JOIN {table} AS stored ON {joined}", (upto,)
        ).fetchone()
        if first is not None:
            problems.append(Problem(first, kind, f"its {table} rows no longer match the record they derive from, "
                                                 "so queries on them give wrong answers"))
            continue
        # the table itself, not an index of it (an index may disagree: integrity_check reports that)
        if conn.execute(f"SELECT count(*) FROM {table} NOT INDEXED").fetchone()[0] != expected:
            extra = conn.execute(
                f"SELECT stored.seq FROM {table} AS stored NOT INDEXED LEFT JOIN ({select}) AS expected ON {joined} "
                "WHERE expected.seq IS NULL OR stored.seq > ? ORDER BY stored.seq LIMIT 1", (upto,)).fetchone()
            if extra is None:
                continue
            if conn.execute("SELECT 1 FROM decisions WHERE seq = ?", extra).fetchone() is None:
                problems.append(orphaned_rows(extra[0], last_written(conn, upto)))
            else:
                problems.append(Problem(extra[0], kind, f"{table} rows were added for seq {extra[0]} that its record "
                                                        "does not hold"))
    return problems
