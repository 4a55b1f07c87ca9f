"""`licit rules lint`: every finding located, load errors reported even when the tree does not load."""
from __future__ import annotations

import shutil

import pytest
from click.testing import CliRunner

from engine.facts import flow_vocabulary
from rules.lint import LINT_CODES, lint_rules
from tests.authoring.conftest import PACKS, rule, write

LOADS = {
    "CN/a.yaml": "parameters:\n"
                 "  unused: {type: number, values: [{from: 2020-01-01, value: 1}]}\n"
                 "  instruments: {type: \"list[string]\", values: [{from: 2020-01-01, value: [wallet, credit]}]}\n"
                 "  cap: {type: number, values: [{from: 2020-01-01, value: 0.2}]}\n"
                 "rules:\n"
                 + rule("CN.A.BOUNDS", "applicant.age < 18 and applicant.age > 65")            # line 6
                 + rule("CN.A.EQUALS", 'vehicle.usage == "private" and vehicle.usage == "commercial"')  # 14
                 + rule("CN.A.PARAM_ENUM", "some p in payments satisfies p.instrument in params.instruments")  # 22
                 + rule("CN.A.ITEM", "some p in payments satisfies p.apr > 0.5 and p.apr < params.cap")  # 30
                 + rule("CN.A.DUP_ONE", "applicant.is_student and applicant.age < 30")  # 38
                 + rule("CN.A.DUP_TWO", "applicant.age < 30 and applicant.is_student")  # 46
                 + rule("CN.A.OLD", "applicant.age > 99", start="2019-01-01", until="2019-12-31")  # 54
                 + rule("CN.A.SKETCH", "applicant.age > 100", status="illustrative"),  # 63
    "CN-ZJ-HZ/a.yaml": "rules:\n" + rule("CN-ZJ-HZ.A.ONE", "applicant.age > 110"),
    "CN-XX/tests/t.yaml": "cases: []\n",
    "CN/tests/t.yaml": "base: compliant\ncases:\n  - {name: today, expect: {outcome: allow}}\n",
}


@pytest.fixture
def loading_tree(tmp_path):
    root = write(tmp_path / "tree", LOADS)
    shutil.copy(PACKS / "CN" / "tests" / "flows.yaml", root / "CN" / "tests" / "flows.yaml")
    return root


def findings(report) -> list[str]:
    return [str(finding) for finding in report.errors + report.warnings]


def has(lines: list[str], place: str, code: str, words: str) -> bool:
    return any(f"{place}: {code}: " in line and words in line for line in lines)


def test_warnings_on_a_tree_that_loads(loading_tree):
    report = lint_rules(loading_tree, flow_vocabulary())
    lines = findings(report)
    assert report.errors == [] and report.tree_loaded
    assert has(lines, "CN/a.yaml:6:5", "never_true", "applicant.age cannot be > 65 and < 18")
    assert has(lines, "CN/a.yaml:14:5", "never_true", "vehicle.usage cannot equal 'commercial' and 'private' at once")
    assert has(lines, "CN/a.yaml:30:5", "never_true",
               "no item of payments can match: payments[].apr cannot be > 0.5 and < 0.2")
    assert has(lines, "CN/a.yaml:22:5", "impossible_value",
               "CN.A.PARAM_ENUM compares payments[].instrument with 'credit', a value it never takes")
    assert has(lines, "CN/a.yaml:46:5", "duplicate_condition", "CN.A.DUP_TWO has the same condition and effect as "
                                                               "CN.A.DUP_ONE")
    assert has(lines, "CN/a.yaml:54:5", "expired_rule", "CN.A.OLD was last in force on 2019-12-31, before every "
                                                        "scenario date (the earliest is 2026-11-24)")
    assert has(lines, "CN/a.yaml:68:15", "illustrative_citation", "CN.A.SKETCH: illustrative citation (test source)")
    assert has(lines, "CN/a.yaml:2:3", "unused_parameter", "parameter unused set in CN is read by no rule")
    assert has(lines, "CN-ZJ-HZ:1:1", "no_parent_jurisdiction", "CN-ZJ-HZ has no parent folder CN-ZJ; it inherits "
                                                                "from CN")
    assert has(lines, "CN-XX:1:1", "no_rule_files", "CN-XX has scenario tests but no rule file")
    flagged = {line.split(": ")[1] for line in lines}
    assert flagged == {"never_true", "impossible_value", "duplicate_condition", "expired_rule",
                       "illustrative_citation", "unused_parameter", "no_parent_jurisdiction", "no_rule_files"}
    assert not any("CN.A.SKETCH" in line and "never_true" in line for line in lines)


BROKEN = {
    "CN/a.yaml": "parameters:\n"
                 "  unused: {type: number, values: [{from: 2020-01-01, value: 1}]}\n"
                 "rules:\n"
                 "  - id: CN.B.NO_CITATION\n"  # line 4
                 "    title: t\n    effect: deny\n    when: applicant.is_student\n    effective_from: 2020-01-01\n"
                 "    message: {zh: 测试, en: test}\n    remedy: r\n"
                 "  - id: CN.B.NO_ENGLISH\n"  # line 11
                 "    title: t\n    effect: deny\n    when: applicant.is_student\n    effective_from: 2020-01-01\n"
                 "    citation: {source: s, status: verified}\n    message: {zh: 测试}\n    remedy: r\n"
                 + rule("CN.B.ENUM", 'vehicle.usage == "taxi"')  # 19
                 + rule("CN.B.ENUM", "applicant.age > 99", status="illustrative")  # 27
                 + "  - id: CN.B.OVERLAP\n    title: t\n    effect: deny\n    message: {zh: a, en: b}\n"  # 35
                   "    remedy: r\n    versions:\n"
                   "      - {effective_from: 2020-01-01, effective_until: 2021-06-30, when: applicant.is_student,"
                   " citation: {source: s, status: verified}}\n"
                   "      - {effective_from: 2021-01-01, when: applicant.is_student,"
                   " citation: {source: s, status: verified}}\n",  # line 42
    "CN-BJ/a.yaml": "exceptions:\n  - {rule: CN.B.ENUM, when: applicant.is_student}\n"
                    "disabled:\n  - {rule: CN.B.NOTHING, reason: gone}\n",
    "CN-SH/a.yaml": "rules:\n" + rule("CN-SH.B.CAP", "applicant.age > 1", extra=("replaces: {rule: CN.B.ENUM}",)),
}


def test_a_tree_that_does_not_load_still_gets_every_finding(tmp_path):
    report = lint_rules(write(tmp_path / "tree", BROKEN), flow_vocabulary())
    errors, warnings = [str(error) for error in report.errors], [str(warning) for warning in report.warnings]
    assert not report.tree_loaded
    assert has(errors, "CN/a.yaml:4:5", "missing_citation", "CN.B.NO_CITATION has no citation")
    assert has(errors, "CN/a.yaml:17:14", "missing_message_language", "CN.B.NO_ENGLISH has no en message")
    assert has(errors, "CN/a.yaml:27:9", "duplicate_rule_id", "rule id CN.B.ENUM is already defined at")
    assert has(errors, "CN/a.yaml:42:9", "overlapping_versions", "CN.B.OVERLAP")
    assert has(errors, "CN/a.yaml:22:28", "invalid_enum_value", "'taxi' is not a value of VehicleUsage")
    assert has(errors, "CN-BJ/a.yaml:2:5", "missing_reason", "the exception of CN.B.ENUM without a reason")
    assert has(errors, "CN-BJ/a.yaml:4:12", "unknown_rule", "disable names CN.B.NOTHING")
    assert has(errors, "CN-SH/a.yaml:10:15", "missing_reason", "CN-SH.B.CAP replaces a rule without a reason")
    # the loader's generic error at the same place is not repeated
    assert not any("missing_key" in line or "schema_error" in line for line in errors), errors
    assert has(warnings, "CN/a.yaml:32:15", "illustrative_citation", "CN.B.ENUM")
    assert has(warnings, "CN/a.yaml:2:3", "unused_parameter", "unused")


def test_every_code_is_documented():
    assert set(LINT_CODES) == {"missing_citation", "missing_message_language", "missing_reason",
                               "illustrative_citation", "no_parent_jurisdiction", "no_rule_files", "unused_parameter",
                               "never_true", "impossible_value", "duplicate_condition", "expired_rule",
                               "redundant_override", "ignored_file"}


def test_yaml_files_that_nothing_reads_are_a_warning(loading_tree):
    write(loading_tree, {"CN/test/cap.yaml": "cases: []\n", "CN/tests/old/x.yml": "cases: []\n",
                         "CN/.vscode/settings.yaml": "{}\n", "CN/notes.txt": "not yaml\n"})
    report = lint_rules(loading_tree, flow_vocabulary())
    ignored = [str(warning) for warning in report.warnings if warning.code == "ignored_file"]
    assert ignored == [
        f"{loading_tree}/CN/test/cap.yaml:1:1: ignored_file: CN/test/cap.yaml is never read: rule files sit directly "
        f"in CN/, scenario tests in CN/tests/",
        f"{loading_tree}/CN/tests/old/x.yml:1:1: ignored_file: CN/tests/old/x.yml is never read: rule files sit "
        f"directly in CN/, scenario tests in CN/tests/"]


def test_the_shipped_packs_have_only_illustrative_citations_to_replace():
    report = lint_rules(PACKS, flow_vocabulary())
    assert report.errors == []
    assert {warning.code for warning in report.warnings} == {"illustrative_citation"}
    flagged = {warning.message.split(":")[0] for warning in report.warnings}
    assert {"CN.CREDIT.STUDENT", "CN.APPLICANT.REAL_NAME", "CN-SH.CREDIT.APR_CAP"} <= flagged


def test_strict_turns_warnings_into_a_failing_exit(authoring_cli, loading_tree, tmp_path):
    runner = CliRunner()
    relaxed = runner.invoke(authoring_cli, ["lint", str(loading_tree)])
    assert relaxed.exit_code == 0 and relaxed.output.splitlines()[-1].startswith("0 errors, ")
    assert runner.invoke(authoring_cli, ["lint", "--strict", str(loading_tree)]).exit_code == 1
    broken = runner.invoke(authoring_cli, ["lint", str(write(tmp_path / "broken", BROKEN))])
    assert broken.exit_code == 1
    assert "(the rule tree does not load: checks of effective rule sets were skipped)" in broken.output
