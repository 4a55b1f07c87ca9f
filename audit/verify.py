"""Verification of a whole log, and checkpoints of its head.

verify_log recomputes the hash chain, checks the normalised rows, every rule set
against its digest, the append-only schema, the meta rows (audit.meta), the lookup
columns and indexes queries read (audit.lookups), and optionally that the log
still holds a checkpoint's head.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from audit.canonical import GENESIS_HASH, digest_of_stored_ruleset, load_json
from audit.chain import CONTENT_CHANGED, RECORD_MISSING, Problem, Progress, diagnose, orphaned_rows, scan
from audit.errors import AuditError, AuditInputError
from audit.lookups import FILE_DAMAGED, check_lookups
from audit.meta import META_CHANGED, check_meta, meta_digest
from audit.outputs import write_output
from audit.readahead import reading_ahead
from audit.schema import SQLITE_MAX_INTEGER, expected_schema, last_written, open_reader, schema_objects
from audit.times import utc_now

RULESET_MISSING = "rule set missing"
RULESET_CHANGED = "rule set changed"
SCHEMA_CHANGED = "schema changed"
CHECKPOINT_FORMAT = "licit-decision-log-checkpoint"


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

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None


_SCAN_MMAP_BYTES = 1 << 40


def verify_log(path: str | os.PathLike, checkpoint: str | os.PathLike | None = None, *,
               progress: Progress | None = None) -> VerifyReport:
    """`progress`, if given, is called with (records checked, records in all) as the chain is scanned."""
    expected_head = read_checkpoint(checkpoint) if checkpoint is not None else None
    conn, _ = open_reader(path)
    try:
        # A full scan reads the file through memory maps rather than a read(2) per
        # page: 14 s instead of 15 s cold on the 1,000,000-decision log (docs/performance.md).
        # SQLite caps the size at its compiled maximum, 2 GB in common builds.
        conn.execute(f"PRAGMA mmap_size={_SCAN_MMAP_BYTES}")
        with reading_ahead(path), ThreadPoolExecutor(max_workers=1) as beside:
            lookups = beside.submit(check_lookups, path, _SCAN_MMAP_BYTES)
            # One snapshot for every check of the chain, while writers go on appending.
            conn.execute("BEGIN")
            return _verify(conn, str(path), expected_head, lookups, progress)
    except sqlite3.Error as error:
        raise AuditError(f"cannot read decision log {path}: {error}") from None
    finally:
        conn.close()


def write_checkpoint(path: str | os.PathLike, output: str | os.PathLike) -> dict:
    """Verify the log, then write its head to `output`, a new file (a checkpoint is
    evidence: an existing one is never replaced). Keep the file away from the log:
    a later `verify --checkpoint` proves the log still holds it."""

    def write(file: IO[str]) -> dict:
        head = _head(path)
        file.write(json.dumps(head, indent=2) + "\n")
        return head

    evidence = "a checkpoint is evidence, so a new one needs a new name"
    return write_output(output, write, log=path, what="checkpoint", exists_hint=evidence)


def _head(path: str | os.PathLike) -> dict:
    report = verify_log(path)
    if not report.ok:
        raise AuditError(f"not writing a checkpoint of a damaged log: {report.first_problem}")
    if report.head_seq == 0:
        raise AuditError(f"not writing a checkpoint of {path}: the log is empty")
    conn, _ = open_reader(path)
    try:
        recorded_at = conn.execute("SELECT recorded_at FROM decisions WHERE seq = ?", (report.head_seq,)).fetchone()
        meta = meta_digest(conn)
    finally:
        conn.close()
    return {
        "format": CHECKPOINT_FORMAT,
        "log": str(Path(path).resolve()),
        "seq": report.head_seq,
        "hash": report.head_hash,
        "recorded_at": recorded_at[0] if recorded_at else None,
        "created_at": utc_now(),
        "ruleset_digests": report.ruleset_digests,
        "meta_digest": meta,
    }


_CHECKPOINT_MAX_BYTES = 1 << 20  # a checkpoint is a few hundred bytes


def read_checkpoint(checkpoint: str | os.PathLike) -> dict:
    """A checkpoint file, every field checked: AuditInputError naming the file and field otherwise."""
    try:
        with open(checkpoint, "rb") as file:
            # never more than that: /dev/zero or a huge file would read forever or fill memory
            text = file.read(_CHECKPOINT_MAX_BYTES + 1)
    except OSError as error:
        raise AuditInputError(f"cannot read checkpoint {checkpoint}: {error.strerror}") from None
    if len(text) > _CHECKPOINT_MAX_BYTES:
        raise AuditInputError(f"checkpoint {checkpoint} is larger than 1 MiB, so it is not a checkpoint")
    try:
        head = load_json(text)
    except ValueError:
        raise AuditInputError(f"checkpoint {checkpoint} is not JSON") from None
    if not isinstance(head, dict) or head.get("format") != CHECKPOINT_FORMAT:
        raise AuditInputError(f"{checkpoint} is not a Licit decision log checkpoint")
    for name, (valid, expected) in _CHECKPOINT_FIELDS.items():
        if (name in head or name not in _OPTIONAL_FIELDS) and not valid(head.get(name)):
            raise AuditInputError(f"checkpoint {checkpoint}: {name} must be {expected}, got {head.get(name)!r:.80}")
    return head


_HASH = re.compile(r"[0-9a-f]{64}")  # audit.canonical: SHA-256 hex digests
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CHECKPOINT_FIELDS = {
    "seq": (
        lambda v: type(v) is int and 1 <= v <= SQLITE_MAX_INTEGER,
        f"a sequence number from 1 to {SQLITE_MAX_INTEGER}",
    ),
    "hash": (lambda v: isinstance(v, str) and _HASH.fullmatch(v), "a record hash (64 lowercase hex digits)"),
    "ruleset_digests": (
        lambda v: isinstance(v, list) and all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in v),
        "a list of rule-set digests (sha256: and 64 lowercase hex digits)",
    ),
    "created_at": (lambda v: isinstance(v, str), "the time it was written (a string)"),
    "meta_digest": (
        lambda v: isinstance(v, str) and _DIGEST.fullmatch(v),
        "the digest of the log's meta rows (sha256: and 64 lowercase hex digits)",
    ),
}
_OPTIONAL_FIELDS = {"meta_digest"}  # absent from checkpoints written before it existed


def _verify(conn: sqlite3.Connection, path: str, expected_head: dict | None,
            lookups: Future[list[Problem]], progress: Progress | None) -> VerifyReport:
    records, max_seq = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM decisions").fetchone()
    chain = scan(conn, progress and (lambda done: progress(done, records)))
    problems = list(chain.problems)
    if chain.break_at is not None:
        problems.append(diagnose(conn, chain.last, chain.break_at))
    written = last_written(conn, max_seq)
    problems += [orphaned_rows(seq, written) for seq in chain.orphans]
    problems += _check_tail(max_seq, written)
    problems += _check_rulesets(conn, chain.first_use)
    problems += _check_schema(conn)
    problems += check_meta(conn)
    if expected_head is not None:
        problems += _check_checkpoint(conn, expected_head, max_seq)
    problems += lookups.result()
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


def _check_schema(conn: sqlite3.Connection) -> list[Problem]:
    """Dropped triggers leave the log open to UPDATE and DELETE; an altered table
    could make lookups disagree with the hashed records."""
    actual, expected = schema_objects(conn), expected_schema()
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
    """One per (seq, kind), sorted by seq, log-wide problems last; a damaged file comes
    first, since it puts every other finding in doubt."""
    unique = {(p.seq, p.kind): p for p in reversed(problems)}
    return sorted(unique.values(), key=lambda p: (p.kind != FILE_DAMAGED, p.seq is None, p.seq or 0))
