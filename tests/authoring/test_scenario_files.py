"""The scenario file format: a case is a base flow plus a few field changes, and every mistake is located."""
from __future__ import annotations

import datetime as dt

import pytest

from engine.batch.scenarios import run_scenarios
from engine.facts import flow_vocabulary
from engine.flow import Flow
from rules import load_rules
from rules.scenariofile import parse_field_path, scenario_json_schema
from rules.scenarios import load_scenarios
from tests.authoring.conftest import write


def cases_of(root, text: str, folder: str = "CN-SH"):
    write(root, {f"{folder}/tests/t.yaml": text})
    suite = load_scenarios(load_rules(root, flow_vocabulary()), [folder])
    return {case.name: case for case in suite.cases if case.id.startswith(f"{folder}/tests/t.yaml")}, \
        [str(error) for error in suite.errors]


def test_field_paths_read_names_and_indexes():
    assert parse_field_path("payments[1].apr") == ("payments", 1, "apr")
    assert parse_field_path("data_sharing[0].consent.obtained") == ("data_sharing", 0, "consent", "obtained")
    with pytest.raises(ValueError):
        parse_field_path("payments[x].apr")


def test_a_case_is_the_base_flow_with_fields_set_and_items_removed(packs_copy):
    cases, errors = cases_of(packs_copy, """\
        base: compliant
        cases:
          - name: changed
            set:
              payments[1].apr: 0.3
              applicant.is_student: true
              data_sharing[1]: {from: insurer, to: platform, categories: [policy],
                                consent: {obtained: true, separate: true, pre_checked: false}}
            remove: ["products[1]", "payments[1]"]
            expect: {outcome: allow}
        """)
    assert errors == []
    flow = cases["changed"].flow
    assert flow["applicant"]["is_student"] is True
    assert [product["kind"] for product in flow["products"]] == ["ctpl"]
    assert len(flow["payments"]) == 1 and flow["data_sharing"][1]["to"] == "platform"
    Flow.model_validate(flow)


def test_a_case_runs_in_its_folders_jurisdiction_unless_it_sets_one(packs_copy):
    cases, _ = cases_of(packs_copy, """\
        base: compliant
        cases:
          - {name: here, expect: {outcome: allow}}
          - {name: sibling, set: {jurisdiction: CN-BJ}, expect: {outcome: allow}}
        """)
    assert cases["here"].jurisdiction == "CN-SH"
    assert cases["sibling"].jurisdiction == "CN-BJ"


def test_a_named_flow_comes_from_the_nearest_folder_of_the_chain(packs_copy):
    write(packs_copy, {"CN-SH/tests/flows.yaml": "flows:\n  compliant: {}\n"})
    older = load_scenarios(load_rules(packs_copy, flow_vocabulary()), ["CN-SH", "CN-BJ"]).cases
    assert all(case.flow == {} for case in older if case.folder == "CN-SH")
    assert all(case.flow["applicant"]["age"] == 36 for case in older if case.folder == "CN-BJ")


def test_a_date_means_noon_local_time_and_as_of_picks_the_rules(packs_copy):
    cases, _ = cases_of(packs_copy, """\
        base: compliant
        cases:
          - {name: dated, requested_at: 2021-02-01, expect: {outcome: allow}}
          - {name: timed, requested_at: "2021-01-31T23:30:00+00:00", expect: {outcome: allow}}
          - {name: as of, as_of: 2020-06-30, expect: {outcome: allow}}
        """)
    assert cases["dated"].flow["requested_at"] == "2021-02-01T12:00:00+08:00"
    assert cases["dated"].day == dt.date(2021, 2, 1)
    assert cases["timed"].day == dt.date(2021, 2, 1)  # 23:30 UTC is the next morning in China
    assert cases["as of"].day == dt.date(2020, 6, 30)


LOCATED = [
    ("cases:\n  - name: x\n    sett: {applicant.age: 17}\n    expect: {outcome: deny}\n",
     "t.yaml:3:5: unknown_key: unknown key 'sett' (did you mean 'set'?)"),
    ("base: compliant\ncases:\n  - name: x\n    set: {applicant.is_studnet: true}\n    expect: {outcome: deny}\n",
     "t.yaml:4:11: bad_field_path: applicant.is_studnet: applicant has no field 'is_studnet' "
     "(did you mean 'is_student'?)"),
    ("base: compliant\ncases:\n  - name: x\n    set: {\"payments[2].apr\": 0.3}\n    expect: {outcome: deny}\n",
     "t.yaml:4:11: bad_field_path: payments[2].apr: payments has 2 items"),
    ("base: compliant\ncases:\n  - name: x\n    set: {\"payments[x].apr\": 0.3}\n    expect: {outcome: deny}\n",
     "t.yaml:4:11: bad_field_path: 'payments[x].apr' is not a field path"),
    ("base: compliant\ncases:\n  - name: x\n    remove: [applicant.age]\n    expect: {outcome: deny}\n",
     "t.yaml:4:14: bad_field_path: applicant.age: remove takes a list item"),
    ("base: complaint\ncases:\n  - {name: x, expect: {outcome: deny}}\n",
     "t.yaml:1:7: unknown_flow: no flow named 'complaint' in the tests of CN → CN-SH (did you mean 'compliant'?)"),
    ("base: compliant\ncases:\n  - {name: x, expect: {outcome: deny, fires: [CN.CREDIT.STUDNT]}}\n",
     "t.yaml:3:47: unknown_rule: no rule CN.CREDIT.STUDNT in this rule tree (did you mean 'CN.CREDIT.STUDENT'?)"),
    ("base: compliant\ncases:\n  - {name: x, expect: {outcome: refused}}\n",
     "t.yaml:3:33: schema_error: cases[0].expect.outcome: Input should be 'deny', 'review', 'conditional' or 'allow'"),
    ("base: compliant\ncases:\n  - {name: x, requested_at: 2021-13-01, expect: {outcome: deny}}\n",
     "t.yaml:3:29: yaml_value_error: month must be in 1..12"),
    ("base: compliant\ncases:\n  - {name: x, requested_at: '2021-02-01T10:00:00', expect: {outcome: deny}}\n",
     "t.yaml:3:29: schema_error: cases[0].requested_at: a timestamp needs a UTC offset"),
    ("base: compliant\ncases:\n  - {name: x, expect: {outcome: deny}}\n  - {name: x, expect: {outcome: deny}}\n",
     "t.yaml:4:12: duplicate_case: another case of this file is named 'x'"),
    ("cases:\n  - {name: x, expect: {outcome: deny}}\n", "t.yaml:2:5: missing_base: x: no base flow"),
    ("- name: x\n", "t.yaml:1:1: schema_error: a scenario file is a mapping with keys base, flows and cases"),
    ("cases: [\n", "t.yaml:2:1: yaml_syntax_error:"),
]


@pytest.mark.parametrize("text, expected", LOCATED, ids=[expected.split(": ")[1] + f"-{index}"
                                                          for index, (_, expected) in enumerate(LOCATED)])
def test_scenario_file_errors_are_located(packs_copy, text, expected):
    _, errors = cases_of(packs_copy, text)
    assert any(expected in error for error in errors), errors


def test_a_broken_case_does_not_hide_the_others(packs_copy):
    cases, errors = cases_of(packs_copy, """\
        base: compliant
        cases:
          - {name: broken, sett: {}, expect: {outcome: deny}}
          - {name: fine, expect: {outcome: allow}}
        """)
    assert list(cases) == ["fine"] and len(errors) == 1


def test_a_flow_made_invalid_by_a_change_is_located_at_the_change(packs_copy):
    write(packs_copy, {"CN-SH/tests/t.yaml": """\
        base: compliant
        cases:
          - name: negative rate
            set: {"payments[1].apr": -1}
            expect: {outcome: allow}
          - name: product removed but still paid for
            remove: ["products[1]"]
            expect: {outcome: allow}
        """})
    from engine import Engine

    with Engine(rules_dir=packs_copy, max_request_age=None) as engine:
        run = run_scenarios(engine, jurisdiction="CN-SH", pattern="t.yaml")
    problems = [str(problem) for result in run.failed for problem in result.problems()]
    assert any(problem.endswith("t.yaml:4:30: invalid_flow: negative rate: payments[1].apr: Input should be greater "
                                "than or equal to 0 (got -1)") for problem in problems), problems
    # the shared base is not the case's text: the case is named, with where the base wrote the field
    assert any("t.yaml:6:11: invalid_flow: product removed but still paid for: payments" in problem
               and "the base flow writes it at" in problem and "CN/tests/flows.yaml" in problem
               for problem in problems), problems


def test_tests_in_a_folder_without_rule_files_are_an_error(packs_copy):
    write(packs_copy, {"CN-ZJ/tests/t.yaml": "base: compliant\ncases: []\n"})
    suite = load_scenarios(load_rules(packs_copy, flow_vocabulary()))
    assert any("CN-ZJ:1:1: unknown_jurisdiction: folder CN-ZJ has tests but no rule files" in str(error)
               for error in suite.errors)


def test_the_json_schema_lets_editors_complete_cases_and_base_flows():
    schema = scenario_json_schema(Flow.model_json_schema(by_alias=True))
    case = schema["$defs"]["CaseSpec"]
    assert case["additionalProperties"] is False and set(case["required"]) == {"name", "expect"}
    assert schema["$defs"]["Expectation"]["properties"]["outcome"]["enum"] == ["deny", "review", "conditional",
                                                                                "allow"]
    assert {"$ref": "#/$defs/Flow"} in schema["properties"]["base"]["anyOf"]
    assert "payments" in schema["$defs"]["Flow"]["properties"]
    assert schema["$defs"]["Payment"]["properties"]["instrument"]["$ref"] == "#/$defs/Instrument"


def test_a_value_yaml_refuses_is_one_error_and_the_other_cases_still_run(packs_copy):
    cases, errors = cases_of(packs_copy, """\
        base: compliant
        cases:
          - {name: bad date, requested_at: 2021-13-01, expect: {outcome: deny}}
          - {name: fine, expect: {outcome: allow}}
        """)
    assert list(cases) == ["fine"]
    assert len(errors) == 1 and "t.yaml:3:36: yaml_value_error: month must be in 1..12" in errors[0]
