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
from audit.tables import FINDING_MEMBERS, LOOKUPS, OBLIGATION_MEMBERS

_RECORDS = "decisions AS d"
_OUTCOME = "json_extract(d.decision, '$.outcome')"


class _Derived(NamedTuple):
    keys: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (column, the expression over the record that derives it)
    source: str
    items: str | None = None  # the decision's list whose elements the rows are (`item` in the expressions)
    members: tuple[str, ...] = ()  # the members of an element the rows copy

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.columns]

    @property
    def select(self) -> str:
        """Its rows from the records; a WHERE on d.seq follows."""
        return f"SELECT {', '.join(f'{expression} AS {name}' for name, expression in self.columns)} FROM {self.source}"


def _items(list_name: str) -> str:
    return f"{_RECORDS}, json_each(d.decision, '$.{list_name}') AS item"


def _members(members: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((member, f"json_extract(item.value, '$.{member}')") for member in members)


_ITEM = (("seq", "d.seq"), ("position", "item.key"))
DERIVED = {
    "findings": _Derived(("seq", "position"), (
        *_ITEM, *_members(FINDING_MEMBERS), ("evaluated_at", "d.evaluated_at"), ("outcome", _OUTCOME)),
        _items("findings"), "findings", FINDING_MEMBERS),
    "obligations": _Derived(("seq", "position"), (*_ITEM, *_members(OBLIGATION_MEMBERS)), _items("obligations"),
                            "obligations", OBLIGATION_MEMBERS),
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
    """Every derived row against the record it comes from: a row that differs, is missing, or
    has no record to come from (forged, or left after its record was removed).

    Parsing a decision's JSON is most of the cost (SQLite caches a parse for the json_extract
    calls that follow on the same text), so each record is parsed once for its lookup row and the
    number of its findings and obligations, and each record with findings or obligations once more
    to compare their rows member by member. Rows that exist and match, as many as the records
    hold, are exactly the rows the records hold (a row's key is its record and position)."""
    upto = derived_upto(conn)
    lookups = DERIVED["decision_lookups"]
    lists = {table: rows for table, rows in DERIVED.items() if rows.items}
    counted = ", ".join(f"coalesce(json_array_length(d.decision, '$.{rows.items}'), 0) AS n_{table}"
                        for table, rows in lists.items())
    differs = " OR ".join(f"stored.{name} IS NOT expected.{name}" for name in lookups.names if name != "seq")
    changed_lookup, *expected_counts = conn.execute(
        f"SELECT min(CASE WHEN stored.seq IS NULL OR {differs} THEN expected.seq END), "
        f"{', '.join(f'sum(expected.n_{table})' for table in lists)} "
        f"FROM ({lookups.select.replace(' FROM ', f', {counted} FROM ', 1)} WHERE d.seq <= ?) AS expected "
        "LEFT JOIN decision_lookups AS stored ON stored.seq = expected.seq", (upto,)).fetchone()
    problems = []
    if changed_lookup is not None:
        problems.append(Problem(changed_lookup, LOOKUPS_CHANGED, "its decision_lookups row no longer matches the "
                                                                 "record it derives from, so queries on it give "
                                                                 "wrong answers"))
    for (table, rows), expected in zip(lists.items(), expected_counts):
        element = f"'$.{rows.items}[' || stored.position || ']"
        differs = " OR ".join([f"stored.{member} IS NOT json_extract(d.decision, {element}.{member}')"
                               for member in rows.members] + [
            f"stored.{name} IS NOT {expression}" for name, expression in rows.columns
            if name not in rows.keys and name not in rows.members])
        changed = conn.execute(
            f"SELECT min(stored.seq) FROM {table} AS stored JOIN decisions AS d ON d.seq = stored.seq "
            f"WHERE stored.seq <= ? AND (json_type(d.decision, {element}') IS NULL OR {differs})", (upto,)
        ).fetchone()[0]
        # the table itself, not an index of it (an index may disagree: integrity_check reports that)
        stored = conn.execute(f"SELECT count(*) FROM {table} NOT INDEXED").fetchone()[0]
        if changed is None and stored != (expected or 0):
            changed = _first_miscounted(conn, table, rows.items, upto)
        if changed is not None:
            problems.append(Problem(changed, ROWS_CHANGED, f"its {table} rows no longer match the record they derive "
                                                           "from, so queries on them give wrong answers"))
        elif stored != (expected or 0):
            problems += _extra_rows(conn, table, upto)
    if conn.execute("SELECT count(*) FROM decision_lookups NOT INDEXED").fetchone()[0] != \
            conn.execute("SELECT count(*) FROM decisions WHERE seq <= ?", (upto,)).fetchone()[0]:
        problems += _extra_rows(conn, "decision_lookups", upto)
    return problems


def _first_miscounted(conn: sqlite3.Connection, table: str, items: str, upto: int) -> int | None:
    """The first record with fewer rows in `table` than it holds elements (a row was removed)."""
    return conn.execute(
        f"SELECT min(d.seq) FROM decisions AS d WHERE d.seq <= ? AND coalesce(json_array_length(d.decision, "
        f"'$.{items}'), 0) != (SELECT count(*) FROM {table} AS x WHERE x.seq = d.seq)", (upto,)).fetchone()[0]


def _extra_rows(conn: sqlite3.Connection, table: str, upto: int) -> list[Problem]:
    """Rows of `table` for a record that does not exist, or beyond how far derivation has come."""
    extra = conn.execute(
        f"SELECT stored.seq FROM {table} AS stored NOT INDEXED LEFT JOIN decisions AS d ON d.seq = stored.seq "
        "WHERE d.seq IS NULL OR stored.seq > ? ORDER BY stored.seq LIMIT 1", (upto,)).fetchone()
    if extra is None:
        return []
    if conn.execute("SELECT 1 FROM decisions WHERE seq = ?", extra).fetchone() is None:
        return [orphaned_rows(extra[0], last_written(conn, upto))]
    kind = LOOKUPS_CHANGED if table == "decision_lookups" else ROWS_CHANGED
    return [Problem(extra[0], kind, f"{table} rows were added for seq {extra[0]} that its record does not hold")]
