"""`licit rules test`: one line per failure saying what differed, a summary, coverage, and the exit code."""
from __future__ import annotations

import re

from click.testing import CliRunner

from tests.authoring.conftest import PACKS, rule, write

WRONG = """\
base: compliant
cases:
  - name: a student on credit is only reviewed
    set: {applicant.is_student: true}
    expect: {outcome: review, fires: [CN.CREDIT.APR_REVIEW], not_fires: [CN.CREDIT.STUDENT]}
"""


def run(cli, *args):
    return CliRunner().invoke(cli, ["test", *map(str, args)])


def test_the_shipped_scenarios_pass(authoring_cli):
    result = run(authoring_cli, PACKS)
    assert result.exit_code == 0, result.output
    assert " passed, 0 failed" in result.output.splitlines()[-1]


def test_a_failing_case_is_one_located_line_with_what_differed(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/tests/wrong.yaml": WRONG})
    result = run(authoring_cli, packs_copy)
    assert result.exit_code == 1
    failures = [line for line in result.output.splitlines() if ": case_failed: " in line]
    assert len(failures) == 1
    assert failures[0].endswith(
        "CN-SH/tests/wrong.yaml:3:11: case_failed: a student on credit is only reviewed: expected outcome review, "
        "got deny; expected to fire: CN.CREDIT.APR_REVIEW; must not fire but fired: CN.CREDIT.STUDENT "
        "(fired: CN.CREDIT.STUDENT)")
    assert ", 1 failed" in result.output.splitlines()[-1]


def test_jurisdiction_and_pattern_select_the_cases(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/tests/wrong.yaml": WRONG})
    only_beijing = run(authoring_cli, packs_copy, "--jurisdiction", "CN-BJ")
    assert only_beijing.exit_code == 0 and "wrong.yaml" not in only_beijing.output
    picked = run(authoring_cli, packs_copy, "-k", "student on credit is only")
    assert picked.exit_code == 1 and picked.output.splitlines()[-1] == "1 case: 0 passed, 1 failed"
    unknown = run(authoring_cli, packs_copy, "--jurisdiction", "CN-XX")
    assert unknown.exit_code == 2 and "no rule pack 'CN-XX'" in unknown.output


def test_coverage_counts_fired_and_evaluated_cases_per_rule(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/extra.yaml": "rules:\n" + rule("CN-SH.EXTRA.UNTESTED", "applicant.age > 120")})
    result = run(authoring_cli, packs_copy, "--coverage")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    rows = {line.split()[1]: line.split()[2:] for line in lines if re.match(r"CN(-[A-Z]+)* +CN", line)}
    assert rows["CN-SH.EXTRA.UNTESTED"][0] == "0" and rows["CN-SH.EXTRA.UNTESTED"][-2:] == ["never", "fired"]
    assert rows["CN-SH.EXTRA.UNTESTED"][1] != "0"  # every CN-SH case evaluated it
    assert rows["CN-SH.CREDIT.APR_CAP"] == ["2", "5"]
    assert any(line.split() == ["CN-BJ", "(no", "rules", "of", "its", "own)"] for line in lines)
    assert lines[-1] == "coverage: 20 of 21 rules fired in at least one case (95.2 %)"


def test_min_coverage_fails_below_the_threshold(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/extra.yaml": "rules:\n" + rule("CN-SH.EXTRA.UNTESTED", "applicant.age > 120")})
    below = run(authoring_cli, packs_copy, "--min-coverage", "100")
    assert below.exit_code == 1 and "coverage 95.2 % is below the minimum 100 %" in below.output
    assert run(authoring_cli, packs_copy, "--min-coverage", "95").exit_code == 0
    assert run(authoring_cli, packs_copy, "--min-coverage", "101").exit_code == 2


def test_a_rule_set_that_does_not_load_fails_with_its_located_errors(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/extra.yaml": "rules:\n" + rule("CN-SH.EXTRA.BROKEN", "applicant.agee > 1")})
    result = run(authoring_cli, packs_copy)
    assert result.exit_code == 1
    assert "CN-SH/extra.yaml:5:21: unknown_field: Applicant has no field 'agee' (did you mean 'age'?)" in result.output


def test_scenario_file_errors_fail_the_run(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/tests/broken.yaml": "base: compliant\ncases:\n  - {name: x, expct: {}}\n"})
    result = run(authoring_cli, packs_copy)
    assert result.exit_code == 1
    assert "CN-SH/tests/broken.yaml:3:15: unknown_key: unknown key 'expct' (did you mean 'expect'?)" in result.output


MIXED = """\
base: compliant
cases:
  - name: a typo in a field path
    set: {applicant.is_studnet: true}
    expect: {outcome: deny}
  - name: a wrong expectation
    set: {applicant.is_student: true}
    expect: {outcome: allow}
  - name: an age that is not a number
    set: {applicant.age: thirty}
    expect: {outcome: allow}
  - name: no expectation
    set: {applicant.age: 17}
  - name: the compliant flow is allowed
    expect: {outcome: allow}
"""


def test_problems_are_sorted_by_place_and_every_case_is_counted(authoring_cli, packs_copy):
    write(packs_copy, {"CN-SH/tests/mixed.yaml": MIXED})
    result = run(authoring_cli, packs_copy, "-k", "mixed.yaml")
    assert result.exit_code == 1
    *problems, summary = result.output.splitlines()
    assert [problem.split(": ")[0].split("CN-SH/tests/mixed.yaml:")[1] for problem in problems] == [
        "4:11", "6:11", "10:26", "12:5"]
    assert [problem.split(": ")[1] for problem in problems] == ["bad_field_path", "case_failed", "invalid_flow",
                                                                "missing_key"]
    assert summary == "5 cases: 1 passed, 1 failed, 3 could not run; 2 errors in scenario files"


def test_a_run_that_selects_no_case_fails(authoring_cli, packs_copy):
    typo = run(authoring_cli, packs_copy, "-k", "no such case")
    assert typo.exit_code == 1
    assert typo.output.splitlines() == ["no case ran: -k 'no such case' matches no case id (FOLDER/tests/FILE::name)"]
    write(packs_copy, {"CN-BJ/tests/pilot.yaml": "base: compliant\ncases: []\n"})
    empty = run(authoring_cli, packs_copy, "-j", "CN-BJ")
    assert empty.exit_code == 1 and empty.output.splitlines() == ["no case ran: no scenario case in CN-BJ/tests/"]
