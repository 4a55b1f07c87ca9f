"""The documented canonical form is what is hashed, so an auditor can recompute
any record's hash with nothing but a JSON library and SHA-256."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.canonical import canonical_json, record_body, record_hash, ruleset_digest
from audit.times import lower_bound, normalize_instant, upper_bound

text = st.text(min_size=1, max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(
    decision=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    flow=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    findings=st.lists(st.tuples(text, text, text), max_size=3),
    obligations=st.lists(st.tuples(text, text), max_size=2),
    seq=st.integers(1, 10**9),
    duration_us=st.integers(0, 10**9),
)
def test_record_hash_is_sha256_of_the_documented_canonical_json(
    decision, flow, findings, obligations, seq, duration_us
):
    evaluated_at, recorded_at, prev_hash = "2026-11-24T02:15:00.123456Z", "2026-11-24T02:15:00.200000Z", "ab" * 32
    body = record_body(
        decision_json=canonical_json(decision).encode(),
        duration_us=duration_us,
        evaluated_at=evaluated_at,
        finding_rows=findings,
        flow_json=canonical_json(flow).encode(),
        obligation_rows=obligations,
    )
    documented = {
        "decision": decision,
        "duration_us": duration_us,
        "evaluated_at": evaluated_at,
        "finding_rows": [list(row) for row in findings],
        "flow": flow,
        "obligation_rows": [list(row) for row in obligations],
        "prev_hash": prev_hash,
        "recorded_at": recorded_at,
        "seq": seq,
    }
    independent = json.dumps(documented, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert record_hash(body, prev_hash, recorded_at, seq) == hashlib.sha256(independent).hexdigest()


@given(files=st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=50), min_size=1, max_size=5))
def test_ruleset_digest_depends_on_content_not_on_order(files):
    reordered = dict(reversed(list(files.items())))
    assert ruleset_digest(files) == ruleset_digest(reordered)
    changed = {**files, next(iter(files)): files[next(iter(files))] + " "}
    assert ruleset_digest(changed) != ruleset_digest(files)
    independent = json.dumps(files, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert ruleset_digest(files) == "sha256:" + hashlib.sha256(independent.encode()).hexdigest()


def test_instants_are_normalised_to_utc_so_text_order_is_time_order():
    assert normalize_instant("2026-11-24T10:15:00+08:00", "t") == "2026-11-24T02:15:00.000000Z"
    assert normalize_instant("2026-11-24T02:15:00.5Z", "t") == "2026-11-24T02:15:00.500000Z"
    assert lower_bound("2026-11-24") == "2026-11-24T00:00:00.000000Z"
    assert upper_bound("2026-11-24") == "2026-11-25T00:00:00.000000Z"  # the whole day
    assert upper_bound("2026-11-24T10:15:00+08:00") == "2026-11-24T02:15:00.000001Z"  # that instant included
