"""The documented canonical form is what is hashed, so an auditor can recompute any
record's hash with a JSON Canonicalization Scheme (RFC 8785) library and SHA-256."""

from __future__ import annotations

import hashlib
import json
import math

import pytest
import rfc8785
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit.canonical import canonical_json, record_body_v1, record_link_v1, record_text, ruleset_digest
from audit.times import lower_bound, normalize_instant, upper_bound

text = st.text(min_size=1, max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats()
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _reference(value) -> bytes | None:
    """RFC 8785, less floats of integral values beyond ±(2**53 - 1), which the log refuses
    as it refuses such integers (a verifier's parser would read them back as integers)."""
    if _unsafe_float(value):
        return None
    try:
        return rfc8785.dumps(value)
    except (ValueError, TypeError):
        return None


def _unsafe_float(value) -> bool:
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) > 2**53 - 1
    if isinstance(value, dict):
        return any(_unsafe_float(item) for item in value.values())
    if isinstance(value, list):
        return any(_unsafe_float(item) for item in value)
    return False


def _fast(value) -> bytes | None:
    try:
        return canonical_json(value).encode()
    except (ValueError, TypeError):
        return None


@settings(max_examples=600, deadline=None)
@given(json_values)
@example(950.0)
@example(-0.0)
@example(1e16)
@example(1.5e16)
@example(2.0**60)
@example(1e21)
@example(1e-7)
@example(0.00001)
@example(0.0001)
@example(123456789.125)
@example(2**53 - 1)
@example(2**53)
@example({"\U0001f600": 1, "\ufb01": 2, "a": 3})
@example({"é": 1, "e": 2})
@example("\ud800")
@example(["\x00\x1f\x7f\"\\"])
@example(math.nan)
def test_canonical_json_is_rfc_8785_byte_for_byte(value):
    """The fast path (orjson) and the reference (the rfc8785 package) agree on
    every value, and refuse the same values (non-finite numbers, unsafe integers, lone
    surrogates)."""
    assert _fast(value) == _reference(value)


@settings(max_examples=3000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_is_written_as_rfc_8785_writes_it(value):
    """Decisions and flows carry amounts and rates: the fast path writes each float as the
    reference does, or both refuse it."""
    assert _fast(value) == _reference(value)


def test_canonical_json_writes_numbers_as_ecmascript_does():
    assert canonical_json({"premium": 950.0, "factor": 0.83, "tiny": 1e-7, "small": 0.000025, "b": 1}) == \
        '{"b":1,"factor":0.83,"premium":950,"small":0.000025,"tiny":1e-7}'


@settings(max_examples=200, deadline=None)
@given(
    decision=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    flow=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    seq=st.integers(1, 2**53 - 1),
    duration_us=st.integers(0, 2**53 - 1),
)
def test_record_hash_is_sha256_of_the_rfc_8785_form_of_the_documented_record(decision, flow, seq, duration_us):
    decision_json, flow_json = _fast(decision), _fast(flow)
    if decision_json is None or flow_json is None:
        return  # not representable: the log refuses it (test_audit_log)
    evaluated_at, recorded_at, prev_hash = "2026-11-24T02:15:00.123456Z", "2026-11-24T02:15:00.200000Z", "ab" * 32
    documented = {"decision": json.loads(decision_json), "duration_us": duration_us, "evaluated_at": evaluated_at,
                  "flow": json.loads(flow_json), "prev_hash": prev_hash, "recorded_at": recorded_at, "seq": seq}
    text = record_text(decision_json, duration_us, evaluated_at, flow_json, prev_hash, recorded_at, seq)
    assert text == rfc8785.dumps(documented)


@settings(max_examples=100, deadline=None)
@given(
    decision=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=6),
    findings=st.lists(st.tuples(text, text, text), max_size=3),
    obligations=st.lists(st.tuples(text, text), max_size=2),
    seq=st.integers(1, 10**9),
)
def test_version_1_hashes_stay_sha256_of_python_json_dumps_sorted(decision, findings, obligations, seq):
    """Version-1 logs are still verified, by the form they were written in."""
    evaluated_at, recorded_at, prev_hash = "2026-11-24T02:15:00.123456Z", "2026-11-24T02:15:00.200000Z", "ab" * 32
    dumps = lambda value: json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # noqa: E731
    body = record_body_v1(decision_json=dumps(decision).encode(), duration_us=7, evaluated_at=evaluated_at,
                          finding_rows=findings, flow_json=b"{}", obligation_rows=obligations)
    documented = {"decision": decision, "duration_us": 7, "evaluated_at": evaluated_at,
                  "finding_rows": [list(row) for row in findings], "flow": {},
                  "obligation_rows": [list(row) for row in obligations], "prev_hash": prev_hash,
                  "recorded_at": recorded_at, "seq": seq}
    assert body + record_link_v1(prev_hash, recorded_at, seq) == dumps(documented).encode()


@given(files=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), min_size=1, max_size=5))
def test_ruleset_digest_depends_on_content_not_on_order(files):
    reordered = dict(reversed(list(files.items())))
    assert ruleset_digest(files) == ruleset_digest(reordered)
    changed = {**files, next(iter(files)): files[next(iter(files))] + " "}
    assert ruleset_digest(changed) != ruleset_digest(files)
    reference = _reference(files)
    if reference is not None:
        assert ruleset_digest(files) == "sha256:" + hashlib.sha256(reference).hexdigest()


@pytest.mark.parametrize("value", [{1: "not a string key"}, {"n": math.inf}, {"n": 2**53}, {"n": 2.0**53}])
def test_what_rfc_8785_cannot_represent_is_refused(value):
    assert _fast(value) is None


def test_instants_are_normalised_to_utc_so_text_order_is_time_order():
    assert normalize_instant("2026-11-24T10:15:00+08:00", "t") == "2026-11-24T02:15:00.000000Z"
    assert normalize_instant("2026-11-24T02:15:00.5Z", "t") == "2026-11-24T02:15:00.500000Z"
    assert lower_bound("2026-11-24") == "2026-11-24T00:00:00.000000Z"
    assert upper_bound("2026-11-24") == "2026-11-25T00:00:00.000000Z"  # the whole day
    assert upper_bound("2026-11-24T10:15:00+08:00") == "2026-11-24T02:15:00.000001Z"  # that instant included
