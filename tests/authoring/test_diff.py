"""`licit rules diff`: what a change to the rule files changes, per jurisdiction, for review before release."""
from __future__ import annotations

import json

from click.testing import CliRunner

from tests.authoring.conftest import PACKS, rule, write


def diff(cli, old, new, *args):
    return CliRunner().invoke(cli, ["diff", str(old), str(new), *args])


def edit(path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_identical_trees_have_no_differences(authoring_cli):
    result = diff(authoring_cli, PACKS, PACKS)
    assert result.exit_code == 0 and result.output == "No differences.\n"


def test_rules_added_removed_and_changed_and_parameter_values(authoring_cli, packs_copy):
    cn = packs_copy / "CN"
    edit(cn / "credit.yaml", "and applicant.age < 18", "and applicant.age < 16")
    edit(cn / "credit.yaml", "effective_from: 2021-03-01", "effective_from: 2021-09-01")
    edit(cn / "premium.yaml", "    effect: review\n    when: payment_for(\"commercial\")",
         "    effect: deny\n    when: payment_for(\"commercial\")")
    edit(cn / "platform.yaml", "status: illustrative", "status: verified")
    edit(packs_copy / "CN-GD" / "pricing.yaml", "value: 1.30", "value: 1.25")
    write(packs_copy, {"CN-GD-SZ/ride_hailing.yaml": "rules:\n" + rule("CN-GD-SZ.NEW.RULE", "applicant.age > 99")})
    write(packs_copy, {"CN-SH/disabled.yaml": "disabled:\n  - {rule: CN.AUTO.CROSS_REGION, reason: local pilot}\n"})

    text = diff(authoring_cli, PACKS, packs_copy)
    assert text.exit_code == 1, text.output  # they differ, as diff(1) says it
    lines = text.output.splitlines()
    assert "  ~ CN.CREDIT.MIN_AGE" in lines
    assert any("condition:" in line and "applicant.age < 18 → " in line and "applicant.age < 16" in line
               for line in lines)
    assert "      dates: 2021-03-01 – … → 2021-09-01 – …" in lines
    assert "      effect: review → deny" in lines
    assert any(line.startswith("      citation: ") and '"status": "verified"' in line for line in lines)
    assert 'parameter pricing_factor_max: {"from": "2024-01-01", "value": 1.3} → ' \
           '{"from": "2024-01-01", "value": 1.25}' in text.output
    assert "  + CN-GD-SZ.NEW.RULE" in lines and "  - CN-GD-SZ.RIDE_HAILING.COMMERCIAL_REQUIRED" in lines
    assert any(line.startswith("  disable of CN.AUTO.CROSS_REGION: (none) → ") for line in lines)

    report = json.loads(diff(authoring_cli, PACKS, packs_copy, "--format", "json").output)["jurisdictions"]
    assert set(report) == {"CN", "CN-GD", "CN-GD-SZ", "CN-SH"}
    assert report["CN"]["rules"]["changed"]["CN.COMMERCIAL.PREMIUM_INSTALLMENTS"]["effect"] == {"old": "review",
                                                                                                "new": "deny"}
    assert report["CN-GD"]["parameters"]["pricing_factor_max"]["new"] == [{"from": "2024-01-01", "value": 1.25}]
    assert report["CN-GD-SZ"]["rules"] == {"added": ["CN-GD-SZ.NEW.RULE"],
                                           "removed": ["CN-GD-SZ.RIDE_HAILING.COMMERCIAL_REQUIRED"], "changed": {}}


def test_a_new_jurisdiction_is_listed_whole(authoring_cli, packs_copy):
    write(packs_copy, {"CN-ZJ/rules.yaml": "rules:\n" + rule("CN-ZJ.A.ONE", "applicant.age > 99")})
    report = json.loads(diff(authoring_cli, PACKS, packs_copy, "--format", "json").output)["jurisdictions"]
    assert report == {"CN-ZJ": {"status": "added", "rules": {"added": ["CN-ZJ.A.ONE"], "removed": [], "changed": {}},
                                "parameters": {}, "overrides": {}}}


def test_a_tree_that_does_not_load_fails_the_diff(authoring_cli, packs_copy):
    write(packs_copy, {"CN-ZJ/rules.yaml": "rules: [\n"})
    result = diff(authoring_cli, PACKS, packs_copy)
    assert result.exit_code == 2 and "CN-ZJ/rules.yaml:2:1: yaml_syntax_error" in result.stderr  # trouble, as diff(1)
    assert result.stderr.startswith("licit: error: the rule set does not load (1 error):")
