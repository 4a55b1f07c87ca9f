"""Rule-authoring commands of ``licit rules``: test, lint, explain, diff.

``engine.cli`` mounts them with ``register(rules)``. Exit codes as for every licit
command: 1 when tests, lint or the rules fail; 2 for bad usage or input.
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click

from engine.clierrors import library_errors


__all__ = ["register"]

_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def register(group: click.Group) -> None:
    """Add the authoring commands to a click group (``licit rules``)."""
    for command in (test, lint, explain, diff, impact):
        group.add_command(command)


def _tree(directory: Path | None):
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules import load_rules

    return load_rules(directory or default_rules_dir(), flow_vocabulary())


@click.command()
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
    from engine.core import Engine, default_rules_dir
    from engine.scenarios import run_scenarios, run_text

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


@click.command()
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


@click.command()
@click.argument("rule_id")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), help="date to explain the rule on (default: today)")
@click.option("--rules", "rules_dir", type=_DIRECTORY,
              help="rule tree (default: $LICIT_RULES, ./jurisdictions, or the shipped packs)")
@library_errors
def explain(rule_id: str, as_of: dt.datetime | None, rules_dir: Path | None) -> None:
    """Show RULE_ID: its versions, citations, source, and whether it applies in each jurisdiction, and why."""
    from rules.explain import UnknownRuleError, explain_rule, explanation_text

    try:
        explanation = explain_rule(_tree(rules_dir), rule_id, as_of.date() if as_of else dt.date.today())
    except UnknownRuleError as error:
        raise click.BadParameter(str(error), param_hint="RULE_ID") from None
    click.echo(explanation_text(explanation))


@click.command()
@click.argument("old_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("new_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@library_errors
def diff(old_dir: Path, new_dir: Path, output_format: str) -> None:
    """List, per jurisdiction, the rules added, removed and changed from OLD_DIR to NEW_DIR, and parameter values."""
    from rules.diff import diff_json, diff_text, diff_trees

    diffs = diff_trees(_tree(old_dir), _tree(new_dir))
    if output_format == "json":
        click.echo(json.dumps(diff_json(diffs), indent=2, ensure_ascii=False))
    else:
        click.echo(diff_text(diffs))


def _as_of(value: str | None) -> dt.date | dt.datetime | None:
    from engine.timestamps import DATE_EXAMPLE, TIMESTAMP_EXAMPLE, parse_date, parse_timestamp

    if value is None:
        return None
    try:
        return parse_date(value) if len(value) == 10 else parse_timestamp(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither a date like {DATE_EXAMPLE} nor a timestamp like "
                                 f"{TIMESTAMP_EXAMPLE}", param_hint="--as-of") from None


@click.command()
@click.option("--draft", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="the draft rule tree")
@click.option("--db", type=click.Path(dir_okay=False), default=None,
              help="the decision log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
@click.option("--since", help="only decisions from this date (YYYY-MM-DD, UTC) or RFC 3339 timestamp")
@click.option("--until", help="only decisions up to this date (whole UTC day) or RFC 3339 timestamp")
@click.option("--jurisdiction", "-j", metavar="CODE", help="only decisions for this jurisdiction")
@click.option("--as-of", help="decide every flow at this date (noon, local time) or timestamp: a proposed "
                              "effective date (default: each at the instant it was decided)")
@click.option("--sample", type=click.IntRange(1), help="decide only N of the matching decisions, spread over the log")
@click.option("--workers", type=click.IntRange(1, 256), default=None, help="worker processes (default: one per core)")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "csv"]), default="text",
              show_default=True)
@library_errors
def impact(draft: Path, db: str | None, since: str | None, until: str | None, jurisdiction: str | None,
           as_of: str | None, sample: int | None, workers: int | None, output_format: str) -> None:
    """Decide the logged flows under the DRAFT rule tree and show what would change: outcome transitions with
    example decision ids, rules that start or stop firing per jurisdiction, flows the draft cannot decide.
    Nothing is written to the log."""
    from audit import default_db_path
    from engine.batch_cli import impact_command

    impact_command(db or default_db_path(), draft, since, until, jurisdiction, _as_of(as_of), sample, workers,
                   output_format)
