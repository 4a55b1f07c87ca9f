"""``licit audit``: the auditor's commands on the decision log, and those that run the engine on it
(replay, to-scenario, seed). Each parses options, calls one library function and renders the result."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from audit.errors import AuditError
from audit.queries import (PERIODS, SUMMARY_COLUMNS, decision_stats, export_file, export_log, find_decisions,
                           get_decision)
from audit.records import OUTCOMES
from audit.schema import default_db_path
from audit.seed import MAX_COUNT, MAX_DAYS, MIN_DAYS
from engine.cli.errors import library_errors
from engine.cli.options import (db_option, format_option, lang_option, matcher_option, rules_option,
                                time_filters, workers_option)
from engine.cli.output import print_table, progress_bar
from engine.matching import BATCH_MATCHER
from rules.wording import counted

__all__ = ["audit_group"]


@click.group("audit")
def audit_group():
    """Query, verify, checkpoint and replay the tamper-evident decision log, pin a logged decision as a scenario
    test; seed a demo log."""


@audit_group.command()
@db_option()
@time_filters
@click.option("--outcome", type=click.Choice(OUTCOMES), help="Only decisions with this outcome.")
@click.option("--rule", metavar="RULE_ID", help="Only decisions in which this rule fired.")
@click.option("--jurisdiction", metavar="CODE", help="Only decisions for this jurisdiction (e.g. CN-GD-SZ).")
@click.option("--flow", "flow_id", metavar="FLOW_ID", help="Only decisions about this enrollment flow.")
@click.option(
    "--applicant-id",
    metavar="ID_NUMBER",
    help="Only decisions about the person with this id number (matched by its keyed hash); "
         "visible in `ps` and shell history: prefer --applicant-id-file.",
)
@click.option(
    "--applicant-id-file",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE|-",
    help="The same, the id number read from the first line of FILE, or of standard input for -.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=100,
    show_default=True,
    help="At most this many, newest first (0: all).",
)
@format_option("table", "json", "csv")
@library_errors
def query(db, since, until, outcome, rule, jurisdiction, flow_id, applicant_id, applicant_id_file, limit,
          output_format):
    """Find decisions; every filter given must match."""
    if applicant_id_file is not None:
        if applicant_id is not None:
            raise click.UsageError("give --applicant-id or --applicant-id-file, not both")
        applicant_id = _first_line(applicant_id_file)
    rows = find_decisions(
        db or default_db_path(), since=since, until=until, outcome=outcome, rule=rule,
        jurisdiction=jurisdiction, flow_id=flow_id, applicant_id=applicant_id, limit=limit,
    )  # fmt: skip
    if output_format == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    flat = [{**row, "rules": " ".join(row["rules"])} for row in rows]  # a cell of text: ids hold no space
    if output_format == "csv":
        writer = csv.DictWriter(sys.stdout, SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(flat)
    else:
        print_table(SUMMARY_COLUMNS, [[row[c] for c in SUMMARY_COLUMNS] for row in flat], numeric=[0])
        click.echo(counted(len(rows), "decision"))


@audit_group.command()
@db_option()
@click.argument("decision_id")
@format_option("text", "json")
@lang_option
@library_errors
def show(db, decision_id, output_format, languages):
    """Show one decision in full, with its citations and whether its chain link verifies."""
    from audit.render import record_text

    record = get_decision(db or default_db_path(), decision_id)
    click.echo(json.dumps(record, ensure_ascii=False, indent=2) if output_format == "json"
               else record_text(record, languages))


@audit_group.command()
@db_option()
@time_filters
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="How many rules to list.")
@click.option("--by", "period", type=click.Choice(PERIODS), default="day", show_default=True,
              help="count decisions by UTC day, ISO week (2026-W48) or month")
@format_option("table", "json")
@library_errors
def stats(db, since, until, top, period, output_format):
    """Counts by outcome, jurisdiction and day, week or month; the rules that fire most and their deny share."""
    result = decision_stats(db or default_db_path(), since=since, until=until, top=top, by=period)
    if output_format == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"decisions: {result['decisions']}\n")
    for title, counts in (
        ("outcome", result["by_outcome"]),
        ("jurisdiction", result["by_jurisdiction"]),
        (f"{period} (UTC)", result[f"by_{period}"]),
    ):
        print_table([title, "decisions"], list(counts.items()), numeric=[1])
        click.echo()
    rules = [[r["rule_id"], r["firings"], f"{r['deny_share']:.1%}"] for r in result["top_rules"]]
    print_table(["rule", "firings", "in denied decisions"], rules, numeric=[1, 2])


@audit_group.command()
@db_option()
@format_option("jsonl", "csv")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="File to write, whole or not at all [default: standard output].",
)
@click.option("--force", is_flag=True, help="Replace an existing --output file.")
@library_errors
def export(db, output_format, output, force):
    """Export every record in chain order (JSON lines: after every rule set)."""
    path = db or default_db_path()
    if output is not None and str(output) != "-":
        with progress_bar("exporting") as progress:
            records, rulesets = export_file(path, output, output_format, overwrite=force, progress=progress)
        with_rulesets = f" and {counted(rulesets, 'rule set')}" if output_format == "jsonl" else ""
        click.echo(f"exported {counted(records, 'record')}{with_rulesets} to {output}", err=True)
        return
    try:
        with progress_bar("exporting") as progress:
            export_log(path, sys.stdout, output_format, progress=progress)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader stopped early: licit ends quietly (engine/cli/errors.py)
    except OSError as error:
        raise AuditError(f"cannot write the export to standard output: {error.strerror}") from None


@audit_group.command()
@db_option()
@click.option(
    "--checkpoint",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also prove the log still holds this checkpoint's head (a regular file).",
)
@click.option(
    "--public-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also prove the checkpoint was signed with the private key of this public key, and not changed since.",
)
@library_errors
def verify(db, checkpoint, public_key):
    """Recompute the hash chain and check rows, rule sets and schema. Exit 0 only if intact."""
    from audit.verify import verify_log  # with its thread pool, only when verifying

    with progress_bar("verifying") as progress:
        report = verify_log(db or default_db_path(), checkpoint, public_key, progress=progress)
    uncovered = ("meta not covered: the checkpoint predates meta digests"
                 if report.checkpoint_covers_meta is False else None)
    if report.ok:
        held = f"; holds checkpoint head seq {report.checkpoint_seq}" if checkpoint else ""
        signed = f", signed by {report.checkpoint_signed_by}" if report.checkpoint_signed_by else ""
        click.echo(
            f"intact: {counted(report.records, 'record')}, head seq {report.head_seq} hash {report.head_hash}, "
            f"{counted(len(report.ruleset_digests), 'rule set')}{held}{signed}"
            f"{f' ({uncovered})' if uncovered else ''}"
        )
        return
    first, *others = report.problems
    # where the chain itself broke, what precedes the break is sound; other problems sit beside a whole chain
    verified = (f"{counted(report.intact, 'record')} verified before it" if first.seq == report.intact + 1
                else f"the hash chain verified {report.intact} of {counted(report.records, 'record')}")
    click.echo(f"BROKEN at {first} ({verified})")
    for problem in others:
        click.echo(f"also {problem}")
    if uncovered:
        click.echo(f"note: {uncovered}")
    raise SystemExit(1)


@audit_group.command()
@db_option()
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Checkpoint file to write (keep it away from the log).",
)
@click.option(
    "--sign-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Sign the checkpoint with this Ed25519 private key (PEM; see `licit audit keygen`).",
)
@library_errors
def checkpoint(db, output, sign_key):
    """Verify the log, then write its head (seq, hash, time, rule-set digests) to a file, signed if asked."""
    from audit.checkpoints import write_checkpoint

    head = write_checkpoint(db or default_db_path(), output, sign_key)
    signed = f", signed by {head['signature']['key_id']}" if "signature" in head else ""
    click.echo(f"checkpoint of head seq {head['seq']} hash {head['hash']} written to {output}{signed}")


@audit_group.command()
@click.option("--private", "private_key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Private key file to create (mode 0600; keep it off the host that writes the log).")
@click.option("--public", "public_key", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Public key file to create, for `verify --public-key`.")
@library_errors
def keygen(private_key, public_key):
    """Make an Ed25519 key pair for signing checkpoints; neither file may exist."""
    from audit.signing import generate_keys

    key_id = generate_keys(private_key, public_key)
    click.echo(f"key {key_id}: private key {private_key}, public key {public_key}")


@audit_group.command()
@click.argument("decision_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="replay every logged decision the filters match")
@db_option()
@time_filters
@click.option("--jurisdiction", "-j", metavar="CODE", help="with --all: only decisions for this jurisdiction")
@workers_option
@format_option("text", "json")
@matcher_option(default=f"{BATCH_MATCHER} (the faster)")
@library_errors
def replay(decision_id: str | None, replay_all: bool, db: Path | None, since: str | None, until: str | None,
           jurisdiction: str | None, workers: int | None, output_format: str, matcher: str | None) -> None:
    """Re-decide logged decisions under exactly the rule files they were made with, at the instants they were
    made: DECISION_ID, or with --all every one the filters match. Exit 1 unless every one is identical.
    Nothing is written to the log."""
    if replay_all == (decision_id is not None):
        raise click.UsageError("give a DECISION_ID or --all, not both")
    if not replay_all and (since or until or jurisdiction or workers):
        raise click.UsageError("--since, --until, --jurisdiction and --workers go with --all")
    if replay_all:
        from audit.spans import Selection

        sys.exit(_replay_all(db or default_db_path(), Selection(since, until, jurisdiction), workers,
                             output_format, matcher))
    from audit.render import replay_text
    from engine.batch.replay import replay_decision

    result = replay_decision(db or default_db_path(), decision_id, matcher=matcher)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if output_format == "json" else replay_text(result))
    if not result["identical"]:
        sys.exit(1)


def _replay_all(db: Path, selection, workers: int | None, output_format: str, matcher: str | None) -> int:
    """Each decision that is not identical is printed as soon as its span is done (text lines, or items of
    one JSON document), then the counts; returns the exit code: 0 only if every one is identical."""
    from engine.batch.replay import replay_log
    from engine.batch.replay_reports import replay_item_text, replay_summary_text

    as_json, shown = output_format == "json", 0

    def show(item) -> None:
        nonlocal shown
        if as_json:
            click.echo(("\n" if not shown else ",\n") + json.dumps(item.to_json(), ensure_ascii=False), nl=False)
        else:
            click.echo(replay_item_text(item))  # above the bar: rich's live display takes what stdout is sent
        shown += 1

    if as_json:
        head = json.dumps({"log": str(db), "selection": selection.to_json()}, ensure_ascii=False)
        click.echo(head[:-1] + ', "not_identical": [', nl=False)
    with progress_bar("replay") as progress:
        summary = replay_log(db, selection, workers=workers, on_item=show, progress=progress, matcher=matcher)
    ok = summary.all_identical and summary.replayed > 0
    if as_json:
        counts = json.dumps({**summary.to_json(), "all_identical": ok}, ensure_ascii=False)
        click.echo(("\n" if shown else "") + '], "summary": ' + counts + "}")
    else:
        click.echo(replay_summary_text(summary) if summary.replayed else
                   "no logged decision matches: nothing was replayed")
    return 0 if ok else 1


@audit_group.command("to-scenario")
@click.argument("decision_id")
@db_option()
@click.option("--name", help="the case's name (default: 'logged decision ID (FLOW_ID)')")
@library_errors
def to_scenario(decision_id: str, db: Path | None, name: str | None) -> None:
    """Print a scenario-test case (the format of `licit rules test`) made of a logged decision's redacted flow
    and the decision it got, to pin a real case before a rule changes."""
    from engine.batch.logged_scenario import scenario_from_decision

    click.echo(scenario_from_decision(db or default_db_path(), decision_id, name=name), nl=False)


@audit_group.command()
@db_option("the new log")
@click.option("--n", "count", required=True, type=click.IntRange(1, MAX_COUNT), help="how many decisions")
@click.option("--days", type=click.FloatRange(min=MIN_DAYS, max=MAX_DAYS), default=365.0, show_default=True,
              help="spread them over this many days up to now")
@click.option("--seed", "random_seed", type=int, help="random seed, for the same flows and decisions again")
@rules_option
@matcher_option
@library_errors
def seed(db: Path | None, count: int, days: float, random_seed: int | None, rules_dir: Path | None,
         matcher: str | None) -> None:
    """Write a new log of N decisions the engine makes about synthetic flows (for trials and benchmarks)."""
    from engine.batch.seed import seed_log

    path = db or default_db_path()
    with progress_bar("seeding") as progress:
        head = seed_log(path, count, rules_dir=rules_dir, days=days, seed=random_seed, progress=progress,
                        matcher=matcher)
    click.echo(f"seeded {path} with {counted(count, 'decision')} about synthetic flows, head seq {head}")


def _first_line(file) -> str:
    """The id number in `file`, without the line end; at most one line is read (it may be a terminal)."""
    try:
        line = file.readline(4096).strip()
    except UnicodeDecodeError:
        raise click.BadParameter(f"{file.name} is not UTF-8 text", param_hint="--applicant-id-file") from None
    if not line:
        raise click.BadParameter(f"{file.name} holds no id number on its first line", param_hint="--applicant-id-file")
    return line
