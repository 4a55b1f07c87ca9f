"""``licit rules``: check, inspect, test, lint, explain and compare rule packs.

Exit codes as for every licit command: 1 when the rules, tests or lint fail; 2 for bad usage or input.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from engine.cli.errors import InputError, library_errors
from engine.cli.options import format_option, rules_option

__all__ = ["rules_group"]

_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _tree(directory: Path | None):
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules import load_rules

    return load_rules(directory or default_rules_dir(), flow_vocabulary())


@click.group("rules")
def rules_group() -> None:
    """Check and inspect rule packs."""


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
def validate(directory: Path | None) -> None:
    """Load every rule file under DIRECTORY; print every error as file:line:col: code: message."""
    from engine.core import default_rules_dir
    from rules import RuleSetError

    directory = directory or default_rules_dir()
    try:
        tree = _tree(directory)
    except RuleSetError as error:
        click.echo(str(error))
        raise click.ClickException(f"{len(error.errors)} errors in {directory}") from None
    jurisdictions = tree.jurisdictions.values()
    rule_count = sum(len(jurisdiction.rules) for jurisdiction in jurisdictions)
    overrides = [override.kind for jurisdiction in jurisdictions for override in jurisdiction.overrides]
    replacements = sum(1 for jurisdiction in jurisdictions for rule in jurisdiction.rules if rule.replaces)
    parameters = sum(len(jurisdiction.parameter_values) for jurisdiction in jurisdictions)
    codes = ", ".join(sorted(tree.jurisdictions))
    click.echo(f"{directory}: OK — {len(tree.jurisdictions)} jurisdictions ({codes}), "
               f"{rule_count} rules, {parameters} parameter settings, {overrides.count('exception')} exceptions, "
               f"{overrides.count('disable')} disables, {replacements} replacements")


@rules_group.command("list")
@click.option("--jurisdiction", "-j", required=True, help="jurisdiction code, e.g. CN-GD-SZ")
@click.option("--as-of", help="date (YYYY-MM-DD) to show the rules in force on (default: today)")
@rules_option
@library_errors
def list_rules(jurisdiction: str, as_of: str | None, rules_dir: Path | None) -> None:
    """Show the effective rule set of a jurisdiction and where each rule comes from."""
    try:
        day = dt.date.fromisoformat(as_of) if as_of else dt.date.today()
    except ValueError:
        raise InputError(f"--as-of {as_of!r} is not a date like 2026-11-24") from None
    from engine.core import Engine
    from engine.render import rule_list_text

    engine = Engine(rules_dir=rules_dir)
    with engine:
        if jurisdiction not in engine.tree.compiled:
            raise InputError(f"no rule pack for {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}")
        click.echo(rule_list_text(engine.tree, jurisdiction, day))


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
@click.option("--jurisdiction", "-j", help="run only the tests of this jurisdiction's folder")
@click.option("-k", "pattern", metavar="PATTERN",
              help="run only the cases whose id (folder/tests/file.yaml::name) contains PATTERN")
@click.option("--coverage", "show_coverage", is_flag=True, help="list how often each rule fired and did not fire")
@click.option("--min-coverage", type=click.FloatRange(0, 100), metavar="PCT",
              help="fail when fewer than PCT % of the rules fired in some case")
@library_errors
def test(directory: Path | None, jurisdiction: str | None, pattern: str | None, show_coverage: bool,
         min_coverage: float | None) -> None:
    """Run the scenario tests in each jurisdiction's tests/ folder under DIRECTORY."""
    from engine.batch.scenarios import run_scenarios, run_text
    from engine.core import Engine, default_rules_dir

    with Engine(rules_dir=directory or default_rules_dir()) as engine:
        if jurisdiction is not None and jurisdiction not in engine.tree.jurisdictions:
            raise click.BadParameter(f"no rule pack {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}",
                                     param_hint="--jurisdiction")
        run = run_scenarios(engine, jurisdiction=jurisdiction, pattern=pattern)
    click.echo(run_text(run, show_coverage=show_coverage))
    if min_coverage is not None and run.coverage_percent < min_coverage:
        click.echo(f"coverage {run.coverage_percent:.1f} % is below the minimum {min_coverage:g} % "
                   f"(see --coverage)")
        sys.exit(1)
    if not run.ok:
        sys.exit(1)


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
@click.option("--strict", is_flag=True, help="fail on warnings too")
def lint(directory: Path | None, strict: bool) -> None:
    """Report what to fix or replace in the rule files under DIRECTORY, as file:line:col: code: message."""
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules.lint import lint_rules, lint_text

    report = lint_rules(directory or default_rules_dir(), flow_vocabulary())
    click.echo(lint_text(report))
    if report.errors or (strict and report.warnings):
        sys.exit(1)


@rules_group.command()
@click.argument("rule_id")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), help="date to explain the rule on (default: today)")
@rules_option
@library_errors
def explain(rule_id: str, as_of: dt.datetime | None, rules_dir: Path | None) -> None:
    """Show RULE_ID: its versions, citations, source, and whether it applies in each jurisdiction, and why."""
    from rules.explain import UnknownRuleError, explain_rule, explanation_text

    try:
        explanation = explain_rule(_tree(rules_dir), rule_id, as_of.date() if as_of else dt.date.today())
    except UnknownRuleError as error:
        raise click.BadParameter(str(error), param_hint="RULE_ID") from None
    click.echo(explanation_text(explanation))


@rules_group.command()
@click.argument("old_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("new_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@format_option("text", "json")
@library_errors
def diff(old_dir: Path, new_dir: Path, output_format: str) -> None:
    """List, per jurisdiction, the rules added, removed and changed from OLD_DIR to NEW_DIR, and parameter values."""
    from rules.diff import diff_json, diff_text, diff_trees

    diffs = diff_trees(_tree(old_dir), _tree(new_dir))
    if output_format == "json":
        click.echo(json.dumps(diff_json(diffs), indent=2, ensure_ascii=False))
    else:
        click.echo(diff_text(diffs))
