"""licit remedy, evaluate --remedies, rules analyze and schema changes as people use them; the change
declaration (documented, complete, overridable only where allowed)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest
from engine.flow import Flow
from engine.solver.changes import DEFAULT_CHANGES
from engine.solver.shape import fields_of
from rules import RuleSetError
from tests.conftest import EXAMPLES, PACKS, REPO
from tests.test_cli import run  # noqa: F401  (a fixture: licit as people run it)


def test_remedy_prints_the_cheapest_first(run):
    result = run("remedy", "--rules", PACKS, EXAMPLES / "baitiao-ctpl-premium-installments.json")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:3] == [
        "deny: 2 remedies, cheapest first", "1. cost 1 → allow; clears CN.CTPL.LUMP_SUM",
        "     replace /payments/0/premium_installments = 1"]


def test_remedy_as_json_from_stdin(run):
    flow = (EXAMPLES / "student-on-credit.json").read_text(encoding="utf-8")
    result = run("remedy", "--rules", PACKS, "--format", "json", "--max", "1", "-", stdin=flow)
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["outcome"] == "deny" and len(found["remedies"]) == 1
    assert found["remedies"][0]["clears"] == ["CN.CREDIT.STUDENT"]


def test_remedy_refuses_bad_input_with_exit_2(run, tmp_path):
    (tmp_path / "bad.json").write_text('{"flow_id": "F-1"}', encoding="utf-8")
    result = run("remedy", "--rules", PACKS, tmp_path / "bad.json")
    assert result.exit_code == 2 and "invalid flow" in result.output and "Traceback" not in result.output
    result = run("remedy", "--rules", PACKS, tmp_path / "missing.json")
    assert result.exit_code == 2 and "cannot read" in result.output


def test_evaluate_with_remedies_logs_the_decision_and_adds_the_remedies(run, tmp_path):
    result = run("evaluate", "--rules", PACKS, "--audit-db", tmp_path / "audit.db", "--remedies",
                 EXAMPLES / "student-on-credit.json")
    assert result.exit_code == 0, result.output
    decision = json.loads(result.output)
    assert decision["outcome"] == "deny" and decision["remedies"][0]["outcome"] == "allow"
    assert "remedies_unknown" not in decision
    listed = run("audit", "query", "--db", tmp_path / "audit.db", "--format", "json")
    assert len(json.loads(listed.output)) == 1  # the decision, not the remedies' checks


def test_analyze_reports_every_segment(run):
    result = run("rules", "analyze", PACKS, "-j", "CN-SH", "--format", "json")
    assert result.exit_code == 0, result.output
    segments = json.loads(result.output)
    assert segments and {segment["jurisdiction"] for segment in segments} == {"CN-SH"}
    assert all(segment["findings"] == [] for segment in segments)
    text = run("rules", "analyze", PACKS, "-j", "CN-SH")
    assert text.output.endswith(f"{len(segments)} segments of 1 jurisdictions analysed: 0 findings\n")


def test_analyze_equivalent_exits_1_unless_proven(run, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(PACKS, copy)
    same = run("rules", "analyze", "--equivalent", PACKS, copy, "-j", "CN-GD")
    assert same.exit_code == 0 and same.output.endswith("0 not proven equivalent\n"), same.output
    motor = copy / "CN" / "motor.yaml"
    motor.write_text(motor.read_text(encoding="utf-8").replace(
        "when: vehicle.usage != vehicle.declared_usage", 'when: vehicle.declared_usage == "private" and '
        'vehicle.usage != vehicle.declared_usage'), encoding="utf-8")
    changed = run("rules", "analyze", "--equivalent", PACKS, copy, "-j", "CN-GD", "--format", "json")
    assert changed.exit_code == 1
    refuted = [verdict for verdict in json.loads(changed.output) if verdict["equivalent"] is False]
    assert refuted and refuted[0]["counterexample"]["vehicle"]["declared_usage"] != "private"


def test_analyze_takes_a_directory_or_two_not_both(run):
    result = run("rules", "analyze", PACKS, "--equivalent", PACKS, PACKS)
    assert result.exit_code == 2 and "not both" in result.output
    result = run("rules", "analyze", PACKS, "-j", "CN-XX")
    assert result.exit_code == 2 and "no rule pack 'CN-XX'" in result.output


def test_schema_changes_prints_the_declaration_and_a_packs_costs(run, tmp_path):
    result = run("schema", "changes")
    assert json.loads(result.output)["payments.apr"] == {"cost": 2, "note": DEFAULT_CHANGES["payments.apr"].note}
    tree = tmp_path / "tree"
    shutil.copytree(PACKS, tree)
    pack = tree / "CN-SH" / "credit.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").replace(
        "  name: {zh: 上海市, en: Shanghai}\n", "  name: {zh: 上海市, en: Shanghai}\n  changes: {payments.apr: fixed}\n"),
        encoding="utf-8")
    shanghai = json.loads(run("schema", "changes", "-j", "CN-SH", "--rules", tree).output)
    assert shanghai["payments.apr"]["cost"] is None
    assert json.loads(run("schema", "changes", "-j", "CN", "--rules", tree).output)["payments.apr"]["cost"] == 2


def leaf_paths(model, prefix: str = "") -> set[str]:
    paths = set()
    for spec in fields_of(model):
        path = prefix + spec.key
        if spec.kind == "object":
            paths |= leaf_paths(spec.model, path + ".")
        elif spec.kind == "items":
            paths |= {path + ".add", path + ".remove"} | leaf_paths(spec.model, path + ".")
        else:
            paths.add(path)
    return paths


def test_the_declaration_covers_every_field_and_keeps_the_facts():
    assert set(DEFAULT_CHANGES) == leaf_paths(Flow)
    facts = {path for path, change in DEFAULT_CHANGES.items() if change.fact}
    assert {"applicant.age", "applicant.is_student", "applicant.name", "applicant.id_number", "applicant.phone",
            "jurisdiction", "requested_at", "vehicle.usage", "flow_id"} <= facts
    assert all(change.cost is None for change in DEFAULT_CHANGES.values() if change.fact)


def test_the_documented_table_is_the_declaration():
    text = (REPO / "docs" / "remedies.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([a-z_.]+)` \| (fact|fixed|\d+) \|", text, re.M))
    assert rows == {path: "fact" if change.fact else "fixed" if change.cost is None else str(change.cost)
                    for path, change in DEFAULT_CHANGES.items()}


@pytest.mark.parametrize("line, code", [("applicant.age: 3", "fact_not_changeable"),
                                         ("payments.aprr: 2", "unknown_change"),
                                         ("payments.apr: 0", "schema_error")])
def test_a_pack_cannot_make_a_fact_changeable(tmp_path, line, code):
    from engine.facts import flow_vocabulary
    from rules import load_rules

    tree = tmp_path / "tree"
    shutil.copytree(PACKS, tree)
    pack = tree / "CN-SH" / "credit.yaml"
    pack.write_text(pack.read_text(encoding="utf-8").replace(
        "  name: {zh: 上海市, en: Shanghai}\n", f"  name: {{zh: 上海市, en: Shanghai}}\n  changes:\n    {line}\n"),
        encoding="utf-8")
    with pytest.raises(RuleSetError) as raised:
        load_rules(tree, flow_vocabulary())
    assert [(error.code, error.line) for error in raised.value.errors] == [(code, 6)]  # the line of the entry


def test_deciding_does_not_load_the_solver():
    script = ("import sys, json; from engine import Engine; Engine('jurisdictions', max_request_age=None)"
              ".evaluate(json.load(open('examples/student-on-credit.json'))); "
              "print('z3' in sys.modules, 'engine.solver.remedy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]
