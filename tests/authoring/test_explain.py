"""`licit rules explain`: the rule, its versions and sources, and its fate in every jurisdiction."""
from __future__ import annotations

import datetime as dt

from click.testing import CliRunner

from tests.authoring.conftest import PACKS, write


def explain(cli, *args):
    return CliRunner().invoke(cli, ["explain", *map(str, args)])


def status_line(output: str, code: str) -> str:
    return next(line.strip() for line in output.splitlines() if line.strip().startswith(code + " "))


def test_a_replaced_rule_applies_everywhere_but_where_it_is_replaced(authoring_cli):
    result = explain(authoring_cli, "CN.CREDIT.APR_REVIEW", "--as-of", "2026-11-24", "--rules", PACKS)
    assert result.exit_code == 0, result.output
    output = result.output
    assert output.startswith("CN.CREDIT.APR_REVIEW — 信用支付年化利率超过复核阈值")
    assert "effect: review; defined in CN at " in output and "CN/credit.yaml:" in output
    assert "* 2021-01-01 – …" in output and "citation: 内部复核阈值 / internal review threshold [illustrative]" in output
    assert status_line(output, "CN-BJ") == "CN-BJ     applies: with apr_review_threshold = 0.24 from CN"
    assert status_line(output, "CN-SH").startswith("CN-SH     replaced: by CN-SH.CREDIT.APR_CAP in CN-SH: 示例性地方规则")
    before_the_cap = explain(authoring_cli, "CN.CREDIT.APR_REVIEW", "--as-of", "2021-06-01", "--rules", PACKS).output
    assert status_line(before_the_cap, "CN-SH").startswith("CN-SH     applies")


def test_an_exception_is_shown_with_its_condition_and_reason(authoring_cli):
    output = explain(authoring_cli, "CN.COMMERCIAL.PREMIUM_INSTALLMENTS", "--as-of", "2026-11-24",
                     "--rules", PACKS).output
    assert status_line(output, "CN-BJ").startswith(
        "CN-BJ     excepted: does not fire when channel.pilot_id in params.approved_pilots (CN-BJ: 示例性地方例外")
    assert status_line(output, "CN-SH") == "CN-SH     applies"


def test_versions_dates_and_jurisdictions_that_do_not_inherit(authoring_cli):
    payee = explain(authoring_cli, "CN.PREMIUM.PAYEE", "--as-of", "2020-06-01", "--rules", PACKS).output
    assert "* 2015-10-01 – 2021-01-31" in payee and "    2021-02-01 – …" in payee
    assert "《互联网保险业务监管暂行办法》（保监发〔2015〕69号） [verified]" in payee
    early = explain(authoring_cli, "CN.CONSUMER.PRESELECTED_OPTIONAL", "--as-of", "2024-02-29", "--rules", PACKS)
    assert status_line(early.output, "CN") == "CN        not in force: in force 2024-03-01 – …"
    shenzhen = explain(authoring_cli, "CN-GD-SZ.RIDE_HAILING.COMMERCIAL_REQUIRED", "--rules", PACKS).output
    assert status_line(shenzhen, "CN-GD") == "CN-GD     not inherited: CN-GD does not inherit from CN-GD-SZ"
    assert status_line(shenzhen, "CN-GD-SZ") == "CN-GD-SZ  applies"


def test_a_disabled_rule_says_where_and_why(authoring_cli, packs_copy):
    write(packs_copy, {"CN-GD/disabled.yaml": "disabled:\n  - {rule: CN.AUTO.CROSS_REGION, reason: pilot of "
                                              "cross-province sales, effective_from: 2025-01-01}\n"})
    output = explain(authoring_cli, "CN.AUTO.CROSS_REGION", "--as-of", dt.date.today(), "--rules", packs_copy).output
    assert status_line(output, "CN-GD") == "CN-GD     disabled: in CN-GD: pilot of cross-province sales"
    assert status_line(output, "CN-GD-SZ") == "CN-GD-SZ  disabled: in CN-GD: pilot of cross-province sales"
    assert "in CN-GD 2025-01-01 – …: disabled: pilot of cross-province sales (" in output


def test_unknown_rule_and_bad_date_are_bad_input(authoring_cli):
    unknown = explain(authoring_cli, "CN.CREDIT.STUDNT", "--rules", PACKS)
    assert unknown.exit_code == 2 and "did you mean 'CN.CREDIT.STUDENT'?" in unknown.output
    assert explain(authoring_cli, "CN.CREDIT.STUDENT", "--as-of", "2026-13-01", "--rules", PACKS).exit_code == 2
