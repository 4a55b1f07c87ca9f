"""A scenario run as CI systems read it: JUnit XML (one test case per scenario case, one suite per file)
and JSON. Located problems keep the form ``file:line:col: code: message``."""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from collections import defaultdict

from engine.batch.scenarios import CaseResult, ScenarioRun
from rules.errors import RuleError

__all__ = ["run_json", "run_junit"]


def run_json(run: ScenarioRun) -> dict:
    """Every case with its status (passed, failed, error: it could not be decided), what fired and its
    problems; the mistakes in scenario files; the cases they left out; the summary and the coverage."""
    return {
        "ok": run.ok,
        "summary": _summary(run),
        "cases": [{"id": result.case.id, "jurisdiction": result.case.jurisdiction, "status": _status(result),
                   "fired": result.fired, "problems": [_error(problem) for problem in result.problems()]}
                  for result in run.results],
        "not_run": run.unloaded,
        "file_errors": [_error(error) for error in run.file_errors],
        "coverage": [dataclasses.asdict(rule) for rule in run.coverage],
        "coverage_percent": round(run.coverage_percent, 1),
    }


def run_junit(run: ScenarioRun) -> str:
    """JUnit XML: a <testsuite> per scenario file, a <testcase> per case (<failure> when the decision differs
    from the expectation, <error> when the case could not be decided or its file has a mistake)."""
    by_file: dict[str, list[ET.Element]] = defaultdict(list)
    for result in run.results:
        case = ET.Element("testcase", name=result.case.name, classname=_classname(result.case.id),
                          file=result.case.source.name, line=str(result.case.source.position(result.case.path)[0]))
        if result.failure is not None:
            problem = result.problems()[0]
            ET.SubElement(case, "failure", message=result.failure, type=problem.code).text = str(problem)
        elif result.errors:
            ET.SubElement(case, "error", message=result.errors[0].message, type=result.errors[0].code).text = \
                "\n".join(str(error) for error in result.errors)
        by_file[result.case.id.split("::")[0]].append(case)
    for case_id in run.unloaded:
        case = ET.Element("testcase", name=case_id.split("::", 1)[1], classname=_classname(case_id))
        ET.SubElement(case, "error", message="not run: its scenario file has a mistake", type="not_run")
        by_file[case_id.split("::")[0]].append(case)
    for error in run.file_errors:
        case = ET.Element("testcase", name=f"{error.file}:{error.line}:{error.col}", classname="scenario-files",
                          file=error.file, line=str(error.line))
        ET.SubElement(case, "error", message=error.message, type=error.code).text = str(error)
        by_file["scenario files"].append(case)
    root = ET.Element("testsuites", name="licit rules test", **_counts(case for cases in by_file.values()
                                                                       for case in cases))
    for name, cases in sorted(by_file.items()):
        suite = ET.SubElement(root, "testsuite", name=name, **_counts(cases))
        suite.extend(cases)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def _counts(cases) -> dict[str, str]:
    cases = list(cases)
    return {"tests": str(len(cases)),
            "failures": str(sum(1 for case in cases if case.find("failure") is not None)),
            "errors": str(sum(1 for case in cases if case.find("error") is not None)),
            "skipped": "0"}


def _classname(case_id: str) -> str:
    """`CN-SH/tests/apr.yaml::name` -> `CN-SH.tests.apr`: the dotted name CI systems group cases by."""
    return case_id.split("::")[0].removesuffix(".yaml").replace("/", ".")


def _status(result: CaseResult) -> str:
    return "passed" if result.passed else "failed" if result.failure is not None else "error"


def _summary(run: ScenarioRun) -> dict:
    return {"cases": run.total, "passed": len(run.results) - len(run.failed),
            "failed": sum(1 for result in run.results if result.failure is not None),
            "could_not_run": run.could_not_run, "file_errors": len(run.file_errors)}


def _error(error: RuleError) -> dict:
    return {**dataclasses.asdict(error), "text": str(error)}
