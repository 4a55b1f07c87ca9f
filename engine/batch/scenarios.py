"""Runs the scenario tests of a rule tree with the engine, and measures which rules they exercise.

A rule is *evaluated* by a case when it is in the effective rule set of the case's
jurisdiction on the case's day; it is *covered* when at least one case makes it fire.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from engine.core import Engine
from engine.decision import Decision
from engine.errors import FlowValidationError, LicitError
from rules.errors import RuleError
from rules.scenariofile import Expectation
from rules.scenarios import ScenarioCase, load_scenarios
from rules.wording import counted

__all__ = ["COVERAGE_HEADER", "CaseResult", "RuleCoverage", "ScenarioRun", "coverage_rows", "coverage_summary",
           "expectation_failures", "run_case", "run_scenarios", "run_text"]


@dataclass
class CaseResult:
    case: ScenarioCase
    fired: list[str] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)
    failure: str | None = None  # what differed from the expectation
    errors: list[RuleError] = field(default_factory=list)  # why the case could not be decided

    @property
    def passed(self) -> bool:
        return self.failure is None and not self.errors

    def problems(self) -> list[RuleError]:
        """One located line per problem: the errors, or the difference from the expectation."""
        if self.failure is None:
            return self.errors
        return [self.case.error("case_failed", self.failure)]


@dataclass(frozen=True)
class RuleCoverage:
    rule_id: str
    jurisdiction: str  # where the rule is defined
    fired: int  # cases in which it fired
    not_fired: int  # cases in which it was evaluated and did not fire


@dataclass
class ScenarioRun:
    results: list[CaseResult]
    file_errors: list[RuleError]
    jurisdictions: list[str]  # whose rules the coverage counts
    coverage: list[RuleCoverage]
    unloaded: list[str] = field(default_factory=list)  # selected cases a file error left out
    pattern: str | None = None

    @property
    def failed(self) -> list[CaseResult]:
        """The cases that did not pass: a decision unlike the expectation, or no decision at all."""
        return [result for result in self.results if not result.passed]

    @property
    def could_not_run(self) -> int:
        return len(self.unloaded) + sum(1 for result in self.results if result.errors)

    @property
    def total(self) -> int:
        return len(self.results) + len(self.unloaded)

    @property
    def ok(self) -> bool:
        # a run that selects no case tests nothing: it must not read as a pass
        return self.total > 0 and not self.failed and not self.file_errors and not self.unloaded

    @property
    def coverage_percent(self) -> float:
        if not self.coverage:
            return 100.0
        return 100.0 * sum(1 for rule in self.coverage if rule.fired) / len(self.coverage)


def expectation_failures(expect: Expectation, decision: Decision) -> str | None:
    """What the decision got wrong, in one line, or None if it meets the expectation."""
    fired = [finding.rule_id for finding in decision.findings]
    actions = {obligation.action for obligation in decision.obligations}
    differences = []
    if decision.outcome != expect.outcome:
        differences.append(f"expected outcome {expect.outcome}, got {decision.outcome}")
    missing = [rule_id for rule_id in expect.fires if rule_id not in fired]
    if missing:
        differences.append(f"expected to fire: {', '.join(missing)}")
    unwanted = [rule_id for rule_id in expect.not_fires if rule_id in fired]
    if unwanted:
        differences.append(f"must not fire but fired: {', '.join(unwanted)}")
    absent = [action for action in expect.obligations if action not in actions]
    if absent:
        differences.append(f"expected obligations: {', '.join(absent)}")
    if not differences:
        return None
    return "; ".join(differences) + f" (fired: {', '.join(fired) or 'none'})"


def run_case(engine: Engine, case: ScenarioCase) -> CaseResult:
    """Decide the case's flow and compare the decision with the expectation."""
    if engine.sink is not None:
        raise ValueError("scenario flows are not enrollments: run them on an engine without a decision log")
    result = CaseResult(case)
    try:
        decision = engine.evaluate(case.flow, as_of=case.as_of)
    except FlowValidationError as error:
        result.errors = [case.error("invalid_flow", f"{detail.path}: {detail.message}", detail.path)
                         for detail in error.errors]
        return result
    except LicitError as error:
        result.errors = [case.error("engine_error", str(error))]
        return result
    result.fired = [finding.rule_id for finding in decision.findings]
    if case.day is not None:
        segment = engine.tree.compiled[decision.jurisdiction].segment_on(case.day)
        result.evaluated = [effective.rule.id for effective in segment.rules]
    result.failure = expectation_failures(case.expect, decision)
    return result


def run_scenarios(engine: Engine, *, jurisdiction: str | None = None, pattern: str | None = None) -> ScenarioRun:
    """Run the scenario files of every jurisdiction (or of one), keeping the cases whose id holds ``pattern``."""
    suite = load_scenarios(engine.tree, None if jurisdiction is None else [jurisdiction])

    def selected(case_id: str) -> bool:
        return pattern is None or pattern.lower() in case_id.lower()

    results = [run_case(engine, case) for case in suite.cases if selected(case.id)]
    scope = [jurisdiction] if jurisdiction is not None else sorted(engine.tree.jurisdictions)
    unloaded = [case_id for case_id in suite.unloaded if selected(case_id)]
    return ScenarioRun(results, suite.errors, scope, _coverage(engine, scope, results), unloaded, pattern)


def _coverage(engine: Engine, scope: list[str], results: list[CaseResult]) -> list[RuleCoverage]:
    coverage = []
    for code in scope:
        for rule in engine.tree.jurisdictions[code].rules:
            fired = sum(1 for result in results if rule.id in result.fired)
            not_fired = sum(1 for result in results if rule.id in result.evaluated and rule.id not in result.fired)
            coverage.append(RuleCoverage(rule.id, code, fired, not_fired))
    return coverage


def run_text(run: ScenarioRun) -> str:
    """Problems first (one located line each, by file, line and column), then the summary."""
    problems = run.file_errors + [problem for result in run.failed for problem in result.problems()]
    lines = [str(problem) for problem in sorted(problems)]
    passed = len(run.results) - len(run.failed)
    mismatched = sum(1 for result in run.results if result.failure is not None)
    summary = f"{counted(run.total, 'case')}: {passed} passed, {mismatched} failed"
    if run.could_not_run:
        summary += f", {run.could_not_run} could not run"
    if not run.total:
        summary = (f"no case ran: -k {run.pattern!r} matches no case id (FOLDER/tests/FILE::name)" if run.pattern
                   else "no case ran: no scenario case in " + ", ".join(f"{code}/tests/" for code in run.jurisdictions))
    if run.file_errors:
        summary += f"; {counted(len(run.file_errors), 'error')} in scenario files"
    lines.append(summary)
    return "\n".join(lines)


COVERAGE_HEADER = ("jurisdiction", "rule", "fired", "not fired", "note")


def coverage_rows(run: ScenarioRun) -> list[tuple]:
    """A row per rule of each jurisdiction in scope: the cases where it fired and where it was evaluated and
    did not fire, marked when it never fired; a jurisdiction with no rules of its own says so."""
    rows = []
    for code in run.jurisdictions:
        own = [rule for rule in run.coverage if rule.jurisdiction == code]
        rows += [(code, rule.rule_id, rule.fired, rule.not_fired, "" if rule.fired else "← never fired")
                 for rule in own] or [(code, "(no rules of its own)", None, None, "")]
    return rows


def coverage_summary(run: ScenarioRun) -> str:
    covered = sum(1 for rule in run.coverage if rule.fired)
    return (f"coverage: {covered} of {counted(len(run.coverage), 'rule')} fired in at least one case "
            f"({run.coverage_percent:.1f} %)")
