"""``licit rules``: check, inspect, test, lint, explain, compare and analyze rule packs; start a new one.

Exit codes as for every licit command: 1 when the rules, tests or lint fail, diff finds a difference, or
analyze --equivalent does not prove the trees equivalent; 2 for bad usage or input.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click

from engine.cli.errors import InputError, library_errors, rule_set_failure
from engine.cli.options import (db_option, format_option, lang_option, matcher_option, rules_option, time_filters,
                                when_option, workers_option)
from engine.cli.output import print_table, progress_bar
from engine.cli.remedy import timeout_option
from engine.matching import BATCH_MATCHER
from rules.wording import counted

__all__ = ["rules_group"]

_DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _tree(directory: Path | None):
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules import load_rules

    return load_rules(directory or default_rules_dir(), flow_vocabulary())


@click.group("rules")
def rules_group() -> None:
    """Check, test, inspect and compare rule packs; start a new jurisdiction."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
@library_errors
def validate(directory: Path | None) -> None:
    """Load every rule file under DIRECTORY; print every error as file:line:col: code: message."""
    from engine.core import default_rules_dir

    directory = directory or default_rules_dir()
    tree = _tree(directory)
    jurisdictions = tree.jurisdictions.values()
    rule_count = sum(len(jurisdiction.rules) for jurisdiction in jurisdictions)
    overrides = [override.kind for jurisdiction in jurisdictions for override in jurisdiction.overrides]
    replacements = sum(1 for jurisdiction in jurisdictions for rule in jurisdiction.rules if rule.replaces)
    parameters = sum(len(jurisdiction.parameter_values) for jurisdiction in jurisdictions)
    codes = ", ".join(sorted(tree.jurisdictions))
    counts = [counted(rule_count, "rule"), counted(parameters, "parameter setting"),
              counted(overrides.count("exception"), "exception"), counted(overrides.count("disable"), "disable"),
              counted(replacements, "replacement")]
    click.echo(f"{directory}: OK — {counted(len(tree.jurisdictions), 'jurisdiction')} ({codes}), {', '.join(counts)}")


@rules_group.command("list")
@click.option("--jurisdiction", "-j", required=True, help="jurisdiction code, e.g. CN-GD-SZ")
@when_option("--as-of", help="show the rules in force on this local day, or at this instant [default: now]")
@rules_option
@library_errors
def list_rules(jurisdiction: str, as_of: dt.date | dt.datetime | None, rules_dir: Path | None) -> None:
    """Show the effective rule set of a jurisdiction and where each rule comes from."""
    from engine.core import Engine
    from engine.render import RULE_LIST_HEADER, rule_list

    engine = Engine(rules_dir=rules_dir)
    with engine:
        if jurisdiction not in engine.tree.compiled:
            raise InputError(f"no rule pack for {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}")
        day = engine.tree.compiled[jurisdiction].day_of(as_of or _now())
        title, rows, notes = rule_list(engine.tree, jurisdiction, day)
    click.echo(title)
    print_table(RULE_LIST_HEADER, rows)
    if notes:
        click.echo("\n" + "\n".join(notes))


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
@click.option("--jurisdiction", "-j", help="run only the tests of this jurisdiction's folder")
@click.option("-k", "pattern", metavar="PATTERN",
              help="run only the cases whose id (folder/tests/file.yaml::name) contains PATTERN")
@click.option("--coverage", "show_coverage", is_flag=True, help="list how often each rule fired and did not fire")
@click.option("--min-coverage", type=click.FloatRange(0, 100), metavar="PCT",
              help="fail when fewer than PCT % of the rules fired in some case")
@format_option("text", "junit", "json", help="output format: text, JUnit XML or JSON, for CI")
@matcher_option
@library_errors
def test(directory: Path | None, jurisdiction: str | None, pattern: str | None, show_coverage: bool,
         min_coverage: float | None, output_format: str, matcher: str | None) -> None:
    """Run the scenario tests in each jurisdiction's tests/ folder under DIRECTORY."""
    from engine.batch.reports import run_json, run_junit
    from engine.batch.scenarios import COVERAGE_HEADER, coverage_rows, coverage_summary, run_scenarios, run_text
    from engine.core import Engine, default_rules_dir

    with Engine(rules_dir=directory or default_rules_dir(), max_request_age=None,
                matcher=matcher) as engine:  # cases have dates
        if jurisdiction is not None and jurisdiction not in engine.tree.jurisdictions:
            raise click.BadParameter(f"no rule pack {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}",
                                     param_hint="--jurisdiction")
        run = run_scenarios(engine, jurisdiction=jurisdiction, pattern=pattern)
    if output_format == "junit":
        click.echo(run_junit(run))
    elif output_format == "json":
        _echo_json(run_json(run))
    else:
        click.echo(run_text(run))
        if show_coverage:
            click.echo("\ncoverage (cases where each rule fired / was evaluated and did not fire):")
            print_table(COVERAGE_HEADER, coverage_rows(run), numeric=[2, 3])
            click.echo(coverage_summary(run))
    if min_coverage is not None and run.coverage_percent < min_coverage:
        raise click.ClickException(f"coverage {run.coverage_percent:.1f} % is below the minimum {min_coverage:g} %"
                                   " (see --coverage)")
    if not run.ok:
        sys.exit(1)


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
@click.option("--strict", is_flag=True, help="fail on warnings too")
@format_option("text", "sarif", "json", help="output format: text, SARIF 2.1.0 (code review tools) or JSON")
def lint(directory: Path | None, strict: bool, output_format: str) -> None:
    """Report what to fix or replace in the rule files under DIRECTORY, as file:line:col: code: message."""
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules.lint import lint_rules, lint_text
    from rules.lint_reports import lint_json, lint_sarif

    report = lint_rules(directory or default_rules_dir(), flow_vocabulary())
    if output_format == "text":
        click.echo(lint_text(report))
    else:
        _echo_json(lint_sarif(report) if output_format == "sarif" else lint_json(report))
    if report.errors or (strict and report.warnings):
        sys.exit(1)


@rules_group.command()
@click.argument("rule_id")
@when_option("--as-of", help="explain the rule on this day, or at this instant (its day where the rule is "
                             "defined) [default: now]")
@rules_option
@lang_option
@library_errors
def explain(rule_id: str, as_of: dt.date | dt.datetime | None, rules_dir: Path | None,
            languages: tuple[str, ...]) -> None:
    """Show RULE_ID: its versions, citations, source, and whether it applies in each jurisdiction, and why."""
    from rules.explain import UnknownRuleError, explain_rule, explanation_text

    try:
        explanation = explain_rule(_tree(rules_dir), rule_id, as_of or _now())
    except UnknownRuleError as error:
        raise click.BadParameter(str(error), param_hint="RULE_ID") from None
    click.echo(explanation_text(explanation, languages))


@rules_group.command()
@click.argument("old_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("new_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@format_option("text", "json")
@library_errors
def diff(old_dir: Path, new_dir: Path, output_format: str) -> None:
    """List, per jurisdiction, the rules added, removed and changed from OLD_DIR to NEW_DIR, and parameter values.
    Exit 0 when the trees do not differ, 1 when they do, 2 when one does not load, as diff(1) does."""
    from rules import RuleSetError
    from rules.diff import diff_json, diff_text, diff_trees

    try:
        old, new = _tree(old_dir), _tree(new_dir)
    except RuleSetError as error:  # trouble, not a difference: scripts must tell the two apart
        raise InputError(rule_set_failure(error)) from None
    diffs = diff_trees(old, new)
    if output_format == "json":
        _echo_json(diff_json(diffs))
    else:
        click.echo(diff_text(diffs))
    if diffs:
        sys.exit(1)


@rules_group.command()
@click.argument("code")
@click.argument("directory", required=False, type=_DIRECTORY)
@library_errors
def new(code: str, directory: Path | None) -> None:
    """Start jurisdiction CODE: a folder under DIRECTORY with a rule file and a scenario test file to edit,
    which pass validate and test as written. DIRECTORY: $LICIT_RULES, else ./jurisdictions."""
    from rules.scaffold import ScaffoldError, new_jurisdiction

    root = directory or Path(os.environ.get("LICIT_RULES") or "jurisdictions")
    try:
        written = new_jurisdiction(root, code, dt.date.today())
    except ScaffoldError as error:
        raise InputError(str(error)) from None
    click.echo("\n".join(f"wrote {path}" for path in written))
    click.echo(f"next: edit them, then `licit rules validate {root}` and `licit rules test {root} -j {code}`")


@rules_group.command()
@click.argument("directory", required=False, type=_DIRECTORY)
@click.option("--equivalent", nargs=2, type=click.Path(exists=True, file_okay=False, path_type=Path),
              metavar="OLD NEW", help="instead, prove that two rule trees decide every valid flow alike")
@click.option("--jurisdiction", "-j", "codes", multiple=True, help="only this jurisdiction (repeatable)")
@timeout_option("per question")
@format_option("text", "json")
@library_errors
def analyze(directory: Path | None, equivalent: tuple[Path, Path] | None, codes: tuple[str, ...], timeout_ms: int,
            output_format: str) -> None:
    """Prove, per jurisdiction and span of dates, which rules of DIRECTORY never fire, fire on every valid flow,
    or fire only where a stronger rule does; with --equivalent OLD NEW, whether two trees decide alike
    (exit 1 if not proven, 2 if one does not load)."""
    from engine.core import Engine, default_rules_dir
    from rules import RuleSetError

    if equivalent and directory is not None:
        raise click.UsageError("give DIRECTORY, or --equivalent OLD NEW, not both")
    if equivalent:
        from engine.solver.equivalence import compare_trees
        from engine.solver.report import equivalence_text

        try:
            old, new = Engine(rules_dir=equivalent[0]), Engine(rules_dir=equivalent[1])
        except RuleSetError as error:  # trouble, not a difference: scripts must tell the two apart
            raise InputError(rule_set_failure(error)) from None
        with old, new:
            results = compare_trees(old, new, list(codes) or None, timeout_ms=timeout_ms)
        _print(results, equivalence_text, output_format)
        if any(result.equivalent is not True for result in results):
            sys.exit(1)
        return
    from engine.solver.analysis import analyze as analyze_tree
    from engine.solver.report import analysis_text

    with Engine(rules_dir=directory or default_rules_dir()) as engine:
        unknown = sorted(set(codes) - set(engine.jurisdictions))
        if unknown:
            raise click.BadParameter(f"no rule pack {unknown[0]!r}; known: {', '.join(engine.jurisdictions)}",
                                     param_hint="--jurisdiction")
        results = analyze_tree(engine, list(codes) or None, timeout_ms=timeout_ms)
    _print(results, analysis_text, output_format)


def _print(results: list, as_text, output_format: str) -> None:
    if output_format == "json":
        _echo_json([result.to_json() for result in results])
    else:
        click.echo(as_text(results))


@rules_group.command()
@click.option("--draft", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="the draft rule tree")
@db_option()
@time_filters
@click.option("--jurisdiction", "-j", metavar="CODE", help="only decisions for this jurisdiction")
@when_option("--as-of", help="decide every flow at this date (noon, local time) or instant, a proposed effective "
                             "date (default: each at the instant it was decided)")
@click.option("--sample", type=click.IntRange(1), help="decide only N of the matching decisions, spread over the log")
@workers_option
@format_option("text", "json", "csv")
@matcher_option(default=f"{BATCH_MATCHER} (the faster)")
@library_errors
def impact(draft: Path, db: Path | None, since: dt.date | None, until: dt.date | None, jurisdiction: str | None,
           as_of: dt.date | None, sample: int | None, workers: int | None, output_format: str,
           matcher: str | None) -> None:
    """Decide the logged flows under the DRAFT rule tree and show what would change: outcome transitions with
    example decision ids, rules that start or stop firing per jurisdiction, flows the draft cannot decide.
    A draft that does not load is refused with its errors. Nothing is written to the log."""
    from audit import default_db_path
    from audit.spans import Selection
    from engine.batch.impact import draft_impact
    from engine.batch.replay_reports import impact_csv, impact_text

    db, selection = db or default_db_path(), Selection(since, until, jurisdiction)
    with progress_bar("impact") as progress:
        report = draft_impact(db, draft, selection, as_of=as_of, sample=sample, workers=workers, progress=progress,
                              matcher=matcher)
    if output_format == "json":
        context = {"draft": str(draft), "log": str(db), "selection": selection.to_json(),
                   "as_of": as_of.isoformat() if as_of is not None else None, "sample": sample}
        click.echo(json.dumps({**context, **report.to_json()}, indent=2, ensure_ascii=False))
    elif output_format == "csv":
        impact_csv(report, sys.stdout)
    else:
        when = f"all at {as_of.isoformat()}" if as_of is not None else "each at its logged instant"
        click.echo(f"impact of the draft {draft} on {db} ({when})\n{impact_text(report)}")
