"""The applicant's name, id number and phone never reach the log's files in
clear, yet an auditor can find every decision about one person."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest
from conftest import example_flows, example_items, file_bytes
from hypothesis import given
from hypothesis import strategies as st

from audit import AuditError, DecisionLog, find_decisions
from audit import redaction
from audit.redaction import digits_and_x, folded, folded_digits


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


def test_the_characters_that_fold_into_a_digit_or_an_x_are_those_this_python_folds_so():
    """folded_digits lowers a text without them: the list must hold every one this Python's tables fold so
    (a Unicode version it was not made for folds every text instead)."""
    folds_so = {chr(point) for point in range(0x80, sys.maxunicode + 1)
                if re.search("[0-9x]", unicodedata.normalize("NFKC", chr(point)).casefold())}
    marks_joining_x = {chr(point) for point in range(0x80, sys.maxunicode + 1)
                       if re.fullmatch("[xX].+", unicodedata.normalize("NFD", chr(point)))}
    joining = {mark for joined in marks_joining_x for mark in unicodedata.normalize("NFD", joined)[1:]}
    assert joining == {"\u0307", "\u0308"}
    listed = {character for character in map(chr, range(0x80, sys.maxunicode + 1))
              if redaction._DIGIT_FORMS.fullmatch(character)}
    if unicodedata.unidata_version in redaction.DIGIT_FORMS_UNICODE:
        assert {c for c in listed if c <= "\uffff"} == {c for c in folds_so if c <= "\uffff"} | {"\u0307", "\u0308"}
        assert {c for c in folds_so if c > "\uffff"} <= listed
    else:
        assert folded_digits("４４０３０１") == folded("４４０３０１") and folded_digits("张三 440301") == "张三 440301"


_AROUND = st.sampled_from(["4403", "119", "张三", "，", "（", "：", "①", "²", "\u0323", "-", " ", "é", "ß", "İ", "😀", "a"])
# ways to write each character of an id number or phone: as itself, full width, as a mathematical digit, and
# an x in upper case or with a mark that joins it into another letter
_FORMS = {**{digit: [digit, chr(0xFF10 + int(digit)), chr(0x1D7CE + int(digit)), f"{digit}\u0307"]
             for digit in "0123456789"},
          "x": ["x", "X", "ｘ", "Ｘ", "x\u0307", "X\u0308", "x\u0323\u0307"]}


@st.composite
def _number_in_text(draw):
    """(a run of digits and x, a text holding it written in any of its forms, amid other text)."""
    wanted = draw(st.text("0123456789x", min_size=6, max_size=8))
    other = draw(st.integers(1, 3))  # one other form beside the plain one, so that each is tried alone
    written = "".join(_FORMS[character][draw(st.sampled_from([0, other]))] for character in wanted)
    return wanted, draw(st.lists(_AROUND, max_size=4).map("".join)) + written + \
        draw(st.lists(_AROUND, max_size=4).map("".join))


@given(_number_in_text())
def test_a_run_of_digits_and_x_is_found_in_a_text_folded_quickly_as_in_one_folded_wholly(number_in_text):
    wanted, text = number_in_text
    assert digits_and_x(wanted)
    assert (wanted in folded_digits(text)) == (wanted in folded(text)), (text, wanted)


def test_an_identifier_in_full_width_digits_is_refused_beside_one_in_ascii(log_path):
    decision, flow, ruleset, duration = example_items(1)[0]
    number = flow["applicant"]["id_number"]
    wide = number.translate({ord(c): ord(c) - ord("0") + ord("０") for c in "0123456789"})
    with DecisionLog(log_path) as log:
        with pytest.raises(AuditError, match="id_number appears in clear"):
            log.record(dict(decision, flow_id=f"F-{wide}"), flow, ruleset, duration)
