"""A compliance officer adds a province by writing files only: validate, lint, test and evaluate pick it up.

The files are those of the walk-through in docs/writing-rules.md ("Adding a jurisdiction without code").
"""
from __future__ import annotations

import copy
import json

import yaml
from click.testing import CliRunner

from tests.authoring.conftest import PACKS, write

PROVINCE = """\
# 浙江（示例）/ Zhejiang (illustrative)
jurisdiction:
  name: {zh: 浙江省, en: Zhejiang}

parameters:
  apr_review_threshold:            # declared in CN: only new dated values here
    values:
      - from: 2025-01-01
        value: 0.20
        citation: {source: 浙江地方复核阈值（示例） / Zhejiang review threshold (illustrative), status: illustrative}
  max_credit_installments:         # new here: declare its type
    type: number
    description: 信用支付最长还款期数 / longest credit repayment plan without review
    values:
      - {from: 2025-01-01, value: 12}

rules:
  - id: CN-ZJ.CREDIT.LONG_REPAYMENT
    title: 信用支付还款期数过长须复核 (Long credit repayment plans need review)
    effect: review
    when: >-
      some p in payments satisfies p.instrument == "consumer_credit"
      and p.credit_installments > params.max_credit_installments
    effective_from: 2025-01-01
    citation:
      source: 浙江地方信用支付复核要求（示例） / Zhejiang credit review requirement (illustrative)
      status: illustrative
    message:
      zh: 信用支付的还款期数超过浙江复核上限，须由合规人员复核。
      en: The credit repayment plan is longer than Zhejiang's review limit; a compliance officer must review it.
    remedy: 缩短还款期数，或等待合规复核。 / Offer a shorter repayment plan, or await the compliance review.
"""

PROVINCE_TESTS = """\
# yaml-language-server: $schema=../../../licit-tests.schema.json
base: compliant                     # the flow named in CN/tests/flows.yaml
cases:
  - name: a 24-month repayment plan is reviewed
    set: {"payments[1].credit_installments": 24}
    expect: {outcome: review, fires: [CN-ZJ.CREDIT.LONG_REPAYMENT]}
  - name: a 12-month repayment plan is not
    set: {"payments[1].credit_installments": 12}
    expect: {outcome: allow, not_fires: [CN-ZJ.CREDIT.LONG_REPAYMENT]}
  - name: a 22 % rate is reviewed under Zhejiang's 20 % threshold
    set: {"payments[1].apr": 0.22}
    expect: {outcome: review, fires: [CN.CREDIT.APR_REVIEW]}
  - name: before 2025 the national 24 % threshold applies
    requested_at: 2024-12-31
    set: {"payments[1].apr": 0.22}
    expect: {outcome: allow, not_fires: [CN.CREDIT.APR_REVIEW]}
  - name: in Beijing a 22 % rate is below the national threshold
    set: {jurisdiction: CN-BJ, "payments[1].apr": 0.22, "payments[1].credit_installments": 24}
    expect: {outcome: allow, not_fires: [CN.CREDIT.APR_REVIEW, CN-ZJ.CREDIT.LONG_REPAYMENT]}
"""


def zhejiang_flow(tmp_path):
    compliant = yaml.safe_load((PACKS / "CN" / "tests" / "flows.yaml").read_text(encoding="utf-8"))["flows"]
    flow = copy.deepcopy(compliant["compliant"])
    flow.update(flow_id="F-zhejiang-long-credit", jurisdiction="CN-ZJ")
    flow["vehicle"]["registration_jurisdiction"] = flow["insurer"]["branch_jurisdiction"] = "CN-ZJ"
    flow["payments"][1]["credit_installments"] = 24
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow, ensure_ascii=False), encoding="utf-8")
    return path


def test_a_province_added_with_files_only(licit_cli, packs_copy, tmp_path):
    write(packs_copy, {"CN-ZJ/province.yaml": PROVINCE, "CN-ZJ/tests/province.yaml": PROVINCE_TESTS})
    runner = CliRunner()

    validate = runner.invoke(licit_cli, ["rules", "validate", str(packs_copy)])
    assert validate.exit_code == 0, validate.output
    assert "6 jurisdictions (CN, CN-BJ, CN-GD, CN-GD-SZ, CN-SH, CN-ZJ), 21 rules" in validate.output

    lint = runner.invoke(licit_cli, ["rules", "lint", str(packs_copy)])
    assert lint.exit_code == 0, lint.output
    assert "CN-ZJ/province.yaml:" in lint.output and "CN-ZJ.CREDIT.LONG_REPAYMENT: illustrative citation" in lint.output
    assert "unused_parameter" not in lint.output and "no_parent_jurisdiction" not in lint.output

    test = runner.invoke(licit_cli, ["rules", "test", str(packs_copy), "--jurisdiction", "CN-ZJ", "--coverage"])
    assert test.exit_code == 0, test.output
    assert "5 cases: 5 passed, 0 failed" in test.output
    assert "coverage: 1 of 1 rule fired in at least one case (100.0 %)" in test.output

    evaluate = runner.invoke(licit_cli, ["evaluate", str(zhejiang_flow(tmp_path)), "--rules", str(packs_copy),
                                         "--no-audit"])
    assert evaluate.exit_code == 0, evaluate.output
    decision = json.loads(evaluate.output)
    assert decision["jurisdiction_chain"] == ["CN", "CN-ZJ"]
    assert decision["outcome"] == "review"
    assert [finding["rule_id"] for finding in decision["findings"]] == ["CN-ZJ.CREDIT.LONG_REPAYMENT"]


def test_a_mistake_in_the_new_province_is_located_and_refused(licit_cli, packs_copy):
    write(packs_copy, {"CN-ZJ/province.yaml": PROVINCE.replace("p.credit_installments", "p.credit_instalments")})
    result = CliRunner().invoke(licit_cli, ["rules", "validate", str(packs_copy)])
    assert result.exit_code == 1
    assert "CN-ZJ/province.yaml:23:13: unknown_field: Payment has no field 'credit_instalments' " \
           "(did you mean 'credit_installments'?)" in result.output
