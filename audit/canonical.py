"""Canonical serialisation and the hashes built on it (docs/log-format.md).

Schema version 2 stores and hashes JSON in the RFC 8785 canonical form (JCS): keys
sorted by their UTF-16 code units, no insignificant whitespace, UTF-8 text (not \\u
escapes), numbers as ECMAScript writes them (`950`, not `950.0`). Any language
with a JCS library reproduces it. Stored JSON columns hold exactly this form, so a
record's canonical text is assembled from its stored columns without parsing them,
which keeps verification of a million records within seconds.

Version-1 logs hashed Python's `json.dumps(sort_keys=True)` form; their records
are verified from their stored text (record_body_v1) and never written again.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring

import orjson
import rfc8785

GENESIS_HASH = "0" * 64  # the prev_hash of sequence number 1
MAX_SAFE_INTEGER = 2**53 - 1  # beyond it a JSON number (an IEEE double) is not exact: RFC 8785 refuses it


class _NotPlain(Exception):
    """A value orjson would write differently from RFC 8785."""


def canonical_json(value: object) -> str:
    """`value` in RFC 8785 form. Raises ValueError (or TypeError) for what JCS cannot
    represent: non-finite numbers, integers beyond ±(2**53 - 1) (and, unlike RFC 8785,
    floats of such integral values, which a verifier would read back as such integers),
    keys that are not strings. Lone surrogates pass here and fail when the text is
    encoded as UTF-8.

    The rfc8785 package is the reference, and slow (about 100 µs for a flow): values
    whose JCS form orjson writes byte for byte (all but rare numbers and keys outside
    the Basic Multilingual Plane) go through orjson, after integral floats become ints
    (JCS writes 950.0 as 950). A differential test holds the two equal
    (tests/audit/test_audit_canonical.py)."""
    try:
        plain = _plain(value)
    except _NotPlain:
        _refuse_unsafe_floats(value)
        return rfc8785.dumps(value).decode()
    return orjson.dumps(plain, option=orjson.OPT_SORT_KEYS).decode()


def _refuse_unsafe_floats(value: object) -> None:
    if isinstance(value, float) and math.isfinite(value) and abs(value) > MAX_SAFE_INTEGER:
        raise ValueError(f"{value!r} is beyond ±(2**53 - 1), where JSON numbers stop being exact")
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ():
        _refuse_unsafe_floats(item)


def _plain(value: object) -> object:
    """`value` with integral floats as ints, or _NotPlain; unchanged containers are not copied.
    Strings, nulls, booleans and safe integers, most of a decision, are passed over inline
    (this runs for every record, in the caller)."""
    kind = type(value)
    if kind is dict or kind is list or kind is tuple:
        copy = None
        for key, item in value.items() if kind is dict else enumerate(value):
            # orjson sorts keys by their UTF-8 bytes: UTF-16 order (RFC 8785) within the Basic Multilingual Plane
            if kind is dict and (type(key) is not str or not (key.isascii() or max(key) <= "\uffff")):
                raise _NotPlain
            item_kind = type(item)
            if item_kind is str or item is None or item_kind is bool or (
                    item_kind is int and -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER):
                continue
            plain = _plain(item)
            if plain is not item:
                copy = copy if copy is not None else dict(value) if kind is dict else list(value)
                copy[key] = plain
        return value if copy is None else copy
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return value
        raise _NotPlain
    if kind is float and math.isfinite(value):
        if value.is_integer():
            if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                return int(value)
            # RFC 8785 writes it as digits, which a verifier's JSON parser may read back as an
            # integer it refuses (Python's does): refused, as integers that large are
            _refuse_unsafe_floats(value)
        # orjson writes these positionally with ECMAScript's shortest digits; elsewhere it uses exponents
        if 1e-4 <= abs(value) < 1e16:
            return value
    raise _NotPlain


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

    For text keys and values of the Basic Multilingual Plane this is also what
    the engine computes (rules.tree, json.dumps sorted), so the log can prove that
    a stored rule set is exactly the one a decision names.
    """
    return digest_of_stored_ruleset(canonical_json(dict(files)))


def digest_of_stored_ruleset(files_json: str) -> str:
    return "sha256:" + hashlib.sha256(files_json.encode()).hexdigest()


def record_text(decision_json: bytes, duration_us: int, evaluated_at: str, flow_json: bytes,
                prev_hash: str, recorded_at: str, seq: int) -> bytes:
    """A version-2 record's canonical text: the UTF-8 of the JCS form of

        {"decision": <decision>, "duration_us": N, "evaluated_at": "...", "flow": <flow>,
         "prev_hash": "...", "recorded_at": "...", "seq": N}

    assembled from the stored columns. The instants and hashes hold no character
    JSON escapes (the writer checks their form), and the numbers are integers
    within ±(2**53 - 1), so each is written as it is."""
    return b'{"decision":%b,"duration_us":%d,"evaluated_at":"%b","flow":%b,"prev_hash":"%b","recorded_at":"%b","seq":%d}' % (
        decision_json, duration_us, evaluated_at.encode(), flow_json, prev_hash.encode(), recorded_at.encode(), seq)


def record_hash(text: bytes) -> str:
    return hashlib.sha256(text).hexdigest()


def record_body_v1(
    *,
    decision_json: bytes,
    duration_us: int,
    evaluated_at: str,
    finding_rows: Sequence[Sequence[str]],
    flow_json: bytes,
    obligation_rows: Sequence[Sequence[str]],
) -> bytes:
    """The first part of a version-1 record's canonical text, everything but its chain link.

    A version-1 record's hash is SHA-256 over the UTF-8 of json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False) of

        {"decision": <decision>, "duration_us": N, "evaluated_at": "...",
         "finding_rows": [[rule_id, jurisdiction, effect], ...], "flow": <redacted flow>,
         "obligation_rows": [[rule_id, action], ...], "prev_hash": "...",
         "recorded_at": "...", "seq": N}

    that is, record_body_v1(...) + record_link_v1(...): its findings and obligations
    rows were part of it.
    """
    return b'{"decision":%b,"duration_us":%d,"evaluated_at":%b,"finding_rows":%b,"flow":%b,"obligation_rows":%b,' % (
        decision_json,
        duration_us,
        encode_basestring(evaluated_at).encode(),
        _rows_json(finding_rows),
        flow_json,
        _rows_json(obligation_rows),
    )


def record_link_v1(prev_hash: str, recorded_at: str, seq: int) -> bytes:
    return b'"prev_hash":%b,"recorded_at":%b,"seq":%d}' % (
        encode_basestring(prev_hash).encode(),
        encode_basestring(recorded_at).encode(),
        seq,
    )


def _rows_json(rows: Sequence[Sequence[str]]) -> bytes:
    if not rows:
        return b"[]"
    return ("[%s]" % ",".join("[%s]" % ",".join(map(encode_basestring, row)) for row in rows)).encode()
