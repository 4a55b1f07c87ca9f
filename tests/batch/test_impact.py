"""The impact of a draft rule tree on the logged flows: checked against what the test itself
computes from the logged flows, on a log seeded with a small rule tree of its own."""
import datetime as dt
import json
import sqlite3
from collections import Counter

import pytest

from audit.spans import CHAIN_LINK, Selection, Span
from engine.batch.impact import EXAMPLES, NO_PACK, NO_RULES, draft_impact, sample_spans
from engine.matching import available_matchers
from rules.errors import RuleSetError
from tests.batch.conftest import ALTER_FLOW, alter, copy_log, seeded
STRENGTH = ["allow", "conditional", "review", "deny"]  # the contract's order of outcomes, weakest first


def tree_files(apr_max: str, *, minor_from: str = "2020-01-01") -> dict[str, str]:
    citation = "citation: {source: test source, status: illustrative}"
    return {"CN/rules.yaml": f"""\
parameters:
  apr_max:
    type: number
    description: rate above which credit is reviewed
    values:
      - from: 2020-01-01
        value: {apr_max}
        {citation}
rules:
  - id: CN.T.APR
    title: rate above the threshold
    effect: review
    when: some p in payments satisfies p.instrument == "consumer_credit" and p.apr != null and p.apr > params.apr_max
    effective_from: 2020-01-01
    {citation}
    message: {{zh: 复核, en: review}}
    remedy: lower the rate
  - id: CN.T.MINOR
    title: a minor
    effect: deny
    when: applicant.age < 18
    effective_from: {minor_from}
    {citation}
    message: {{zh: 拒绝, en: deny}}
    remedy: an adult applies
  - id: CN.T.DISCLOSE
    title: rate not shown
    effect: require
    action: disclose_annualized_rate
    when: some p in payments satisfies p.instrument == "consumer_credit" and p.apr_disclosed == false
    effective_from: 2020-01-01
    {citation}
    message: {{zh: 明示, en: disclose}}
    remedy: show the rate
"""}


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    root = tmp_path_factory.mktemp("impact")
    return seeded(root / "log.db", 1500, rules_dir=write(root / "rules", tree_files("0.24")), seed=11, days=20)


def write(root, files: dict[str, str]):
    for relative, text in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


def logged(db):
    with sqlite3.connect(db) as conn:
        return [(decision_id, json.loads(flow), json.loads(decision)) for decision_id, flow, decision in
                conn.execute("SELECT decision ->> '$.decision_id', flow, decision FROM decisions ORDER BY seq")]


def above(flow: dict, threshold: float) -> bool:
    return any(payment["instrument"] == "consumer_credit" and payment["apr"] is not None
               and payment["apr"] > threshold for payment in flow["payments"])


def test_a_tightened_parameter_gives_exactly_the_expected_transitions(log, tmp_path):
    draft = write(tmp_path / "draft", tree_files("0.18"))
    expected, examples, starts = Counter(), {}, 0
    for decision_id, flow, decision in logged(log):
        was = decision["outcome"]
        now = max(was, "review", key=STRENGTH.index) if above(flow, 0.18) else was
        expected[was, now] += 1
        examples.setdefault((was, now), [])
        if len(examples[was, now]) < EXAMPLES:
            examples[was, now].append(decision_id)
        starts += above(flow, 0.18) and not above(flow, 0.24)
    assert expected["allow", "review"] > 10 and expected["conditional", "review"] > 0  # the seed exercises it

    report = draft_impact(log, draft, workers=1)
    assert dict(report.transitions.counts) == dict(expected)
    assert report.transitions.examples == examples
    assert report.evaluated == 1500
    assert report.changed == sum(count for (was, now), count in expected.items() if was != now)
    shown = report.to_json()
    assert [(item["rule_id"], item["count"]) for item in shown["rules"]["CN"]["starts_firing"]] == [("CN.T.APR", starts)]
    assert shown["rules"]["CN"]["stops_firing"] == []
    assert shown["rules_changed"] == starts
    assert {"from": "allow", "to": "review", "count": expected["allow", "review"],
            "examples": examples["allow", "review"]} in shown["transitions"]


def test_workers_and_one_process_agree(log, tmp_path):
    draft = write(tmp_path / "draft", tree_files("0.18"))
    assert draft_impact(log, draft, workers=2).to_json() == draft_impact(
        log, draft, workers=1).to_json()


@pytest.mark.skipif("durable" not in available_matchers(), reason="durable_rules does not import here")
def test_each_matcher_gives_the_same_impact(log, tmp_path):
    draft = write(tmp_path / "draft", tree_files("0.18"))
    shown = draft_impact(log, draft, workers=1, matcher="python").to_json()
    assert shown["changed"] > 0
    assert draft_impact(log, draft, workers=1, matcher="durable").to_json() == shown


def test_flows_the_draft_cannot_decide_are_counted_apart(log, tmp_path):
    late = write(tmp_path / "late", {"CN/rules.yaml": tree_files("0.24")["CN/rules.yaml"].replace(
        "from: 2020-01-01", "from: 2090-01-01")})  # the parameter's value and the rules' effective_from
    report = draft_impact(log, late, workers=1)
    assert (report.evaluated, report.undecidable.total()) == (0, 1500)
    assert list(report.undecidable.counts) == [(NO_RULES, "CN")]
    other = write(tmp_path / "other", {"CN-XX/rules.yaml": tree_files("0.24")["CN/rules.yaml"].replace(
        "CN.T.", "CN-XX.T.")})
    report = draft_impact(log, other, workers=1)
    assert dict(report.undecidable.counts) == {(NO_PACK, "CN"): 1500}


def test_as_of_decides_every_flow_at_a_proposed_date(log, tmp_path):
    draft = write(tmp_path / "draft", tree_files("0.24", minor_from="2030-01-01"))
    today = draft_impact(log, draft, workers=1)
    later = draft_impact(log, draft, workers=1, as_of=dt.date(2030, 1, 1))
    [minors] = today.to_json()["rules"]["CN"]["stops_firing"]
    assert minors["rule_id"] == "CN.T.MINOR" and minors["count"] > 0 and "CN" not in later.to_json()["rules"]  # in force again by then: nothing changes


def test_a_draft_that_does_not_validate_is_refused_with_its_errors(log, tmp_path):
    broken = write(tmp_path / "broken", {"CN/rules.yaml": tree_files("0.24")["CN/rules.yaml"].replace(
        "applicant.age < 18", "applicant.agee < 18")})
    with pytest.raises(RuleSetError) as error:
        draft_impact(log, broken, workers=1)
    assert str(error.value) == (f"{broken}/CN/rules.yaml:21:21: unknown_field: Applicant has no field 'agee' "
                                "(did you mean 'age'?)")


def test_a_sample_evaluates_exactly_n_spread_over_the_log(log, tmp_path):
    draft = write(tmp_path / "draft", tree_files("0.18"))
    first = draft_impact(log, draft, workers=1, sample=100)
    assert first.considered == 100 and first.to_json() == draft_impact(log, draft, workers=1,
                                                                         sample=100).to_json()
    spans = [Span(1, 10, 10), Span(11, 20, 10), Span(21, 40, 20)]
    assert [span.size for span in sample_spans(spans, 8)] == [2, 2, 4]
    assert all(len(set(span.keep)) == span.size and max(span.keep) < span.count for span in sample_spans(spans, 8))


def test_records_that_do_not_verify_are_not_decided(log, tmp_path):
    db = copy_log(log, tmp_path / "log.db")
    alter(db, ALTER_FLOW, 7)
    report = draft_impact(db, write(tmp_path / "draft", tree_files("0.18")), Selection(), workers=1)
    assert dict(report.unread.counts) == {CHAIN_LINK: 1} and report.evaluated == 1499
