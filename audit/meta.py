"""The log's meta rows, as verify checks them.

The hash chain does not cover meta: it is written once, when the log is created
(audit.log), before any record. So verify checks that meta holds exactly the keys
the writer creates, each in the form it writes, and a checkpoint carries a digest
of the rows, which catches a rewrite that keeps those forms (another key_check,
an earlier created_at).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3

from audit.canonical import canonical_json
from audit.problems import META_CHANGED, Problem
from audit.errors import AuditInputError
from audit.tables import FORMAT, READABLE_VERSIONS
from audit.times import normalize_instant


def _is_instant(value: str | None) -> bool:
    """In the one form the log stores instants in (audit.times.format_instant)."""
    try:
        return normalize_instant(value, "created_at") == value
    except AuditInputError:
        return False


# key -> (valid, what it must be), as audit.log writes them
_EXPECTED = {
    "format": (lambda v: v == FORMAT, repr(FORMAT)),
    "schema_version": (lambda v: v in [str(version) for version in READABLE_VERSIONS],
                       " or ".join(repr(str(version)) for version in READABLE_VERSIONS)),
    "created_at": (_is_instant, "an instant in the log's form, like 2026-11-24T02:15:00.123456Z"),
    "hash_algorithm": (lambda v: v == "sha256", "'sha256'"),
    # audit.redaction.key_check: an HMAC-SHA256 in lowercase hex
    "key_check": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{64}", v) is not None,
                  "64 lowercase hex digits"),
}


def check_meta(conn: sqlite3.Connection) -> list[Problem]:
    """A `meta changed` problem naming every key that is missing, added or malformed; [] if sound."""
    meta = _meta_rows(conn)
    wrong = [f"{what}: {', '.join(keys)}" for what, keys in (
        ("missing", [key for key in _EXPECTED if key not in meta]),
        ("added", [key for key in meta if key not in _EXPECTED]),
    ) if keys]
    wrong += [
        f"{key} must be {expected}, got {meta[key]!r:.80}"
        for key, (valid, expected) in _EXPECTED.items()
        if key in meta and not valid(meta[key])
    ]
    first = conn.execute("SELECT seq, recorded_at FROM decisions ORDER BY seq LIMIT 1").fetchone()
    created_at = meta.get("created_at")
    # the log is created before its first record is written (fixed-width UTC text sorts as time)
    if first and _is_instant(created_at) and created_at > first[1]:
        wrong.append(f"created_at {created_at} is after seq {first[0]} was recorded ({first[1]})")
    if not wrong:
        return []
    return [Problem(None, META_CHANGED, f"{'; '.join(wrong)} (the log's meta is not as created)")]


def meta_digest(conn: sqlite3.Connection) -> str:
    """`sha256:` + SHA-256 of the canonical JSON of the meta rows as {key: value} (text only:
    its version-1 and RFC 8785 forms are the same)."""
    return "sha256:" + hashlib.sha256(canonical_json(_meta_rows(conn)).encode()).hexdigest()


def _meta_rows(conn: sqlite3.Connection) -> dict[str, str]:
    # as text, whatever a tamperer stored (SQLite lets a TEXT primary key be NULL)
    return dict(conn.execute("SELECT coalesce(CAST(key AS TEXT), 'NULL'), CAST(value AS TEXT) FROM meta ORDER BY 1"))
