"""Analysis of rule packs: contradictions, rules every flow fires, shadowed rules; equivalence of two trees."""
from __future__ import annotations

import shutil

import pytest

from engine import Engine
from engine.errors import FlowValidationError
from engine.solver.analysis import analyze
from engine.solver.equivalence import compare_trees
from tests.conftest import PACKS

RULE = """\
  - id: {id}
    title: planted
    effect: {effect}
    when: >-
      {when}
    effective_from: 2021-01-01
    citation: {{source: s, status: illustrative}}
    message: {{zh: m, en: m}}
    remedy: r
"""


def planted(tmp_path, rules: dict[str, tuple[str, str]]) -> Engine:
    """The shipped packs with more rules in CN/credit.yaml: {id: (effect, condition)}."""
    root = tmp_path / "tree"
    shutil.copytree(PACKS, root)
    credit = root / "CN" / "credit.yaml"
    credit.write_text(credit.read_text(encoding="utf-8") + "".join(
        RULE.format(id=rule_id, effect=effect, when=when) for rule_id, (effect, when) in rules.items()),
        encoding="utf-8")
    return Engine(root, max_request_age=None)


def findings(results, code: str = "CN") -> dict[str, dict]:
    """The findings of the last segment of ``code``, by rule id."""
    last = [segment for segment in results if segment.jurisdiction == code][-1]
    return {finding.rule_id: finding.to_json() for finding in last.findings}


def test_the_shipped_packs_have_no_findings(shipped_engine):
    results = analyze(shipped_engine)
    assert {segment.jurisdiction for segment in results} == set(shipped_engine.jurisdictions)
    assert [finding for segment in results for finding in segment.findings] == []


def test_a_contradiction_across_two_fields_never_fires(tmp_path):
    engine = planted(tmp_path, {"CN.CREDIT.PLANTED": (
        "deny", 'applicant.age >= 18 and payment_for("ctpl").premium_installments > 3 '
                'and applicant.real_name_verified and not has_product("ctpl")')})
    found = findings(analyze(engine, ["CN"]))
    assert found == {"CN.CREDIT.PLANTED": {"kind": "never_fires", "rule_id": "CN.CREDIT.PLANTED", "core": [
        'payment_for("ctpl").premium_installments > 3', 'not has_product("ctpl")']}}


def test_a_contradiction_through_the_contract_names_the_contract(tmp_path):
    engine = planted(tmp_path, {"CN.CREDIT.PLANTED": (
        "review", 'count(payments) == 2 and applicant.age > 30 and count(products) == 1')})
    core = findings(analyze(engine, ["CN"]))["CN.CREDIT.PLANTED"]["core"]
    assert "count(payments) == 2" in core and "count(products) == 1" in core
    assert "applicant.age > 30" not in core
    assert any(part.startswith("payments: every product is covered by exactly one payment") for part in core)


def test_a_rule_every_flow_fires(tmp_path):
    engine = planted(tmp_path, {"CN.CREDIT.ALWAYS": ("warn", "count(payments) >= 1 or applicant.age < 0")})
    assert findings(analyze(engine, ["CN"]))["CN.CREDIT.ALWAYS"] == {"kind": "always_fires",
                                                                     "rule_id": "CN.CREDIT.ALWAYS"}


def test_a_rule_shadowed_by_a_stronger_one(tmp_path):
    engine = planted(tmp_path, {"CN.CREDIT.YOUNG": (
        "review", 'applicant.age < 16 and some p in payments satisfies p.instrument == "consumer_credit"')})
    found = findings(analyze(engine, ["CN"]))["CN.CREDIT.YOUNG"]
    assert found["kind"] == "shadowed" and found["by"] == ["CN.CREDIT.MIN_AGE"]
    fired = {finding.rule_id for finding in engine.evaluate(found["witness"]).findings}
    assert {"CN.CREDIT.YOUNG", "CN.CREDIT.MIN_AGE"} <= fired


def test_a_rule_of_equal_strength_does_not_shadow(tmp_path):
    engine = planted(tmp_path, {"CN.CREDIT.YOUNG": (
        "deny", 'applicant.age < 16 and some p in payments satisfies p.instrument == "consumer_credit"')})
    assert "CN.CREDIT.YOUNG" not in findings(analyze(engine, ["CN"]))


def test_an_undecided_question_is_unknown(shipped_engine):
    results = analyze(shipped_engine, ["CN-SH"], timeout_ms=1)
    assert {finding.kind for segment in results for finding in segment.findings} == {"unknown"}


def rewritten(tmp_path, old: str, new: str) -> Engine:
    root = tmp_path / "rewritten"
    shutil.copytree(PACKS, root)
    credit = root / "CN" / "credit.yaml"
    text = credit.read_text(encoding="utf-8")
    assert old in text
    credit.write_text(text.replace(old, new), encoding="utf-8")
    return Engine(root, max_request_age=None)


DISCLOSURE = '''      some p in payments satisfies p.instrument == "consumer_credit"
      and (p.apr == null or p.apr_disclosed == false)'''


def test_a_rewrite_that_only_moves_text_is_equivalent(tmp_path, shipped_engine):
    moved = '''      some p in payments satisfies
        (p.apr_disclosed == false and p.instrument == "consumer_credit")
        or (not (p.apr != null) and "consumer_credit" == p.instrument)'''
    results = compare_trees(shipped_engine, rewritten(tmp_path, DISCLOSURE, moved))
    assert results and all(result.equivalent is True for result in results)
    assert {result.jurisdiction for result in results} == set(shipped_engine.jurisdictions)


def test_a_rewrite_that_changes_a_null_apr_is_refuted(tmp_path, shipped_engine):
    new = rewritten(tmp_path, DISCLOSURE, '''      some p in payments satisfies p.instrument == "consumer_credit"
      and p.apr_disclosed == false''')
    results = compare_trees(shipped_engine, new)
    refuted = [result for result in results if result.equivalent is False]
    # the disclosure rule is in force from 2021-03-31, in every jurisdiction
    assert refuted and all(result.as_of >= "2021-03-31" for result in refuted)
    assert all(result.equivalent is True for result in results if result.as_of < "2021-03-31")
    for result in refuted:
        flow = result.counterexample
        assert any(payment["apr"] is None and payment["instrument"] == "consumer_credit"
                   for payment in flow["payments"])
        old, changed = shipped_engine.evaluate(flow), new.evaluate(flow)
        assert "CN.CREDIT.APR_DISCLOSURE" in {finding.rule_id for finding in old.findings}
        assert "CN.CREDIT.APR_DISCLOSURE" not in {finding.rule_id for finding in changed.findings}
    assert refuted[0].to_json().keys() == {"jurisdiction", "as_of", "equivalent", "counterexample", "decided"}
    decided = refuted[0].decided
    assert "CN.CREDIT.APR_DISCLOSURE" in set(decided["old"]["fired"]) - set(decided["new"]["fired"])


def test_a_jurisdiction_only_one_tree_has_is_not_equivalent(tmp_path, shipped_engine):
    root = tmp_path / "fewer"
    shutil.copytree(PACKS, root)
    shutil.rmtree(root / "CN-SH")
    results = [result for result in compare_trees(shipped_engine, Engine(root, max_request_age=None))
               if result.jurisdiction == "CN-SH"]
    # before CN's first rule (2006-07-01) both trees refuse every flow: alike
    assert [result.equivalent for result in results if result.as_of < "2006-07-01"] == [True]
    refuted = [result for result in results if result.as_of >= "2006-07-01"]
    assert refuted and all(result.equivalent is False for result in refuted)
    shipped_engine.evaluate(refuted[0].counterexample)
    with pytest.raises(FlowValidationError, match="no rule pack for 'CN-SH'"):
        Engine(root, max_request_age=None).evaluate(refuted[0].counterexample)
