"""The two matchers: choosing one, deciding alike, durable_rules' limits under both, reloading rules."""
import json

import pytest

from engine import Engine, EngineError
from engine.batch.scenarios import run_scenarios
from engine.errors import MatcherError
from engine.matching import available_matchers
from rules import RuleSetError
from rules.scenarios import load_scenarios
from tests.conftest import EXAMPLES, PACKS, example, rule_yaml

MATCHERS = available_matchers()
durable_only = pytest.mark.skipif("durable" not in MATCHERS, reason="durable_rules does not import here")


def _seen(decision) -> tuple:
    return (decision.outcome, [finding.model_dump() for finding in decision.findings],
            [obligation.model_dump() for obligation in decision.obligations])


@pytest.fixture(scope="module")
def engines():
    made = {name: Engine(rules_dir=PACKS, matcher=name, max_request_age=None) for name in MATCHERS}
    yield made
    for engine in made.values():
        engine.close()


def test_every_contract_example_is_decided_alike_and_as_expected(engines):
    expected = json.loads((EXAMPLES / "expected.json").read_text(encoding="utf-8"))
    for name, want in expected.items():
        seen = {matcher: _seen(engine.evaluate(example(name))) for matcher, engine in engines.items()}
        assert len(set(map(repr, seen.values()))) == 1, (name, seen)
        outcome, findings, _ = next(iter(seen.values()))
        assert (outcome, sorted(finding["rule_id"] for finding in findings)) == (want["outcome"], want["rule_ids"])


def test_every_shipped_scenario_passes_and_is_decided_alike(engines):
    suite = load_scenarios(next(iter(engines.values())).tree)
    assert len(suite.cases) > 100 and not suite.errors
    for case in suite.cases:
        seen = {matcher: _seen(engine.evaluate(case.flow, as_of=case.as_of)) for matcher, engine in engines.items()}
        assert len(set(map(repr, seen.values()))) == 1, (case.id, seen)
    for engine in engines.values():
        assert run_scenarios(engine).ok


def test_the_matcher_is_chosen_by_argument_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("LICIT_MATCHER", raising=False)
    assert Engine(rules_dir=PACKS).matcher == MATCHERS[0]
    monkeypatch.setenv("LICIT_MATCHER", "python")
    assert Engine(rules_dir=PACKS).matcher == "python"
    assert Engine(rules_dir=PACKS, matcher=MATCHERS[0]).matcher == MATCHERS[0]
    monkeypatch.setenv("LICIT_MATCHER", "rete")
    with pytest.raises(MatcherError, match="LICIT_MATCHER 'rete' is not a matcher; choose one of: durable, python"):
        Engine(rules_dir=PACKS)


def test_asking_for_durable_rules_where_it_cannot_import_is_one_clear_error(monkeypatch, run):
    from engine import matching

    monkeypatch.setattr(matching, "_durable_problem", lambda: "undefined symbol: PyEval_CallObject")
    monkeypatch.delenv("LICIT_MATCHER", raising=False)
    assert Engine(rules_dir=PACKS).matcher == "python"  # the default is what runs here
    with pytest.raises(MatcherError) as caught:
        Engine(rules_dir=PACKS, matcher="durable")
    assert str(caught.value) == ("the durable matcher needs durable_rules, which cannot be imported here (undefined "
                                 "symbol: PyEval_CallObject); use the built-in matcher: matcher='python', "
                                 "LICIT_MATCHER=python or --matcher python")
    result = run("evaluate", "--no-audit", "--matcher", "durable", EXAMPLES / "student-on-credit.json")
    assert result.exit_code == 2 and "cannot be imported here" in result.output
    assert "Traceback" not in result.output and "outcome" not in result.output
    version = run("--version")
    assert version.exit_code == 0
    assert "matchers: python (default: python)" in version.output
    assert "durable unavailable: durable_rules does not import here (undefined symbol" in version.output


def test_version_lists_the_matchers_and_the_default(run, monkeypatch):
    monkeypatch.delenv("LICIT_MATCHER", raising=False)
    result = run("--version")
    assert result.exit_code == 0
    assert f"matchers: {', '.join(MATCHERS)} (default: {MATCHERS[0]})" in result.output


@pytest.mark.parametrize("matcher", MATCHERS)
def test_the_commands_that_decide_take_a_matcher(run, matcher):
    result = run("evaluate", "--no-audit", "--matcher", matcher, EXAMPLES / "student-on-credit.json")
    assert result.exit_code == 0 and json.loads(result.output)["outcome"] == "deny"
    assert run("rules", "test", PACKS, "--matcher", matcher).exit_code == 0


def _wide_tree(write_tree, rules: int, branches: int):
    """Rules whose ``or`` holds on every branch at once for the compliant flow."""
    tests = ['vehicle.new_energy == false', 'applicant.real_name_verified', 'channel.kind == "partner_platform"',
             'applicant.age > 17', 'policy_issuance == "after_premium_received"']
    when = " or ".join(tests[:branches])
    return write_tree({"CN/wide.yaml": "rules:\n" + "".join(rule_yaml(f"CN.WIDE.R{index:03d}", json.dumps(when))
                                                        for index in range(rules))})


@pytest.mark.parametrize("matcher", MATCHERS)
def test_many_rules_whose_ors_all_hold_at_once_are_decided(write_tree, compliant_flow, matcher):
    """A ruleset of 64 rules failed (error 303, then a corrupt heap) when more than 64 of its alpha
    nodes matched at once: 33 rules of two true branches were enough. Rules are packed by width."""
    root = _wide_tree(write_tree, rules=80, branches=2)
    decision = Engine(rules_dir=root, matcher=matcher, max_request_age=None).evaluate(dict(compliant_flow, jurisdiction="CN"))
    assert decision.outcome == "deny" and len(decision.findings) == 80


@pytest.mark.parametrize("matcher", MATCHERS)
def test_a_condition_beyond_durable_rules_limits_is_refused_under_both_matchers(write_tree, matcher):
    """15 two-way ors in one rule exceed durable_rules' and/or groups (error 113): the pack is refused with
    the rule's location whichever matcher runs, so one pack loads under both (rules/capacity.py)."""
    when = " and ".join(f"(applicant.age == {age} or vehicle.new_energy)" for age in range(15))
    root = write_tree({"CN/deep.yaml": "rules:\n" + rule_yaml("CN.DEEP", json.dumps(when))})
    with pytest.raises(RuleSetError) as caught:
        Engine(rules_dir=root, matcher=matcher)
    [error] = caught.value.errors
    assert (error.file.endswith("deep.yaml"), error.line, error.code) == (True, 2, "condition_too_large")
    assert "and/or groups" in error.message
    fits = " and ".join(f"(applicant.age == {age} or vehicle.new_energy)" for age in range(13))
    root = write_tree({"CN/deep.yaml": "rules:\n" + rule_yaml("CN.DEEP", json.dumps(fits))})
    engine = Engine(rules_dir=root, matcher=matcher, max_request_age=None)
    assert engine.evaluate(dict(example("student-on-credit"), jurisdiction="CN"))


@pytest.mark.parametrize("matcher", MATCHERS)
def test_reload_decides_with_the_new_rules_and_keeps_the_old_when_the_new_do_not_load(write_tree, matcher):
    flow = dict(example("student-on-credit"), jurisdiction="CN")
    root = write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.A.STUDENT", "applicant.is_student")})
    engine = Engine(rules_dir=root, matcher=matcher, max_request_age=None)
    assert [finding.rule_id for finding in engine.evaluate(flow).findings] == ["CN.A.STUDENT"]
    (root / "CN" / "a.yaml").write_text("rules:\n" + rule_yaml("CN.A.ADULT", "applicant.age >= 18"), encoding="utf-8")
    engine.reload()
    assert [finding.rule_id for finding in engine.evaluate(flow).findings] == ["CN.A.ADULT"]
    digest = engine.evaluate(flow).ruleset.digest
    (root / "CN" / "a.yaml").write_text("rules:\n  - id: broken\n", encoding="utf-8")
    with pytest.raises(RuleSetError):
        engine.reload()
    decision = engine.evaluate(flow)
    assert [finding.rule_id for finding in decision.findings] == ["CN.A.ADULT"] and decision.ruleset.digest == digest


@durable_only
def test_reloading_frees_the_durable_rules_rulesets_no_engine_uses(write_tree):
    import gc

    from engine.durable import live_rulesets

    flow = dict(example("student-on-credit"), jurisdiction="CN")
    root = write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.A.AGE", "applicant.age > 0")})
    engine = Engine(rules_dir=root, matcher="durable", max_request_age=None)
    engine.evaluate(flow)  # the rulesets for this shape of flow are compiled on first use
    gc.collect()
    before = live_rulesets()
    for limit in range(1, 60):
        (root / "CN" / "a.yaml").write_text("rules:\n" + rule_yaml("CN.A.AGE", f"applicant.age > {limit}"),
                                            encoding="utf-8")
        engine.reload()
        assert engine.evaluate(flow).outcome == ("deny" if limit < 20 else "allow")
    gc.collect()
    assert live_rulesets() == before


def test_an_engine_error_from_the_matcher_is_never_a_decision(monkeypatch):
    engine = Engine(rules_dir=PACKS, matcher="python", max_request_age=None)

    def fail(facts, segment, day):
        raise EngineError("simulated failure")
    monkeypatch.setattr(engine._rules.matchers["CN-GD-SZ"], "fired", fail)
    with pytest.raises(EngineError, match="simulated failure"):
        engine.evaluate(example("baitiao-split-compliant"))
