"""The applicant's name, id number and phone never reach the log's files in
clear, yet an auditor can find every decision about one person."""

from __future__ import annotations

import unicodedata

import pytest
from conftest import example_flows, example_items, file_bytes
from hypothesis import given
from hypothesis import strategies as st

from audit import AuditError, DecisionLog, find_decisions
from audit.redaction import folded


def identifiers() -> set[str]:
    return {str(flow["applicant"][f]) for flow in example_flows().values() for f in ("name", "id_number", "phone")}


def test_no_identifier_appears_in_the_database_wal_or_shm_files(log_path):
    log = DecisionLog(log_path)
    for item in example_items(20):
        log.record(*item)
    # While the writer is open the records sit in the WAL: check it then, and after.
    while_open = file_bytes(log_path)
    log.close()
    for content in (while_open, file_bytes(log_path)):
        assert b"hmac-sha256:" in content  # the hashes are there...
        for identifier in identifiers():  # ...the identifiers are not, in any encoding SQLite uses
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert identifier.encode(encoding) not in content, identifier


def test_every_decision_about_one_person_is_found_by_id_number(filled_log):
    id_number = example_flows()["student-on-credit"]["applicant"]["id_number"]
    assert len(find_decisions(filled_log, applicant_id=id_number, limit=0)) == 12
    assert find_decisions(filled_log, applicant_id="110101199001011234", limit=0) == []


def test_a_query_by_applicant_with_another_key_is_refused_rather_than_finding_nobody(filled_log, monkeypatch):
    id_number = example_flows()["student-on-credit"]["applicant"]["id_number"]
    monkeypatch.setenv("LICIT_AUDIT_KEY", "another-key-0123456789abcdef")
    with pytest.raises(AuditError, match="the audit key does not match the key decision log .* was created with"):
        find_decisions(filled_log, applicant_id=id_number)
    assert len(find_decisions(filled_log, outcome="deny", limit=0)) > 0  # the key matters only for identifiers


def test_an_id_number_is_found_whether_its_check_character_is_x_or_X(log_path):
    decision, flow, ruleset, duration = example_items(1)[0]
    flow = {**flow, "applicant": {**flow["applicant"], "id_number": "44030119900101123X"}}
    with DecisionLog(log_path) as log:
        log.record(decision, flow, ruleset, duration)
    found = find_decisions(log_path, applicant_id="44030119900101123x")
    assert [row["decision_id"] for row in found] == [decision["decision_id"]]


@given(st.text())
def test_folding_ascii_quickly_folds_as_nfkc_and_case_folding_do(text):
    """audit.redaction.folded lowers ASCII text instead of normalising it: the same result."""
    assert folded(text) == unicodedata.normalize("NFKC", text).casefold()
    assert folded(text.encode("ascii", "ignore").decode()) == \
        unicodedata.normalize("NFKC", text.encode("ascii", "ignore").decode()).casefold()


def test_an_identifier_in_full_width_digits_is_refused_beside_one_in_ascii(log_path):
    decision, flow, ruleset, duration = example_items(1)[0]
    number = flow["applicant"]["id_number"]
    wide = number.translate({ord(c): ord(c) - ord("0") + ord("０") for c in "0123456789"})
    with DecisionLog(log_path) as log:
        with pytest.raises(AuditError, match="id_number appears in clear"):
            log.record(dict(decision, flow_id=f"F-{wide}"), flow, ruleset, duration)
