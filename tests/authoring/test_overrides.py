"""Overrides down a jurisdiction chain leave one effective rule: clashes are load errors, no-ops lint warnings."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from rules.lint import lint_rules
from tests.authoring.conftest import rule, write

NATIONAL = {"CN/a.yaml": "rules:\n" + rule("CN.A.ONE", "applicant.age < 18") + rule("CN.A.TWO", "applicant.is_student")}


def replacing(rule_id: str, target: str, **dates) -> str:
    return rule(rule_id, "applicant.age < 21", extra=(f"replaces: {{rule: {target}, reason: local rule}}",), **dates)


def load_errors(root) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        load_rules(root, flow_vocabulary())
    return [str(error) for error in caught.value.errors]


def redundant(root) -> list[str]:
    report = lint_rules(root, flow_vocabulary())
    assert report.errors == [] and report.tree_loaded, report.errors
    return [str(warning) for warning in report.warnings if warning.code == "redundant_override"]


def test_two_replacements_of_one_rule_in_force_together_are_an_error_at_the_second(tmp_path):
    root = write(tmp_path, {**NATIONAL, "CN-SH/a.yaml": "rules:\n" + replacing("CN-SH.A.CAP", "CN.A.ONE"),
                            "CN-SH/b.yaml": "rules:\n" + replacing("CN-SH.A.WARN", "CN.A.ONE", start="2024-01-01")})
    assert load_errors(root) == [
        f"{root}/CN-SH/b.yaml:2:5: conflicting_override: CN-SH.A.WARN replaces CN.A.ONE, which CN-SH.A.CAP already "
        f"replaces in CN-SH from 2024-01-01 ({root}/CN-SH/a.yaml:2:5): the effective rule would be ambiguous; keep "
        f"one, or date them so they do not overlap"]


def test_replacements_dated_apart_load(tmp_path):
    root = write(tmp_path, {**NATIONAL,
                            "CN-SH/a.yaml": "rules:\n" + replacing("CN-SH.A.CAP", "CN.A.ONE", until="2023-12-31")
                            + replacing("CN-SH.A.WARN", "CN.A.ONE", start="2024-01-01")})
    tree = load_rules(root, flow_vocabulary())
    rules_on = [effective.rule.id for effective in tree.compiled["CN-SH"].segment_on(dt.date(2024, 1, 1)).rules]
    assert rules_on == ["CN.A.TWO", "CN-SH.A.WARN"]


def test_an_exception_or_a_disable_of_a_replaced_rule_is_an_error(tmp_path):
    root = write(tmp_path, {**NATIONAL, "CN-SH/a.yaml": "rules:\n" + replacing("CN-SH.A.CAP", "CN.A.ONE")
                            + "exceptions:\n  - {rule: CN.A.ONE, when: applicant.age > 60, reason: seniors}\n"
                            + "disabled:\n  - {rule: CN.A.ONE, reason: not here}\n"})
    errors = load_errors(root)
    assert [error.split(": ")[0:2] for error in errors] == [[f"{root}/CN-SH/a.yaml:12:5", "conflicting_override"],
                                                            [f"{root}/CN-SH/a.yaml:14:5", "conflicting_override"]]
    assert "this adds an exception to CN.A.ONE, which CN-SH.A.CAP already replaces in CN-SH" in errors[0]
    assert "this disables CN.A.ONE, which CN-SH.A.CAP already replaces in CN-SH" in errors[1]


def test_a_child_overrides_the_replacing_rule_not_the_replaced_one(tmp_path):
    files = {**NATIONAL, "CN-GD/a.yaml": "rules:\n" + replacing("CN-GD.A.DENY", "CN.A.ONE"),
             "CN-GD-SZ/a.yaml": "rules:\n" + replacing("CN-GD-SZ.A.WARN", "CN.A.ONE", start="2024-01-01")}
    root = write(tmp_path / "wrong", files)
    assert load_errors(root) == [
        f"{root}/CN-GD-SZ/a.yaml:2:5: conflicting_override: CN-GD-SZ.A.WARN replaces CN.A.ONE, which CN-GD.A.DENY "
        f"already replaces in CN-GD from 2024-01-01 ({root}/CN-GD/a.yaml:2:5): replace CN-GD.A.DENY instead"]
    files["CN-GD-SZ/a.yaml"] = "rules:\n" + replacing("CN-GD-SZ.A.WARN", "CN-GD.A.DENY", start="2024-01-01")
    tree = load_rules(write(tmp_path / "right", files), flow_vocabulary())
    in_force = [effective.rule.id for effective in tree.compiled["CN-GD-SZ"].segment_on(dt.date(2024, 1, 1)).rules]
    assert in_force == ["CN.A.TWO", "CN-GD-SZ.A.WARN"]


def test_disabling_twice_or_the_same_exception_twice_is_a_lint_warning(tmp_path):
    root = write(tmp_path, {**NATIONAL, "CN-BJ/a.yaml": """\
        disabled:
          - {rule: CN.A.TWO, reason: first}
          - {rule: CN.A.TWO, reason: second, effective_from: 2025-01-01}
        exceptions:
          - {rule: CN.A.ONE, when: applicant.age > 60, reason: seniors}
          - {rule: CN.A.ONE, when: channel.kind == "agent", reason: agents}
        """, "CN-BJ/b.yaml": """\
        exceptions:
          - rule: CN.A.ONE
            when: >-
              applicant.age  >  60
            reason: seniors, again
        """})
    assert redundant(root) == [
        f"{root}/CN-BJ/a.yaml:3:5: redundant_override: this disables CN.A.TWO, which is already disabled in CN-BJ "
        f"from 2025-01-01 ({root}/CN-BJ/a.yaml:2:5): the rule is disabled, so this changes nothing",
        f"{root}/CN-BJ/b.yaml:2:5: redundant_override: this adds an exception to CN.A.ONE, which already has an "
        f"exception in CN-BJ ({root}/CN-BJ/a.yaml:5:5) with the same condition: it changes nothing"]


def test_a_child_may_disable_or_replace_what_its_parent_excepts(tmp_path):
    root = write(tmp_path, {**NATIONAL,
                            "CN-GD/a.yaml": "exceptions:\n  - {rule: CN.A.ONE, when: applicant.age > 60, reason: x}\n"
                                            "  - {rule: CN.A.TWO, when: applicant.age > 60, reason: x}\n",
                            "CN-GD-SZ/a.yaml": "disabled:\n  - {rule: CN.A.ONE, reason: not here}\nrules:\n"
                                               + replacing("CN-GD-SZ.A.TWO", "CN.A.TWO")})
    assert redundant(root) == []


def test_a_condition_that_cannot_run_is_one_error_where_it_is_written(tmp_path):
    late = "parameters:\n  pilots:\n    type: list[string]\n    values: [{from: 2022-01-01, value: [P-1]}]\n"
    root = write(tmp_path, {
        "CN/a.yaml": late + "rules:\n" + rule("CN.A.ONE", "applicant.age < 18")
        + rule("CN.A.TWO", "channel.pilot_id in params.pilots", start="2021-01-01")
        + rule("CN.A.THREE", "applicant.is_student", start="2021-06-01"),
        "CN-SH/a.yaml": "",
        "CN-BJ/a.yaml": "exceptions:\n  - {rule: CN.A.ONE, when: channel.pilot_id in params.pilots, reason: pilot}\n"})
    assert load_errors(root) == [
        f"{root}/CN-BJ/a.yaml:2:5: parameter_not_in_force: the exception to CN.A.ONE: on 2020-01-01 in CN-BJ, "
        f"params.pilots has no value in force",
        f"{root}/CN/a.yaml:14:5: parameter_not_in_force: CN.A.TWO: on 2021-01-01 in CN, params.pilots has no value in "
        f"force"]
