"""A bad rule file is one clear located error, never a traceback, and the whole rule set is refused.

Each case adds one bad file to a copy of the shipped packs (whose other jurisdictions are fine), then
checks the same error comes out of rules.load_rules, `licit rules validate` and Engine(...).
"""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from engine import Engine
from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from tests.authoring.conftest import rule, write

DEEP = "(" * 45 + "applicant.is_student" + ")" * 45
LONG = "applicant.age < 1" + " or applicant.age < 1" * 200
PARAMETER = "parameters:\n  cap:\n    type: number\n    values: [{{from: 2020-01-01, value: {value}}}]\n"

BAD_FILES = {
    # name: (text of CN-SH/bad.yaml, expected "line:col: code: message" start)
    "malformed YAML": ("rules:\n  - id: CN-SH.BAD.ONE\n    title: [unclosed\n",
                       "3:12: yaml_syntax_error: this '[' is never closed (noticed at 4:1: expected ',' or ']'"),
    "a list instead of a mapping": ("- id: CN-SH.BAD.ONE\n  title: x\n",
                                    "1:1: schema_error: a rule file is a mapping with keys rules, parameters"),
    "unknown key": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.is_student", extra=("efect: deny",)),
                    "10:5: unknown_key: unknown key 'efect' (did you mean 'effect'?)"),
    "expression too deep": ("rules:\n" + rule("CN-SH.BAD.ONE", DEEP),
                            "5:51: expression_too_deep: condition nests deeper than 40 levels"),
    "expression too long": ("rules:\n" + rule("CN-SH.BAD.ONE", LONG),
                            "5:4011: expression_too_long: condition is 4217 characters; the limit is 4000"),
    "cyclic replaces": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.is_student",
                                          extra=("replaces: {rule: CN-SH.BAD.ONE, reason: loop}",)),
                        "10:22: cyclic_replacement: CN-SH.BAD.ONE replaces itself"),
    "dangling replaces": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.is_student",
                                            extra=("replaces: {rule: CN.CREDIT.STUDNT, reason: typo}",)),
                          "10:22: unknown_rule: replaces names CN.CREDIT.STUDNT, which is not a rule of the parent "
                          "jurisdictions (CN) (did you mean 'CN.CREDIT.STUDENT'?)"),
    "undefined parameter": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.age < params.min_agee"),
                            "5:34: undefined_parameter: parameter 'min_agee' is not defined in this jurisdiction or "
                            "its parents"),
    "impossible calendar date": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.is_student", start="2021-02-30"),
                                 "6:21: yaml_value_error: day is out of range for month"),
    "a tag on a mapping": ("rules: !!python/object/apply:os.system [ls]\n",
                           "1:8: yaml_syntax_error: tags (!!python/object/apply:os.system) are not supported"),
    "a tag on a text": ("rules:\n" + rule("CN-SH.BAD.ONE", "!!str applicant.is_student"),
                        "5:11: yaml_syntax_error: tags (!!str) are not supported"),
    "a control character": ("jurisdiction:\n  name: {zh: 上海, en: \"Shang\x1fhai\"}\n",
                            "2:28: yaml_syntax_error: the character '\\x1f' is not allowed in YAML"),
    "a local tag": ("rules: !rules []\n", "1:8: yaml_syntax_error: tags (!rules) are not supported"),
    "nesting deeper than YAML may": ("rules: " + "[" * 400 + "]" * 400 + "\n",
                                     "1:39: yaml_syntax_error: values nest deeper than 32 levels"),
    "an octal-looking number": (PARAMETER.format(value="012"),
                                "4:40: ambiguous_value: '012' is 10 to YAML 1.1 but not to YAML 1.2"),
    "a base-60 number": (PARAMETER.format(value="1:30"), "4:40: ambiguous_value: '1:30' is 90 to YAML 1.1"),
    "a number with underscores": (PARAMETER.format(value="1_000"), "4:40: ambiguous_value: '1_000' is 1000"),
    "yes for true": ("rules:\n" + rule("CN-SH.BAD.ONE", "yes"),
                     "5:11: ambiguous_value: 'yes' is true to YAML 1.1 but not to YAML 1.2: write true if you mean "
                     "that, or quote it ('yes') for text"),
    "a parameter past a float's range": (PARAMETER.format(value="1" + "0" * 4000),
                                         "4:40: type_error: value a number of about 4001 digits is not a finite "
                                         "number within a float's range"),
    "a literal past a float's range": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.age > 1" + "0" * 400),
                                       "5:27: type_error: 10000000000000000000… is too large to be a number"),
    "arithmetic that overflows": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.age > 1e300 * 1e300"),
                                  "5:33: type_error: this arithmetic overflows"),
    "a date that is text": ("rules:\n" + rule("CN-SH.BAD.ONE", "applicant.is_student", start="next monday"),
                            "6:21: schema_error: rules.0.effective_from: Input should be a valid date"),
}


@pytest.fixture(params=sorted(BAD_FILES))
def bad_tree(request, packs_copy):
    text, expected = BAD_FILES[request.param]
    write(packs_copy, {"CN-SH/bad.yaml": text})
    return packs_copy, f"CN-SH/bad.yaml:{expected}"


def only_error(error: RuleSetError) -> str:
    assert len(error.errors) == 1, [str(item) for item in error.errors]
    return str(error.errors[0])


def test_load_rules_reports_one_located_error(bad_tree):
    root, expected = bad_tree
    with pytest.raises(RuleSetError) as caught:
        load_rules(root, flow_vocabulary())
    assert expected in only_error(caught.value)


def test_the_engine_refuses_the_whole_rule_set(bad_tree):
    root, expected = bad_tree
    with pytest.raises(RuleSetError) as caught:
        Engine(rules_dir=root)
    assert expected in only_error(caught.value)


def test_licit_rules_validate_prints_the_error_and_fails(licit_cli, bad_tree):
    root, expected = bad_tree
    result = CliRunner().invoke(licit_cli, ["rules", "validate", str(root)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)  # no traceback
    assert expected in result.stderr and not result.stdout
    assert result.stderr.startswith("licit: error: the rule set does not load (1 error):\n")


def test_a_period_that_ends_before_it_starts_is_one_located_error(packs_copy):
    write(packs_copy, {"CN-SH/bad.yaml": "rules:\n" + rule("CN-SH.BAD.ONE", "applicant.is_student",
                                                           start="2021-01-01", until="2020-01-01")})
    with pytest.raises(RuleSetError) as caught:
        load_rules(packs_copy, flow_vocabulary())
    assert "CN-SH/bad.yaml:2:5: schema_error: rules.0: effective_until is before effective_from" in \
        only_error(caught.value)
