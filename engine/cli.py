"""The ``licit`` command. Commands stay thin: parse options, call one library function, render.

Each command imports what it uses when it runs: ``licit audit query`` must not pay
for loading the rule language and durable_rules.

Exit codes: 0 done; 1 the rules, the log or an evaluation failed (``evaluate`` stops there:
the flows before it were decided, printed and logged); 2 bad input or usage; 141 the reader of
standard output stopped early (`| head`), which is no error; 143 / 129 stopped by SIGTERM / SIGHUP,
after cleaning up (engine/clierrors.py).
Input and output are UTF-8 whatever the locale (see main).
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Iterator

import click

from engine.cli_authoring import register as register_authoring
from engine.clierrors import LicitGroup, library_errors
from engine.errors import FlowValidationError, LicitError
from engine.timestamps import parse_timestamp

__all__ = ["main", "cli"]


class InputError(click.ClickException):
    exit_code = 2


def rules_option(command):
    return click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
                        help="rule tree (default: $LICIT_RULES, ./jurisdictions, or the shipped packs)")(command)


def workers_option(command):
    return click.option("--workers", type=click.IntRange(1, 256), default=None,
                        help="worker processes (default: one per core)")(command)


def format_option(*choices: str):
    return click.option("--format", "output_format", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="output format")


def _instant(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise InputError(f"{option} {value!r}: {error}") from None


@click.group(cls=LicitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="licit", prog_name="licit")
def cli() -> None:
    """Licit: decide insurance enrollment flows against jurisdiction rule packs, and audit the decisions."""


def _inputs(paths: tuple[str, ...]) -> Iterator[tuple[str, str | Exception]]:
    for path in paths:
        if path == "-":
            # bytes, decoded as UTF-8 like the files: the locale's encoding would garble 中文 flow ids
            for number, line in enumerate(sys.stdin.buffer, start=1):
                if line.strip():
                    try:
                        yield f"<stdin>:{number}", line.decode("utf-8")
                    except UnicodeDecodeError as error:
                        yield f"<stdin>:{number}", error
            continue
        try:
            yield path, Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            yield path, error


@cli.command()
@click.argument("flows", nargs=-1, required=True)
@rules_option
@click.option("--audit-db", type=click.Path(dir_okay=False),
              help="decision log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
@click.option("--no-audit", is_flag=True, help="do not log decisions")
@format_option("json", "text")
@click.option("--as-of", help="decide under the rules in force at this instant instead of requested_at")
@library_errors
def evaluate(flows, rules_dir, audit_db, no_audit, output_format, as_of) -> None:
    """Decide each FLOW.json (or - for JSON lines on stdin) and print its decision."""
    if no_audit and audit_db is not None:
        raise click.UsageError("--audit-db and --no-audit exclude each other: log to PATH, or do not log")
    instant = _instant(as_of, "--as-of")
    from audit import default_db_path
    from engine.core import Engine

    engine = Engine(rules_dir=rules_dir, audit_db=None if no_audit else (audit_db or default_db_path()))
    invalid = 0
    with engine:
        for source, text in _inputs(flows):
            if isinstance(text, Exception):
                invalid += 1
                click.echo(f"licit: cannot read {source}: {getattr(text, 'strerror', None) or text}", err=True)
                continue
            try:
                decision = engine.evaluate(text, as_of=instant)
            except FlowValidationError as error:
                invalid += 1
                for detail in error.errors:
                    click.echo(f"licit: invalid flow: {source}: {detail}", err=True)
                continue
            except LicitError as error:
                raise click.ClickException(f"{source}: {error}") from None
            click.echo(_render(decision, output_format, single=len(flows) == 1 and flows[0] != "-"))
    if invalid:
        sys.exit(InputError.exit_code)


def _render(decision, output_format: str, single: bool) -> str:
    from engine.render import decision_text

    if output_format == "text":
        return decision_text(decision) + "\n"
    return decision.model_dump_json(indent=2 if single else None)


@cli.command()
@click.argument("what", type=click.Choice(["flow", "decision", "rules", "tests"]))
def schema(what: str) -> None:
    """Print the JSON Schema of the flow (input), the decision (output), a rule file or a scenario test file."""
    from engine.decision import Decision
    from engine.flow import Flow
    from rules.scenariofile import scenario_json_schema
    from rules.schema import RuleFile

    flow_schema = Flow.model_json_schema(by_alias=True)
    schemas = {"flow": lambda: flow_schema, "decision": lambda: Decision.model_json_schema(by_alias=True),
               "rules": lambda: RuleFile.model_json_schema(by_alias=True),
               "tests": lambda: scenario_json_schema(flow_schema)}
    click.echo(json.dumps(schemas[what](), indent=2, ensure_ascii=False))


@cli.group()
def rules() -> None:
    """Check and inspect rule packs."""


@rules.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def validate(directory: Path | None) -> None:
    """Load every rule file under DIRECTORY; print every error as file:line:col: code: message."""
    from engine.core import default_rules_dir
    from engine.facts import flow_vocabulary
    from rules import RuleSetError, load_rules

    directory = directory or default_rules_dir()
    try:
        tree = load_rules(directory, flow_vocabulary())
    except RuleSetError as error:
        click.echo(str(error))
        raise click.ClickException(f"{len(error.errors)} errors in {directory}") from None
    jurisdictions = tree.jurisdictions.values()
    rule_count = sum(len(jurisdiction.rules) for jurisdiction in jurisdictions)
    overrides = [override.kind for jurisdiction in jurisdictions for override in jurisdiction.overrides]
    replacements = sum(1 for jurisdiction in jurisdictions for rule in jurisdiction.rules if rule.replaces)
    parameters = sum(len(jurisdiction.parameter_values) for jurisdiction in jurisdictions)
    click.echo(f"{directory}: OK — {len(tree.jurisdictions)} jurisdictions ({', '.join(sorted(tree.jurisdictions))}), "
               f"{rule_count} rules, {parameters} parameter settings, {overrides.count('exception')} exceptions, "
               f"{overrides.count('disable')} disables, {replacements} replacements")


@rules.command("list")
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


register_authoring(rules)


@cli.command()
@click.option("--jurisdiction", "-j", default="CN-GD-SZ", show_default=True)
@click.option("--n", "count", type=click.IntRange(100, 10_000_000), default=20_000, show_default=True,
              help="evaluations to time")
@click.option("--audit", "with_audit", is_flag=True,
              help="also measure decisions/s with the log on, bare durable commits, and 4 writer processes")
@click.option("--audit-dir", type=click.Path(file_okay=False, exists=True), default=".", show_default=True,
              help="where the --audit measurements write their temporary logs (the disk being measured)")
@rules_option
@library_errors
def bench(jurisdiction: str, count: int, with_audit: bool, audit_dir: str, rules_dir: Path | None) -> None:
    """Measure Engine.evaluate: evaluations per second, latency percentiles, where the time goes."""
    import tempfile

    from engine.bench import run_audit_bench, run_bench
    from engine.core import Engine

    engine = Engine(rules_dir=rules_dir)
    with engine:
        if jurisdiction not in engine.tree.compiled:
            raise InputError(f"no rule pack for {jurisdiction!r}; known: {', '.join(engine.jurisdictions)}")
        click.echo(run_bench(engine, jurisdiction, count))
        if with_audit:
            with tempfile.TemporaryDirectory(dir=audit_dir) as directory:
                click.echo(run_audit_bench(engine, jurisdiction, count, directory))


def _replay_command() -> click.Command:
    from audit import default_db_path
    from audit.cli import _time_filters

    @click.command("replay")
    @click.argument("decision_id", required=False)
    @click.option("--all", "replay_all", is_flag=True, help="replay every logged decision the filters match")
    @click.option("--db", type=click.Path(dir_okay=False), default=None,
                  help="the log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
    @_time_filters
    @click.option("--jurisdiction", "-j", metavar="CODE", help="with --all: only decisions for this jurisdiction")
    @workers_option
    @format_option("text", "json")
    @library_errors
    def replay(decision_id: str | None, replay_all: bool, db: str | None, since: str | None, until: str | None,
               jurisdiction: str | None, workers: int | None, output_format: str) -> None:
        """Re-decide logged decisions under exactly the rule files they were made with, at the instants they
        were made: DECISION_ID, or --all that the filters match. Exit 1 unless every one is identical."""
        if replay_all == (decision_id is not None):
            raise click.UsageError("give a DECISION_ID or --all, not both")
        if not replay_all and (since or until or jurisdiction or workers):
            raise click.UsageError("--since, --until, --jurisdiction and --workers go with --all")
        if replay_all:
            from engine.batch_cli import replay_all_command

            sys.exit(replay_all_command(db or default_db_path(), since, until, jurisdiction, workers, output_format))
        from engine.replay import replay_decision

        result = replay_decision(db or default_db_path(), decision_id)
        click.echo(json.dumps(result, indent=2, ensure_ascii=False) if output_format == "json" else
                   f"{decision_id}: logged {result['logged']['outcome']} {result['logged']['rule_ids']}, "
                   f"replayed {result['replayed']['outcome']} {result['replayed']['rule_ids']} under "
                   f"{result['ruleset_digest']} — {'identical' if result['identical'] else 'DIFFERENT'}")
        if not result["identical"]:
            sys.exit(1)
    return replay


def _to_scenario_command() -> click.Command:
    from audit import default_db_path

    @click.command("to-scenario")
    @click.argument("decision_id")
    @click.option("--db", type=click.Path(dir_okay=False), default=None,
                  help="the log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
    @click.option("--name", help="the case's name (default: 'logged decision ID (FLOW_ID)')")
    @library_errors
    def to_scenario(decision_id: str, db: str | None, name: str | None) -> None:
        """Print a scenario-test case (the format of `licit rules test`) made of a logged decision's redacted flow
        and the decision it got, to pin a real case before a rule changes."""
        from engine.logged_scenario import scenario_from_decision

        click.echo(scenario_from_decision(db or default_db_path(), decision_id, name=name), nl=False)
    return to_scenario


def _seed_command() -> click.Command:
    from audit import AuditInputError, default_db_path
    from audit.seed import MAX_COUNT, MAX_DAYS, MIN_DAYS

    @click.command("seed")
    @click.option("--db", type=click.Path(dir_okay=False), default=None,
                  help="the new log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
    @click.option("--n", "count", required=True, type=click.IntRange(1, MAX_COUNT), help="how many decisions")
    @click.option("--days", type=click.FloatRange(min=MIN_DAYS, max=MAX_DAYS), default=365.0, show_default=True,
                  help="spread them over this many days up to now")
    @click.option("--seed", "random_seed", type=int, help="random seed, for the same flows and decisions again")
    @rules_option
    @library_errors
    def seed(db: str | None, count: int, days: float, random_seed: int | None, rules_dir: Path | None) -> None:
        """Write a new log of N decisions the engine makes about synthetic flows (for trials and benchmarks)."""
        from engine.seed import seed_log

        path = db or default_db_path()
        try:
            head = seed_log(path, count, rules_dir=rules_dir, days=days, seed=random_seed,
                            progress=lambda written: click.echo(f"{written} decisions", err=True))
        except AuditInputError as error:
            raise InputError(str(error)) from None
        click.echo(f"seeded {path} with {count} decision(s) about synthetic flows, head seq {head}")
    return seed


def _mount_audit() -> None:
    from audit.cli import audit_group

    audit_group.add_command(_replay_command())
    audit_group.add_command(_to_scenario_command())
    audit_group.add_command(_seed_command())
    cli.add_command(audit_group, "audit")


_mount_audit()


def main() -> None:
    # Decisions are UTF-8 JSON and text (中文 messages, flow ids); a C or Latin-1 locale must not
    # make printing one crash. Lone surrogates come out escaped rather than as an error.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    cli(prog_name="licit")


if __name__ == "__main__":
    main()
