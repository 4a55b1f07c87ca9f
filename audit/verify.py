"""Verification of a whole log, of either schema version.

verify_log recomputes the hash chain, checks every rule set against its digest, the
append-only schema, the meta rows (audit.meta), the rows queries read (audit.lookups),
and optionally that the log still holds a checkpoint's head (audit.checkpoints).
"""

from __future__ import annotations

import os
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from audit.canonical import GENESIS_HASH, digest_of_stored_ruleset
from audit.chain import Progress, orphaned_rows, scan
from audit.checkpoints import read_checkpoint
from audit.diagnose import diagnose
from audit.errors import AuditError, AuditInputError
from audit.lookups import check_file, check_lookups
from audit.meta import check_meta, meta_digest
from audit.problems import (
    CONTENT_CHANGED, FILE_DAMAGED, META_CHANGED, RECORD_MISSING, RULESET_CHANGED, RULESET_MISSING, SCHEMA_CHANGED,
    Problem,
)
from audit.readahead import reading_ahead
from audit.schema import expected_schema, last_written, open_reader, schema_objects, schema_version


@dataclass
class VerifyReport:
    path: str
    records: int  # records in the log
    intact: int  # records verified before the first break
    head_seq: int
    head_hash: str
    problems: list[Problem] = field(default_factory=list)
    ruleset_digests: list[str] = field(default_factory=list)
    checkpoint_seq: int | None = None  # the head of the checkpoint checked against, if any
    checkpoint_covers_meta: bool | None = None  # False for a checkpoint from before meta digests
    checkpoint_signed_by: str | None = None  # the key id whose signature verify checked, if any
    schema_version: int = 2

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


_SCAN_MMAP_BYTES = 1 << 40


def verify_log(path: str | os.PathLike, checkpoint: str | os.PathLike | None = None,
               public_key: str | os.PathLike | None = None, *, progress: Progress | None = None) -> VerifyReport:
    """Verify the log at `path`; with `checkpoint`, also that it holds that head, and with
    `public_key` that the checkpoint is signed by that key and unchanged since (AuditError
    otherwise, before the log is read). `progress`, if given, is called with (records checked,
    records in all) as the chain is scanned."""
    if public_key is not None and checkpoint is None:
        raise AuditInputError("a public key checks a checkpoint's signature: give the checkpoint too")
    expected_head = read_checkpoint(checkpoint, public_key) if checkpoint is not None else None
    conn, meta = open_reader(path)
    try:
        # A full scan reads the file through memory maps rather than a read(2) per
        # page: 14 s instead of 15 s cold on the 1,000,000-decision log (docs/performance.md).
        # SQLite caps the size at its compiled maximum, 2 GB in common builds.
        conn.execute(f"PRAGMA mmap_size={_SCAN_MMAP_BYTES}")
        version = schema_version(meta)
        with reading_ahead(path), ThreadPoolExecutor(max_workers=2) as beside:
            beside_checks = [beside.submit(check_lookups, path, version, _SCAN_MMAP_BYTES),
                             beside.submit(check_file, path, _SCAN_MMAP_BYTES)]
            # One snapshot for every check of the chain, while writers go on appending.
            conn.execute("BEGIN")
            report = _verify(conn, version, str(path), expected_head, beside_checks, progress)
        if expected_head is not None and public_key is not None:
            report.checkpoint_signed_by = expected_head["signature"]["key_id"]
        return report
    except sqlite3.Error as error:
        raise AuditError(f"cannot read decision log {path}: {error}") from None
    finally:
        conn.close()


def _verify(conn: sqlite3.Connection, version: int, path: str, expected_head: dict | None,
            beside_checks: list[Future[list[Problem]]], progress: Progress | None) -> VerifyReport:
    records, max_seq = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM decisions").fetchone()
    chain = scan(conn, version, progress and (lambda done: progress(done, records)))
    problems = list(chain.problems)
    if chain.break_at is not None:
        problems.append(diagnose(conn, version, chain.last, chain.break_at))
    written = last_written(conn, max_seq)
    problems += [orphaned_rows(seq, written) for seq in chain.orphans]
    problems += _check_tail(max_seq, written)
    problems += _check_rulesets(conn, chain.first_use)
    problems += _check_schema(conn, version)
    problems += check_meta(conn)
    if expected_head is not None:
        problems += _check_checkpoint(conn, expected_head, max_seq)
    for check in beside_checks:
        problems += check.result()
    return VerifyReport(
        path=path,
        records=records,
        intact=chain.count,
        head_seq=chain.last.seq if chain.last else 0,
        head_hash=chain.last.hash if chain.last else GENESIS_HASH,
        problems=_first_of_each(problems),
        ruleset_digests=sorted(chain.first_use),
        checkpoint_seq=expected_head["seq"] if expected_head is not None else None,
        checkpoint_covers_meta="meta_digest" in expected_head if expected_head is not None else None,
        schema_version=version,
    )


def _check_tail(max_seq: int, last_written: int) -> list[Problem]:
    """A head below the largest sequence number ever written means records were cut from the end."""
    if last_written > max_seq:
        ends = f"the log ends at seq {max_seq} but seq {last_written} was written"
        return [Problem(max_seq + 1, RECORD_MISSING, ends)]
    return []


def _check_rulesets(conn: sqlite3.Connection, first_use: dict[str, int]) -> list[Problem]:
    problems = []
    stored = set()
    for digest, files_json in conn.execute("SELECT digest, files FROM rulesets"):
        stored.add(digest)
        if digest_of_stored_ruleset(files_json) != digest and digest in first_use:
            problems.append(
                Problem(first_use[digest], RULESET_CHANGED, f"rule set {digest} no longer matches its digest")
            )
    problems += [
        Problem(seq, RULESET_MISSING, f"rule set {digest} is not in the log")
        for digest, seq in first_use.items()
        if digest not in stored
    ]
    return problems


def _check_schema(conn: sqlite3.Connection, version: int) -> list[Problem]:
    """Dropped triggers leave the log open to UPDATE and DELETE; an altered table
    could make lookups disagree with the hashed records."""
    actual, expected = schema_objects(conn), expected_schema(version)
    missing = [name for name in expected if name not in actual]
    altered = [name for name, sql in expected.items() if name in actual and actual[name] != sql]
    # an added trigger can change what is written, an added view or index what is read
    added = sorted(name for name in actual if name not in expected and not name.startswith("sqlite_"))
    if not (missing or altered or added):
        return []
    listed = "; ".join(
        f"{what}: {', '.join(names)}"
        for what, names in (("missing", missing), ("altered", altered), ("added", added)) if names
    )
    return [Problem(None, SCHEMA_CHANGED, f"{listed} (the log is not as created: append-only protection or lookups)")]


def _check_checkpoint(conn: sqlite3.Connection, head: dict, max_seq: int) -> list[Problem]:
    problems = []
    row = conn.execute("SELECT hash FROM decisions WHERE seq = ?", (head["seq"],)).fetchone()
    when = head.get("created_at", "?")
    if head["seq"] > max_seq:
        problems.append(
            Problem(
                max_seq + 1,
                RECORD_MISSING,
                f"the log ends at seq {max_seq}, but the checkpoint of {when} saw seq {head['seq']}",
            )
        )
    elif head["seq"] > 0 and (row is None or row[0] != head["hash"]):
        problems.append(
            Problem(
                head["seq"],
                CONTENT_CHANGED,
                f"its hash differs from the checkpoint of {when}: the log was rewritten at or before it",
            )
        )
    stored = {digest for (digest,) in conn.execute("SELECT digest FROM rulesets")}
    problems += [
        Problem(None, RULESET_MISSING, f"rule set {digest} named by the checkpoint is not in the log")
        for digest in head["ruleset_digests"]
        if digest not in stored
    ]
    if "meta_digest" in head and head["meta_digest"] != meta_digest(conn):
        problems.append(Problem(None, META_CHANGED, f"the log's meta rows differ from the checkpoint of {when}"))
    return problems


def _first_of_each(problems: list[Problem]) -> list[Problem]:
    """One per (seq, kind), the first found, sorted by seq, log-wide problems last; a damaged
    file comes first, since it puts every other finding in doubt. At one seq, the chain's own
    findings (found first) come before what the rows derived from it show."""
    unique: dict[tuple, Problem] = {}
    for problem in problems:
        unique.setdefault((problem.seq, problem.kind), problem)
    return sorted(unique.values(), key=lambda p: (p.kind != FILE_DAMAGED, p.seq is None, p.seq or 0))
