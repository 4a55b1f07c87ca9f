"""Canonical serialisation and the hashes built on it.

The canonical form is JSON with keys sorted, no insignificant whitespace and UTF-8
text (not \\u escapes). Stored JSON columns hold exactly this form, so a record's
canonical text can be assembled from its stored columns without re-serialising
them, which keeps verification of a million records within seconds.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring

GENESIS_HASH = "0" * 64  # the prev_hash of sequence number 1

_canonical_encoder = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: object) -> str:
    return _canonical_encoder.encode(value)


# Deeper than any flow, record or checkpoint, and shallower than the nesting at which Python's own parser
# gives up, which depends on the version (about 1,000 levels on 3.11, 5,000 on 3.12, 50,000 on 3.13) and on
# the stack already in use: text is measured first, so it is refused the same way on every version.
MAX_JSON_DEPTH = 200
_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_NESTING_BYTES = re.compile(_NESTING.pattern.encode())


def check_nesting(text: str | bytes) -> None:
    """Raise ValueError if JSON ``text`` opens more than MAX_JSON_DEPTH arrays and objects inside one
    another (brackets inside strings do not count)."""
    opening, closing = ("[{", "]}") if isinstance(text, str) else (b"[{", b"]}")
    if text.count(opening[:1]) + text.count(opening[1:]) <= MAX_JSON_DEPTH:
        return
    depth = 0
    for token in (_NESTING if isinstance(text, str) else _NESTING_BYTES).finditer(text):
        mark = token.group()[:1]
        if mark in opening:
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested too deeply (more than {MAX_JSON_DEPTH} levels)")
        elif mark in closing:
            depth -= 1


def load_json(text: str | bytes) -> object:
    """json.loads, with JSON nested more than MAX_JSON_DEPTH levels (only a forged file or an altered log
    holds such) raised as the ValueError of any other malformed JSON, on every Python version."""
    check_nesting(text)
    return json.loads(text)


def ruleset_digest(files: Mapping[str, str]) -> str:
    """Content address of a rule set: `sha256:` + SHA-256 of the canonical JSON of
    {path: full source text} of every rule file in its jurisdiction chain.

    The engine's digest (rules.tree) is this same formula, so the log can prove
    that a stored rule set is exactly the one a decision names.
    """
    return digest_of_stored_ruleset(canonical_json(dict(files)))


def digest_of_stored_ruleset(files_json: str) -> str:
    return "sha256:" + hashlib.sha256(files_json.encode()).hexdigest()


def record_body(
    *,
    decision_json: bytes,
    duration_us: int,
    evaluated_at: str,
    finding_rows: Sequence[Sequence[str]],
    flow_json: bytes,
    obligation_rows: Sequence[Sequence[str]],
) -> bytes:
    """The first part of a record's canonical text (UTF-8), everything but its chain link.

    A record's hash is SHA-256 over the UTF-8 of the canonical JSON object

        {"decision": <decision>, "duration_us": N, "evaluated_at": "...",
         "finding_rows": [[rule_id, jurisdiction, effect], ...], "flow": <redacted flow>,
         "obligation_rows": [[rule_id, action], ...], "prev_hash": "...",
         "recorded_at": "...", "seq": N}

    that is, record_body(...) + record_link(...). The normalised findings and
    obligations rows are part of it, so altering those tables breaks the chain
    just as altering the record does. Sorted keys put the chain link last, so a
    writer builds the body before it takes the write lock.
    """
    return b'{"decision":%b,"duration_us":%d,"evaluated_at":%b,"finding_rows":%b,"flow":%b,"obligation_rows":%b,' % (
        decision_json,
        duration_us,
        encode_basestring(evaluated_at).encode(),
        _rows_json(finding_rows),
        flow_json,
        _rows_json(obligation_rows),
    )


def record_link(prev_hash: str, recorded_at: str, seq: int) -> bytes:
    return b'"prev_hash":%b,"recorded_at":%b,"seq":%d}' % (
        encode_basestring(prev_hash).encode(),
        encode_basestring(recorded_at).encode(),
        seq,
    )


def record_hash(body: bytes, prev_hash: str, recorded_at: str, seq: int) -> str:
    return hashlib.sha256(body + record_link(prev_hash, recorded_at, seq)).hexdigest()


def _rows_json(rows: Sequence[Sequence[str]]) -> bytes:
    if not rows:
        return b"[]"
    return ("[%s]" % ",".join("[%s]" % ",".join(map(encode_basestring, row)) for row in rows)).encode()
