"""What auditors and the engine ask of a log: find, show, replay, count, export.

Every function takes the log as a path (opened read-only for the call) or as an
open sqlite3 connection.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import IO, NamedTuple

from audit.canonical import digest_of_stored_ruleset, load_json
from audit.chain import PROGRESS_EVERY, Progress, fetch, link_problem
from audit.errors import AuditError, AuditInputError, DecisionNotFound
from audit.outputs import write_output
from audit.redaction import identifier_hash, log_key
from audit.derived import drop_tail, materialize_tail
from audit.schema import SQLITE_MAX_INTEGER, open_reader, read_meta, schema_version
from audit.times import AFTER_ALL, BEFORE_ALL, When, lower_bound, upper_bound

Log = str | os.PathLike | sqlite3.Connection
SUMMARY_COLUMNS = ("seq", "decision_id", "evaluated_at", "jurisdiction", "outcome", "rules", "flow_id")
EXPORT_COLUMNS = (
    "seq", "decision_id", "evaluated_at", "recorded_at", "flow_id", "jurisdiction", "outcome", "rules",
    "obligations", "ruleset_digest", "engine_version", "duration_us", "applicant", "prev_hash", "hash",
)  # fmt: skip


class Tables(NamedTuple):
    """Where one part of the log's records has its lookup, findings and obligations rows."""

    lookups: str
    findings: str
    obligations: str

    def rules(self) -> str:
        return f"(SELECT group_concat(x.rule_id, ' ') FROM {self.findings} AS x WHERE x.seq = d.seq) AS rules"

    def actions(self) -> str:
        return f"(SELECT group_concat(x.action, ' ') FROM {self.obligations} AS x WHERE x.seq = d.seq) AS obligations"


class Reading(NamedTuple):
    """A log open for one consistent read: its connection, schema version, and the parts of
    its records to query, in seq order: in version 2 the derived rows, then (if some records
    are not derived yet) the rows computed from those records (audit.derived)."""

    conn: sqlite3.Connection
    version: int
    parts: list[Tables]


@contextmanager
def reading(log: Log, *, derived: bool = True) -> Iterator[Reading]:
    """`log` opened read-only (or the connection given) for one snapshot of it; without
    `derived`, for reading its records and rule sets only (no parts)."""
    owned = not isinstance(log, sqlite3.Connection)
    conn = open_reader(log)[0] if owned else log
    began, version = False, None
    try:
        version = schema_version(read_meta(conn, log if owned else "the log"))
        if not conn.in_transaction:
            conn.execute("BEGIN")  # the derived rows and the records as of one moment
            began = True
        parts = [Tables("decisions", "findings", "obligations")] if version == 1 else \
            [Tables("decision_lookups", "findings", "obligations")]
        if derived and version != 1 and materialize_tail(conn):
            parts.append(Tables("temp.tail_decision_lookups", "temp.tail_findings", "temp.tail_obligations"))
        yield Reading(conn, version, parts)
    except sqlite3.Error as error:
        raise AuditError(f"cannot read decision log {log}: {error}") from None
    finally:
        try:
            if version not in (None, 1):  # as above: version 1 derives nothing after the commit
                drop_tail(conn)
            if began:
                conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        if owned:
            conn.close()


def find_decisions(
    log: Log,
    *,
    since: When | None = None,
    until: When | None = None,
    outcome: str | None = None,
    rule: str | None = None,
    jurisdiction: str | None = None,
    flow_id: str | None = None,
    applicant_id: str | None = None,
    limit: int | None = 100,
    key: bytes | None = None,
) -> list[dict]:
    """Decisions matching every given filter, newest first, each with the ids of the rules that
    fired as a list. `since`/`until` are dates (whole UTC days) or RFC 3339 timestamps, as text
    or as date/datetime; `applicant_id` is an id number in clear, hashed here with the log's key
    (it is never stored or sent anywhere)."""
    with reading(log) as read:  # a missing or foreign file is the first thing to report
        by_rule = rule is not None
        table = "f" if by_rule else "d"  # filter time and outcome on the driving index
        conditions, params = [], []

        def where(condition: str, value: object) -> None:
            conditions.append(condition)
            params.append(value)

        if by_rule:
            where("f.rule_id = ?", rule)
        if since is not None:
            where(f"{table}.evaluated_at >= ?", lower_bound(since))
        if until is not None:
            where(f"{table}.evaluated_at < ?", upper_bound(until))
        if outcome is not None:
            where(f"{table}.outcome = ?", outcome)
        if jurisdiction is not None:
            where("d.jurisdiction = ?", jurisdiction)
        if flow_id is not None:
            where("d.flow_id = ?", flow_id)
        if applicant_id is not None:
            where("d.applicant = ?", identifier_hash(_key_for(read.conn, key), "id_number", applicant_id))
        if limit:
            params.append(min(limit, SQLITE_MAX_INTEGER))  # a larger limit means the same: all
        rows = []
        for part in read.parts:
            source = f"{part.findings} AS f JOIN {part.lookups} AS d ON d.seq = f.seq" if by_rule \
                else f"{part.lookups} AS d"
            sql = (
                f"SELECT d.seq, d.decision_id, d.evaluated_at, d.jurisdiction, d.outcome, {part.rules()}, d.flow_id "
                f"FROM {source}" + (" WHERE " + " AND ".join(conditions) if conditions else "")
                + f" ORDER BY {table}.evaluated_at DESC, d.seq DESC" + (" LIMIT ?" if limit else "")
            )
            cursor = read.conn.execute(sql, params)
            names = [column[0] for column in cursor.description]
            rows += [dict(zip(names, row)) for row in cursor]
    if len(read.parts) > 1:
        rows.sort(key=lambda row: (row["evaluated_at"], row["seq"]), reverse=True)
    rows = rows[:limit] if limit else rows
    for row in rows:  # rule ids hold no space (rules.schema.RuleId)
        row["rules"] = row["rules"].split(" ") if row["rules"] else []
    return rows


def get_decision(log: Log, decision_id: str) -> dict:
    """The full stored record: the decision as the engine returned it, the redacted
    flow it was made for (enough to replay it under `load_ruleset`), and whether
    its link in the hash chain verifies."""
    with reading(log) as read:
        found = None
        for part in read.parts:
            found = found or read.conn.execute(
                f"SELECT seq FROM {part.lookups} WHERE decision_id = ?", (decision_id,)).fetchone()
        record = fetch(read.conn, read.version, found[0]) if found else None
        if record is None:
            raise DecisionNotFound(f"no decision {decision_id} in the log")
        problem = link_problem(read.conn, read.version, record)
    try:
        decision, flow = load_json(record.decision), load_json(record.flow)
    except ValueError as error:
        raise AuditError(f"decision {decision_id} (seq {record.seq}) cannot be read: {error}; the log was altered "
                         "(run `licit audit verify`)") from None
    return {
        "seq": record.seq,
        "decision_id": decision_id,
        "recorded_at": record.recorded_at,
        "evaluated_at": record.evaluated_at,
        "duration_s": record.duration_us / 1_000_000,
        "ruleset_digest": record.ruleset_digest,
        "decision": decision,
        "flow": flow,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "chain_link_verified": problem is None,
        "chain_link_problem": problem,
    }


def load_ruleset(log: Log, digest: str) -> dict:
    """{"digest", "files": {path: full source}} as stored; with a decision's
    jurisdiction and chain (get_decision) it is all a replay needs."""
    with reading(log, derived=False) as read:
        row = read.conn.execute("SELECT files FROM rulesets WHERE digest = ?", (digest,)).fetchone()
    if row is None:
        raise AuditError(f"no rule set {digest} in the log")
    if digest_of_stored_ruleset(row[0]) != digest:
        # rules that are not the ones a decision was made with prove nothing about it
        raise AuditError(f"rule set {digest} in the log no longer matches its digest: the log was altered "
                         "(run `licit audit verify`)")
    return {"digest": digest, "files": json.loads(row[0])}


PERIODS = ("day", "week", "month")


def decision_stats(log: Log, *, since: When | None = None, until: When | None = None, top: int = 10,
                   by: str = "day") -> dict:
    """Counts by outcome, jurisdiction and UTC period (`by`: day 2026-11-24, ISO week 2026-W48 or
    month 2026-11), and the rules that fire most with the share of their firings in decisions
    that were denied."""
    if by not in PERIODS:
        raise AuditInputError(f"unknown period {by!r} (use day, week or month)")
    low = lower_bound(since) if since is not None else BEFORE_ALL
    high = upper_bound(until) if until is not None else AFTER_ALL
    by_period, by_outcome, by_jurisdiction, firings, denied = Counter(), Counter(), Counter(), Counter(), Counter()
    with reading(log) as read:
        for part in read.parts:
            # One pass over the time index serves all three breakdowns.
            for day, outcome, jurisdiction, count in read.conn.execute(
                f"SELECT substr(evaluated_at, 1, 10), outcome, jurisdiction, count(*) FROM {part.lookups} "
                "WHERE evaluated_at >= ? AND evaluated_at < ? GROUP BY 1, 2, 3", (low, high)
            ):
                by_period[_period(day, by)] += count
                by_outcome[outcome] += count
                by_jurisdiction[jurisdiction] += count
            for rule_id, count, deny in read.conn.execute(
                f"SELECT rule_id, count(*), sum(outcome = 'deny') FROM {part.findings} "
                "WHERE evaluated_at >= ? AND evaluated_at < ? GROUP BY rule_id", (low, high)
            ):
                firings[rule_id] += count
                denied[rule_id] += deny
    top_rules = sorted(firings, key=lambda rule_id: (-firings[rule_id], rule_id))[:max(top, 0)]
    return {
        "decisions": sum(by_period.values()),
        "by_outcome": dict(by_outcome.most_common()),
        "by_jurisdiction": dict(by_jurisdiction.most_common()),
        f"by_{by}": dict(sorted(by_period.items())),
        "top_rules": [
            {"rule_id": rule_id, "firings": firings[rule_id],
             "deny_share": round(denied[rule_id] / firings[rule_id], 4)}
            for rule_id in top_rules
        ],
    }


def _period(day: str, by: str) -> str:
    """The UTC day `2026-11-24` as itself, its ISO week `2026-W48` or its month `2026-11`."""
    if by == "month":
        return day[:7]
    if by == "week":
        year, week, _ = date.fromisoformat(day).isocalendar()
        return f"{year}-W{week:02d}"
    return day


def export_log(log: Log, out: IO[str], fmt: str, *, progress: Progress | None = None) -> tuple[int, int]:
    """Every record in chain order, as JSON lines (every rule set the log stores,
    then the full records: enough to re-verify the chain and replay any decision
    elsewhere) or CSV (one summary row per record). Returns (records, rule sets)."""
    if fmt not in _EXPORTERS:
        raise AuditInputError(f"unknown export format {fmt!r} (use jsonl or csv)")
    with reading(log, derived=fmt == "csv") as read:
        if progress is None:
            return _EXPORTERS[fmt](read, out, None)
        total = read.conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
        return _EXPORTERS[fmt](read, out, lambda done: progress(done, total))


def export_file(
    log: str | os.PathLike, target: str | os.PathLike, fmt: str, *, overwrite: bool = False,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """export_log into the file `target`, which appears whole or not at all; an
    existing file is replaced only with `overwrite`, the log's own files never."""
    return write_output(
        target, lambda out: export_log(log, out, fmt, progress=progress), log=log, what="export", overwrite=overwrite,
        exists_hint="pass --force to replace it",
    )  # fmt: skip


def _export_jsonl(read: Reading, out: IO[str], progress: Callable[[int], None] | None) -> tuple[int, int]:
    conn = read.conn
    rulesets = 0
    for digest, files in conn.execute("SELECT digest, files FROM rulesets ORDER BY rowid"):
        # Stored JSON is canonical already: splice it instead of re-serialising, so that
        # sha256 of the "files" text as exported is the digest.
        out.write('{"digest":%s,"files":%s,"type":"ruleset"}\n' % (json.dumps(digest), files))
        rulesets += 1
    rows = conn.execute(
        "SELECT seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow "
        "FROM decisions ORDER BY seq"
    )
    count = 0
    for seq, recorded_at, evaluated_at, duration_us, prev_hash, digest, decision, flow in rows:
        out.write(
            '{"decision":%s,"duration_us":%d,"evaluated_at":%s,"flow":%s,"hash":%s,"prev_hash":%s,"recorded_at":%s,'
            '"seq":%d,"type":"decision"}\n'
            % (
                decision,
                duration_us,
                json.dumps(evaluated_at),
                flow,
                json.dumps(digest),
                json.dumps(prev_hash),
                json.dumps(recorded_at),
                seq,
            )
        )
        count += 1
        if progress and not count % PROGRESS_EVERY:
            progress(count)
    return count, rulesets


def _export_csv(read: Reading, out: IO[str], progress: Callable[[int], None] | None) -> tuple[int, int]:
    writer = csv.DictWriter(out, EXPORT_COLUMNS)
    writer.writeheader()
    count = 0
    database = _database(read.conn)
    for part in read.parts:  # in seq order
        for row in database.query(
            "SELECT r.seq, d.decision_id, r.evaluated_at, r.recorded_at, d.flow_id, d.jurisdiction, d.outcome, "
            f"{part.rules()}, {part.actions()}, d.ruleset_digest, d.engine_version, r.duration_us, d.applicant, "
            f"r.prev_hash, r.hash FROM decisions AS r JOIN {part.lookups} AS d ON d.seq = r.seq ORDER BY r.seq"
        ):
            writer.writerow(row)
            count += 1
            if progress and not count % PROGRESS_EVERY:
                progress(count)
    return count, 0


_EXPORTERS = {"jsonl": _export_jsonl, "csv": _export_csv}


def _database(conn: sqlite3.Connection):
    """sqlite-utils over a read-only connection, for rows as dicts; no pragmas, no plugins.
    Imported here: it takes ~50 ms to import, which every query would otherwise pay."""
    import sqlite_utils

    return sqlite_utils.Database(conn, recursive_triggers=False, execute_plugins=False)


def _key_for(conn: sqlite3.Connection, key: bytes | None) -> bytes:
    """The log's HMAC key (argument, $LICIT_AUDIT_KEY, or the key file beside the log),
    checked against the log's own key check."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    return log_key(path, read_meta(conn, path).get("key_check"), key)
