"""Every scenario of the shipped packs passes, so a broken rule fails CI; and the scenarios cover every rule."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.batch.scenarios import run_case, run_scenarios
from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from rules.scenarios import load_scenarios
from rules.typed import params_used
from tests.authoring.conftest import PACKS


def _shipped_cases():
    try:
        suite = load_scenarios(load_rules(PACKS, flow_vocabulary()))
    except RuleSetError:
        return []  # test_shipped_rules_and_scenario_files_load reports why
    return [pytest.param(case, id=case.id) for case in suite.cases]


def test_shipped_rules_and_scenario_files_load():
    suite = load_scenarios(load_rules(PACKS, flow_vocabulary()))
    assert [str(error) for error in suite.errors] == []
    assert len(suite.cases) >= 100


@pytest.mark.parametrize("case", _shipped_cases())
def test_shipped_scenario(shipped_engine, case):
    result = run_case(shipped_engine, case)
    assert result.passed, "\n".join(str(problem) for problem in result.problems())


def test_every_shipped_rule_fires_in_some_case(shipped_engine):
    run = run_scenarios(shipped_engine)
    never_fired = [rule.rule_id for rule in run.coverage if not rule.fired]
    assert never_fired == []
    assert run.coverage_percent == 100.0


def test_every_shipped_rule_has_a_case_that_fires_it_and_a_near_miss():
    tree = load_rules(PACKS, flow_vocabulary())
    cases = load_scenarios(tree).cases
    for jurisdiction in tree.jurisdictions.values():
        for rule in jurisdiction.rules:
            assert any(rule.id in case.expect.fires for case in cases), f"no case expects {rule.id} to fire"
            assert any(rule.id in case.expect.not_fires for case in cases), f"no near miss for {rule.id}"


def _tested_on_both_sides(days: set, boundary) -> bool:
    return {boundary - dt.timedelta(days=1), boundary} <= days


def test_every_dated_rule_and_parameter_is_tested_on_both_sides_of_each_date():
    tree = load_rules(PACKS, flow_vocabulary())
    cases = load_scenarios(tree).cases

    def days_testing(rule_ids: set[str]) -> set:
        return {case.day for case in cases if rule_ids & set(case.expect.fires + case.expect.not_fires)}

    rules = [rule for jurisdiction in tree.jurisdictions.values() for rule in jurisdiction.rules]
    for rule in rules:
        for boundary in (day for version in rule.versions for day in version.period.boundaries()):
            if not tree.compiled[rule.jurisdiction].segment_on(boundary - dt.timedelta(days=1)).rules:
                # Nothing is in force the day before: the engine refuses to decide (tests/test_engine.py).
                assert boundary in days_testing({rule.id}), f"{rule.id} from {boundary}"
                continue
            assert _tested_on_both_sides(days_testing({rule.id}), boundary), f"{rule.id} around {boundary}"
    for jurisdiction in tree.jurisdictions.values():
        for name, values in jurisdiction.parameter_values.items():
            readers = {rule.id for rule in rules for version in rule.versions
                       if name in {parameter.name for parameter in params_used(version.typed)}}
            readers |= {override.target for member in tree.jurisdictions.values() for override in member.overrides
                        if override.typed is not None and name in {p.name for p in params_used(override.typed)}}
            for value in values:
                assert _tested_on_both_sides(days_testing(readers), value.start), f"{name} around {value.start}"


def test_every_override_is_tested_in_its_jurisdiction_and_a_sibling():
    tree = load_rules(PACKS, flow_vocabulary())
    cases = load_scenarios(tree).cases
    for jurisdiction in tree.jurisdictions.values():
        overridden = [override.target for override in jurisdiction.overrides]
        overridden += list(jurisdiction.parameter_values) if tree.parent(jurisdiction.code) else []
        for target in overridden:
            places = {case.jurisdiction for case in cases if case.folder == jurisdiction.code}
            assert jurisdiction.code in places, f"{target} overridden in {jurisdiction.code} is not tested there"
            assert places - set(tree.chain(jurisdiction.code)), f"{target} is not tested outside {jurisdiction.code}"
