"""Loading jurisdiction trees: inheritance, overrides, dated versions and parameters, located errors."""
import datetime as dt

import pytest

from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from tests.conftest import rule_yaml

DAY = dt.date(2026, 11, 24)


def load(tree):
    return load_rules(tree, flow_vocabulary())


def rule_ids(tree, code, day=DAY):
    return [effective.rule.id for effective in tree.compiled[code].segment_on(day).rules]


def errors_of(root) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        load(root)
    return [str(error) for error in caught.value.errors]


NATIONAL = "rules:\n" + rule_yaml("CN.A.ONE", "applicant.age < 18") + rule_yaml("CN.A.TWO", "applicant.is_student")


def test_children_inherit_the_chain_and_siblings_do_not(write_tree):
    tree = load(write_tree({
        "CN/a.yaml": NATIONAL,
        "CN-GD/a.yaml": "rules:\n" + rule_yaml("CN-GD.B.ONE", "vehicle.new_energy"),
        "CN-GD-SZ/a.yaml": "rules:\n" + rule_yaml("CN-GD-SZ.C.ONE", 'vehicle.usage == "ride_hailing"'),
        "CN-SH/a.yaml": "rules:\n" + rule_yaml("CN-SH.D.ONE", "vehicle.new_energy"),
    }))
    assert tree.compiled["CN-GD-SZ"].chain == ["CN", "CN-GD", "CN-GD-SZ"]
    assert rule_ids(tree, "CN-GD-SZ") == ["CN.A.ONE", "CN.A.TWO", "CN-GD.B.ONE", "CN-GD-SZ.C.ONE"]
    assert rule_ids(tree, "CN-SH") == ["CN.A.ONE", "CN.A.TWO", "CN-SH.D.ONE"]
    assert tree.compiled["CN-GD"].digest != tree.compiled["CN-SH"].digest


def test_replacement_applies_only_while_the_replacing_rule_is_in_force(write_tree):
    replacing = rule_yaml("CN-SH.A.CAP", "applicant.age < 21", start="2022-01-01") + \
        "    replaces: {rule: CN.A.ONE, reason: Shanghai sets a higher age}\n"
    tree = load(write_tree({"CN/a.yaml": NATIONAL, "CN-SH/a.yaml": "rules:\n" + replacing, "CN-BJ/a.yaml": ""}))
    assert rule_ids(tree, "CN-SH") == ["CN.A.TWO", "CN-SH.A.CAP"]
    assert rule_ids(tree, "CN-SH", dt.date(2021, 12, 31)) == ["CN.A.ONE", "CN.A.TWO"]
    assert rule_ids(tree, "CN-BJ") == ["CN.A.ONE", "CN.A.TWO"]


def test_disable_and_exception_with_dates(write_tree):
    tree = load(write_tree({"CN/a.yaml": NATIONAL, "CN-BJ/a.yaml": """\
        parameters:
          approved_pilots:
            type: list[string]
            values: [{from: 2020-01-01, value: [PILOT-1]}]
        disabled:
          - {rule: CN.A.TWO, reason: not applicable here, effective_from: 2025-01-01}
        exceptions:
          - rule: CN.A.ONE
            when: channel.pilot_id in params.approved_pilots
            reason: pilot flows are supervised by the sandbox
        """}))
    assert rule_ids(tree, "CN-BJ") == ["CN.A.ONE"]
    assert rule_ids(tree, "CN-BJ", dt.date(2024, 12, 31)) == ["CN.A.ONE", "CN.A.TWO"]
    guarded = tree.compiled["CN-BJ"].segment_on(DAY).rules[0]
    assert [exception.reason for exception in guarded.exceptions] == ["pilot flows are supervised by the sandbox"]
    assert "PILOT-1" in repr(guarded.condition)
    assert "PILOT-1" not in repr(tree.compiled["CN"].segment_on(DAY).rules[0].condition)


def test_dated_versions_and_parameters_follow_the_date(write_tree):
    tree = load(write_tree({
        "CN/a.yaml": """\
            parameters:
              limit:
                type: number
                values:
                  - {from: 2020-01-01, value: 1.35}
                  - {from: 2023-06-01, value: 1.5}
            rules:
              - id: CN.P.RANGE
                title: range
                effect: deny
                message: {zh: 超出, en: out of range}
                remedy: fix
                versions:
                  - effective_from: 2020-01-01
                    effective_until: 2021-01-31
                    when: product("commercial").pricing_factor > params.limit + 1
                    citation: {source: old notice, status: verified}
                  - effective_from: 2021-02-01
                    when: product("commercial").pricing_factor > params.limit
                    citation: {source: new notice, status: verified}
            """,
        "CN-GD/a.yaml": "parameters:\n  limit:\n    values: [{from: 2024-01-01, value: 1.3}]\n",
    }))
    def state(code, day):
        segment = tree.compiled[code].segment_on(day)
        return segment.parameters["limit"], segment.rules[0].version.citation.source
    assert state("CN", dt.date(2021, 1, 31)) == (1.35, "old notice")
    assert state("CN", dt.date(2021, 2, 1)) == (1.35, "new notice")
    assert state("CN", dt.date(2023, 6, 1)) == (1.5, "new notice")
    assert state("CN-GD", dt.date(2023, 12, 31)) == (1.5, "new notice")
    assert state("CN-GD", dt.date(2024, 1, 1)) == (1.3, "new notice")
    assert rule_ids(tree, "CN", dt.date(2019, 12, 31)) == []


def test_every_error_at_once_with_line_and_column(write_tree):
    root = write_tree({"CN/a.yaml": """\
        rules:
          - id: CN.X.ONE
            title: x
            efect: deny
            when: applicant.agee < 18
            effective_from: 2021-01-01
            citation: {source: s, status: verified}
            message: {zh: a, en: b}
            remedy: r
          - id: CN.X.TWO
            title: x
            effect: deny
            when: vehicle.usage == "ridehailing"
            effective_from: 2021-01-01
            citation: {source: s, status: verified}
            message: {zh: a, en: b}
            remedy: r
        """, "CN-SH/b.yaml": "rules:\n" + rule_yaml("CN-SH.Y", "applicant.age <")})
    found = errors_of(root)
    assert any(line.endswith("CN/a.yaml:4:5: unknown_key: unknown key 'efect' (did you mean 'effect'?)")
               for line in found), found
    assert any("CN/a.yaml:13:28: invalid_enum_value:" in line and "ride_hailing" in line for line in found), found
    assert any("CN-SH/b.yaml:5:26: parse_error: expected a value" in line
               for line in found), found
    places = [(line.split(":")[0], int(line.split(":")[1]), int(line.split(":")[2])) for line in found]
    assert places == sorted(places), "errors are sorted by file, line and column"


def test_condition_errors_point_into_block_scalars(write_tree):
    root = write_tree({"CN/a.yaml": "rules:\n" + rule_yaml(
        "CN.X.ONE", ">\n      some p in payments satisfies\n        p.instrumen == \"consumer_credit\"")})
    assert any(":7:11: unknown_field: Payment has no field 'instrumen' (did you mean 'instrument'?)" in line
               for line in errors_of(root))


@pytest.mark.parametrize("files, code", [
    ({"CN/a.yaml": "rules: [\n"}, "yaml_syntax_error"),
    ({"CN/a.yaml": "- id: CN.X\n"}, "schema_error"),
    ({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "applicant.age < 18", start="2021-02-30")}, "yaml_value_error"),
    ({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "applicant.age < params.nope")}, "undefined_parameter"),
    ({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "(" * 50 + "applicant.is_student" + ")" * 50)},
     "expression_too_deep"),
    ({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "applicant.age < 1" + " or applicant.age < 1" * 300)},
     "expression_too_long"),
    ({"CN/a.yaml": NATIONAL, "CN-SH/a.yaml": "rules:\n" + rule_yaml("CN-SH.X", "applicant.is_student")
      + "    replaces: {rule: CN.A.NONE, reason: x}\n"}, "unknown_rule"),
    ({"CN/a.yaml": NATIONAL, "CN-SH/a.yaml": "rules:\n" + rule_yaml("CN-SH.X", "applicant.is_student")
      + "    replaces: {rule: CN-SH.X, reason: x}\n"}, "cyclic_replacement"),
    ({"CN/a.yaml": NATIONAL, "CN-SH/a.yaml": "disabled:\n  - {rule: CN.A.ONE}\n"}, "missing_key"),
    ({"CN/a.yaml": NATIONAL + NATIONAL.removeprefix("rules:\n")}, "duplicate_rule_id"),
    ({"CN/a.yaml": "rules:\n" + rule_yaml("CN-GD.X.ONE", "applicant.is_student")}, "rule_id_prefix"),
    ({"CN/a.yaml": "rules:\n" + rule_yaml("CN.X.ONE", "applicant.is_student") + "    effectz: 1\n"}, "unknown_key"),
    ({"cn/a.yaml": NATIONAL}, "invalid_jurisdiction_code"),
])
def test_bad_rule_files_are_one_located_error_each(write_tree, files, code):
    found = errors_of(write_tree(files))
    assert any(f": {code}: " in line for line in found), found
    assert all(line.count(":") >= 4 for line in found)


def test_overlapping_versions_and_parameter_not_in_force(write_tree):
    overlapping = """\
        rules:
          - id: CN.V.ONE
            title: v
            effect: deny
            message: {zh: a, en: b}
            remedy: r
            versions:
              - {effective_from: 2020-01-01, effective_until: 2021-06-30, when: applicant.is_student, citation: {source: s, status: verified}}
              - {effective_from: 2021-01-01, when: applicant.is_student, citation: {source: s, status: verified}}
        """
    assert any("overlapping_versions" in line for line in errors_of(write_tree({"CN/a.yaml": overlapping})))
    late_parameter = "parameters:\n  cap:\n    type: number\n    values: [{from: 2022-01-01, value: 1}]\nrules:\n" + \
        rule_yaml("CN.P.ONE", "applicant.age < params.cap", start="2021-01-01")
    assert any("parameter_not_in_force" in line and "2021-01-01" in line
               for line in errors_of(write_tree({"CN/a.yaml": late_parameter})))


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "[1, .inf]"])
def test_a_parameter_that_is_not_a_finite_number_is_a_located_type_error(write_tree, value):
    kind = "list[number]" if value.startswith("[") else "number"
    line = f"  cap: {{type: '{kind}', values: [{{from: 2020-01-01, value: {value}}}]}}"
    root = write_tree({"CN/a.yaml": f"parameters:\n{line}\nrules:\n" + rule_yaml("CN.A.ONE", "applicant.age < 18")})
    [error] = errors_of(root)
    assert f":2:{line.index(value) + 1}: type_error: value " in error and "is not a finite number" in error, error


def test_a_number_too_large_to_represent_is_a_located_type_error(write_tree):
    [error] = errors_of(write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.A.ONE", "applicant.age > 1e999")}))
    assert error.endswith("CN/a.yaml:5:27: type_error: 1e999 is too large to be a number"), error


@pytest.mark.parametrize("offset", ["+25:99", "+08:75", "+15:00", "8:00"])
def test_a_utc_offset_out_of_range_is_a_located_schema_error(write_tree, offset):
    root = write_tree({"CN/a.yaml": f"jurisdiction:\n  utc_offset: '{offset}'\nrules:\n"
                                    + rule_yaml("CN.A.ONE", "applicant.age < 18")})
    [error] = errors_of(root)
    assert f"CN/a.yaml:2:15: schema_error: jurisdiction.utc_offset: '{offset}' is not a UTC offset like +08:00" in error


def test_anchors_and_aliases_are_refused_where_written_before_they_expand(write_tree):
    laughs = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 10))  # 9**10 values once expanded
    cited = ("x: &c {source: s, status: verified}\nrules:\n"
             + rule_yaml("CN.A.ONE", "applicant.age < 18").replace("{source: test source, status: illustrative}", "*c"))
    found = errors_of(write_tree({"CN/bomb.yaml": laughs, "CN/cited.yaml": cited}))
    message = "yaml_syntax_error: anchors and aliases (&name, *name) are not supported in rule files; write the value out"
    assert [line.split("/tree/")[1] for line in found] == [f"CN/bomb.yaml:1:5: {message}", f"CN/cited.yaml:1:4: {message}"]


def test_a_second_jurisdiction_block_in_one_folder_is_refused(write_tree):
    block = "jurisdiction:\n  name: {{zh: 浙江, en: {name}}}\n"
    found = errors_of(write_tree({"CN/a.yaml": NATIONAL, "CN-ZJ/a.yaml": block.format(name="Zhejiang"),
                                  "CN-ZJ/b.yaml": block.format(name="Other")}))
    [error] = found
    assert "/CN-ZJ/b.yaml:1:1: duplicate_key: jurisdiction: is already given for CN-ZJ at " in error
    assert error.endswith("/CN-ZJ/a.yaml:1:1; give it once per folder"), error


@pytest.mark.parametrize("when, where", [
    ("applicant.age < 18", "5:12: yaml_syntax_error: this quoted text is never closed"),  # the file ends inside it
    ('"applicant.age < 18"',  # its quote closes it
     "5:12: yaml_syntax_error: this quote looks unclosed (noticed at 7:"),
])
def test_an_unclosed_quote_is_reported_at_the_quote_without_errors_it_causes_elsewhere(write_tree, when, where):
    broken = ("parameters:\n  cap: {type: number, values: [{from: 2020-01-01, value: 1}]}\nrules:\n"
              + rule_yaml("CN.A.ONE", when).replace("title: CN.A.ONE", 'title: "unclosed'))
    child = ("rules:\n" + rule_yaml("CN-SH.A.TWO", "applicant.age > params.cap")
             + "    replaces: {rule: CN.A.ONE, reason: r}\n")
    found = errors_of(write_tree({"CN/a.yaml": broken, "CN-SH/a.yaml": child}))
    assert len(found) == 1 and f"CN/a.yaml:{where}" in found[0], found
