"""``licit rules new CODE``: a new jurisdiction folder with a rule file and a scenario file to start from.

The example rule is a placeholder to replace: it is dated from the day of writing, cites nothing real
(``illustrative``, which lint lists), and its scenario file already follows the practice that
docs/writing-rules.md asks for: a case that fires the rule, a near miss, and the day before it is in
force. The cases start from the flow ``compliant`` that the national packs' tests name; a tree without
it needs a base flow of its own (the file says where).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from rules.errors import LicitError
from rules.loader import JURISDICTION_CODE
from rules.scenarios import TESTS_FOLDER

__all__ = ["ScaffoldError", "new_jurisdiction"]

RULE_FILE = "rules.yaml"


class ScaffoldError(LicitError):
    """The folder cannot be made: a code that is no jurisdiction code, or a folder that exists."""


def new_jurisdiction(root: str | Path, code: str, today: dt.date) -> list[Path]:
    """Write ``root/CODE/rules.yaml`` and ``root/CODE/tests/rules.yaml``; return their paths. Nothing
    is written over: an existing folder for ``code`` is refused."""
    if not JURISDICTION_CODE.fullmatch(code):
        raise ScaffoldError(f"{code!r} is not a jurisdiction code: two capital letters, then -PART for each "
                            "level (CN-ZJ, CN-ZJ-HZ)")
    folder = Path(root, code)
    if folder.exists():
        raise ScaffoldError(f"{folder} already exists: `licit rules new` only starts a new jurisdiction")
    rule_id = f"{code}.EXAMPLE.AGE_OVER_120"
    files = {folder / RULE_FILE: _RULES.format(code=code, rule_id=rule_id, today=today),
             folder / TESTS_FOLDER / RULE_FILE: _TESTS.format(code=code, rule_id=rule_id, today=today,
                                                              day_before=today - dt.timedelta(days=1))}
    (folder / TESTS_FOLDER).mkdir(parents=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    return list(files)


_RULES = """\
# {code}: rules of this jurisdiction. It inherits every rule and parameter of its parents (the codes before
# each "-"); add rules here, and replace, disable or add exceptions to inherited ones (docs/rule-language.md).
# Written by `licit rules new`: replace the example rule, its citation and the names below.
jurisdiction:
  name: {{zh: {code}, en: {code}}}

rules:
  - id: {rule_id}
    title: "示例：投保人年龄超过 120 岁须复核 (Example: an applicant over 120 needs review)"
    effect: review
    when: applicant.age > 120
    effective_from: {today}
    citation:
      source: 示例规则，尚无出处 / example rule, no source yet
      status: illustrative
    message:
      zh: 投保人年龄超过 120 岁，须由合规人员复核。
      en: The applicant is over 120 years old; a compliance officer must review the enrollment.
    remedy: 核实投保人的出生日期。 / Check the applicant's date of birth.
"""

_TESTS = """\
# yaml-language-server: $schema=../../../licit-tests.schema.json
# Scenario tests of {code} (docs/writing-rules.md, "Scenario tests"): for each rule, a case that fires it,
# a near miss, and the day before it is in force. Run them with `licit rules test -j {code}`.
base: compliant  # the flow named in CN/tests/flows.yaml; elsewhere, name a flow of your own under `flows:`
cases:
  - name: an applicant aged 121 is reviewed
    requested_at: {today}
    set: {{applicant.age: 121}}
    expect: {{outcome: review, fires: [{rule_id}]}}
  - name: an applicant aged 120 is not
    requested_at: {today}
    set: {{applicant.age: 120}}
    expect: {{outcome: allow, not_fires: [{rule_id}]}}
  - name: on {day_before}, before the rule is in force, an applicant aged 121 is not reviewed
    requested_at: {day_before}
    set: {{applicant.age: 121}}
    expect: {{outcome: allow, not_fires: [{rule_id}]}}
"""
