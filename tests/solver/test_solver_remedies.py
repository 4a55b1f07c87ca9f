"""Remedies: for every shipped scenario the engine denies or refers, changes the engine confirms."""
from __future__ import annotations

import copy
import datetime as dt
import shutil
import sqlite3

import pytest

from engine import Engine
from engine.errors import FlowValidationError
from engine.solver import remedy as remedy_module
from engine.solver.patch import apply_patch
from engine.solver.remedy import Remedies, find_remedies
from rules.scenarios import load_scenarios
from tests.conftest import PACKS


def denied_or_referred(engine):
    cases = []
    for case in load_scenarios(engine.tree).cases:
        try:
            decision = engine.evaluate(case.flow, as_of=case.as_of)
        except FlowValidationError:
            continue
        if decision.outcome in ("deny", "review"):
            cases.append((case, decision))
    return cases


def fired(decision) -> set[str]:
    return {finding.rule_id for finding in decision.findings}


def changed_field(operation: dict) -> str:
    parts = [part for part in operation["path"].split("/")[1:] if not part.isdigit() and part != "-"]
    return ".".join(parts) + ("" if operation["op"] == "replace" else f".{operation['op']}")


def check_remedies(engine, flow: dict, decision, found: Remedies, as_of=None) -> None:
    """Every claim of every remedy, judged by the engine."""
    costs = engine.tree.changes(flow["jurisdiction"])
    assert found.outcome == decision.outcome
    assert [remedy.cost for remedy in found.remedies] == sorted(remedy.cost for remedy in found.remedies)
    fields = []
    for remedy in found.remedies:
        patched = apply_patch(flow, remedy.patch)
        after = engine.evaluate(patched, as_of=as_of)
        assert after.outcome == remedy.outcome in ("allow", "conditional")
        assert remedy.clears == sorted(fired(decision) - fired(after))
        assert remedy.obligations == [obligation.action for obligation in after.obligations]
        assert remedy.cost == sum(costs[changed_field(operation)] for operation in remedy.patch)
        for index in range(len(remedy.patch)):  # every operation is needed
            fewer = remedy.patch[:index] + remedy.patch[index + 1:]
            try:
                rank = ["deny", "review", "conditional", "allow"].index(engine.evaluate(
                    apply_patch(flow, fewer), as_of=as_of).outcome)
            except FlowValidationError:
                continue
            assert rank < ["deny", "review", "conditional", "allow"].index(remedy.outcome), remedy.patch[index]
        fields.append({changed_field(operation) for operation in remedy.patch})
    for index, these in enumerate(fields):  # diverse: no remedy changes the fields of another, or more
        assert not any(other <= these for other in fields[:index])


def test_every_denied_or_referred_scenario_has_remedies_the_engine_confirms(shipped_engine):
    cases = denied_or_referred(shipped_engine)
    assert len(cases) > 40
    for case, decision in cases:
        found = find_remedies(shipped_engine, case.flow, as_of=case.as_of)
        assert found.remedies, case.id
        assert found.unknown is None
        check_remedies(shipped_engine, case.flow, decision, found, case.as_of)


def test_facts_about_the_person_and_the_request_never_change(shipped_engine, compliant_flow):
    flow = copy.deepcopy(compliant_flow)
    flow["applicant"]["age"] = 17  # a minor paying with credit: denied
    found = find_remedies(shipped_engine, flow)
    assert found.outcome == "deny" and found.remedies
    for remedy in found.remedies:
        assert not any(operation["path"].startswith(("/applicant/age", "/applicant/is_student", "/flow_id",
                                                     "/requested_at", "/jurisdiction", "/vehicle/usage"))
                       for operation in remedy.patch)
    # the applicant stays a minor: credit goes, the payment moves to another instrument or goes with its product
    assert any(operation["path"] == "/payments/1/instrument" for operation in found.remedies[0].patch)


def test_a_premium_split_between_a_bank_card_and_credit(write_tree, compliant_flow):
    """Paying both premiums in instalments through one credit payment, where instalments may not be undone:
    the remedy gives CTPL a payment of its own, paid in one sum, and keeps credit for the commercial policy."""
    root = write_tree({})
    shutil.copytree(PACKS, root, dirs_exist_ok=True)
    pilots = root / "CN-BJ" / "pilots.yaml"
    pilots.write_text(pilots.read_text(encoding="utf-8").replace(
        "  name: {zh: 北京市, en: Beijing}\n",
        "  name: {zh: 北京市, en: Beijing}\n  changes: {payments.premium_installments: fixed}\n"), encoding="utf-8")
    engine = Engine(root, max_request_age=None)
    flow = copy.deepcopy(compliant_flow)
    flow.update(jurisdiction="CN-BJ")
    flow["channel"]["pilot_id"] = "BJ-FINTECH-PILOT-2020-01"  # the pilot excuses commercial instalments
    flow["insurer"]["branch_jurisdiction"] = flow["vehicle"]["registration_jurisdiction"] = "CN-BJ"
    flow["payments"] = [dict(flow["payments"][1], covers=["ctpl", "commercial"], premium_installments=6)]
    decision = engine.evaluate(flow)
    assert fired(decision) == {"CN.CTPL.LUMP_SUM"}
    found = find_remedies(engine, flow)
    check_remedies(engine, flow, decision, found)
    best = found.remedies[0]
    assert {operation["op"] for operation in best.patch} == {"replace", "add"}
    patched = apply_patch(flow, best.patch)
    ctpl = next(payment for payment in patched["payments"] if "ctpl" in payment["covers"])
    commercial = next(payment for payment in patched["payments"] if "commercial" in payment["covers"])
    assert ctpl is not commercial and ctpl["premium_installments"] == 1
    assert commercial["instrument"] == "consumer_credit" and commercial["premium_installments"] == 6


def test_a_pack_declares_what_may_not_change(write_tree, compliant_flow):
    root = write_tree({})
    shutil.copytree(PACKS, root, dirs_exist_ok=True)
    credit = root / "CN-SH" / "credit.yaml"
    credit.write_text(credit.read_text(encoding="utf-8").replace(
        "  name: {zh: 上海市, en: Shanghai}\n",
        "  name: {zh: 上海市, en: Shanghai}\n  changes: {payments.apr: fixed, payments.instrument: 7}\n"),
        encoding="utf-8")
    flow = copy.deepcopy(compliant_flow)
    flow["jurisdiction"] = "CN-SH"
    flow["payments"][1]["apr"] = 0.3
    shipped = find_remedies(Engine(PACKS, max_request_age=None), flow)
    assert shipped.remedies[0].patch == [{"op": "replace", "path": "/payments/1/apr", "value": 0.24}]
    engine = Engine(root, max_request_age=None)
    found = find_remedies(engine, flow)
    assert found.remedies and not any(operation["path"].endswith("/apr") for remedy in found.remedies
                                      for operation in remedy.patch)
    assert engine.tree.changes("CN-SH")["payments.instrument"] == 7
    assert engine.tree.changes("CN")["payments.instrument"] == 3  # the parent keeps the default
    check_remedies(engine, flow, engine.evaluate(flow), found)


def test_a_flow_allowed_or_conditional_has_no_remedies(shipped_engine, compliant_flow):
    assert find_remedies(shipped_engine, compliant_flow).to_json() == {"outcome": "allow", "remedies": []}
    flow = copy.deepcopy(compliant_flow)
    flow["payments"][1]["apr_disclosed"] = False
    assert find_remedies(shipped_engine, flow).to_json() == {"outcome": "conditional", "remedies": []}


def test_remedies_as_json(shipped_engine, compliant_flow):
    flow = copy.deepcopy(compliant_flow)
    flow["payments"][1]["settlement"] = "deferred"
    found = find_remedies(shipped_engine, flow, max_remedies=1).to_json()
    assert found == {"outcome": "deny", "remedies": [{
        "patch": [{"op": "replace", "path": "/payments/1/settlement", "value": "real_time"}],
        "outcome": "allow", "clears": ["CN.AUTO.PREMIUM_BEFORE_ISSUE"], "obligations": [], "cost": 2}]}


def test_conditional_when_no_allow_is_reachable(write_tree, compliant_flow):
    root = write_tree({"CN/rules.yaml": """\
        rules:
          - id: CN.T.TERM
            title: t
            effect: require
            action: explain_the_term
            when: product("ctpl").term_months == 12
            effective_from: 2020-01-01
            citation: {source: s, status: illustrative}
            message: {zh: m, en: m}
            remedy: r
          - id: CN.T.TERM_REVIEW
            title: t
            effect: review
            when: product("ctpl").term_months > 12 - 1 and payment_for("ctpl").instrument == "bank_card"
            effective_from: 2020-01-01
            citation: {source: s, status: illustrative}
            message: {zh: m, en: m}
            remedy: r
        jurisdiction:
          changes: {products.term_months: fixed}
        """})
    engine = Engine(root, max_request_age=None)
    flow = dict(compliant_flow, jurisdiction="CN")
    found = find_remedies(engine, flow)
    assert found.outcome == "review"
    assert [remedy.outcome for remedy in found.remedies] == ["conditional"] * len(found.remedies)
    assert found.remedies[0].obligations == ["explain_the_term"]
    check_remedies(engine, flow, engine.evaluate(flow), found)


def test_remedies_are_not_logged_as_decisions(tmp_path, compliant_flow):
    flow = copy.deepcopy(compliant_flow)
    flow["applicant"]["real_name_verified"] = False
    with Engine(PACKS, audit_db=tmp_path / "audit.db", max_request_age=None) as engine:
        assert find_remedies(engine, flow).remedies
        engine.evaluate(flow)
    with sqlite3.connect(tmp_path / "audit.db") as log:
        assert log.execute("SELECT count(*) FROM decisions").fetchone() == (1,)  # evaluate's, none of the search's


def test_a_bad_flow_is_refused(shipped_engine, compliant_flow):
    with pytest.raises(FlowValidationError):
        find_remedies(shipped_engine, dict(compliant_flow, policy_issuance="whenever"))


def test_the_solver_stops_at_its_time_limit(shipped_engine, compliant_flow):
    flow = copy.deepcopy(compliant_flow)
    flow["applicant"]["real_name_verified"] = False
    found = find_remedies(shipped_engine, flow, timeout_ms=1)
    assert found.remedies == [] and "did not finish within 1 ms" in found.unknown


def test_a_remedy_the_engine_does_not_confirm_is_dropped(shipped_engine, compliant_flow, monkeypatch):
    """z3 is told any flow reaches allow: it proposes changing nothing, which the engine still denies."""
    monkeypatch.setattr(remedy_module.Encoder, "reaches", lambda self, rules, fired, outcome: True)
    flow = copy.deepcopy(compliant_flow)
    flow["applicant"]["real_name_verified"] = False
    assert find_remedies(shipped_engine, flow).remedies == []


def test_an_operation_the_outcome_does_not_need_is_dropped(shipped_engine, compliant_flow):
    flow = copy.deepcopy(compliant_flow)
    flow["applicant"]["real_name_verified"] = False
    decision = shipped_engine.evaluate(flow)
    rules = shipped_engine.jurisdiction("CN").segment_on(dt.date(2026, 11, 24)).rules
    search = remedy_module._Search(shipped_engine, flow, decision, rules, shipped_engine.tree.changes("CN"), None, 2000)
    needed = ({"op": "replace", "path": "/applicant/real_name_verified", "value": True}, 3)
    idle = ({"op": "replace", "path": "/policy_issuance", "value": "after_premium_received"}, 1)
    remedy = search.verify(remedy_module._Candidate([idle, needed]), "allow")
    assert remedy.patch == [needed[0]] and remedy.cost == 3


def test_threads_sharing_an_engine_find_the_same_remedies(shipped_engine):
    """Each search has its own z3 context: searches in parallel threads neither crash nor mix."""
    from concurrent.futures import ThreadPoolExecutor

    flows = [case.flow for case, _ in denied_or_referred(shipped_engine)[:12]]
    alone = [find_remedies(shipped_engine, flow).to_json() for flow in flows]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda flow: find_remedies(shipped_engine, flow).to_json(), flows))
    assert together == alone
