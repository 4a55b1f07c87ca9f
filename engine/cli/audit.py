"""``licit audit``: the auditor's commands on the decision log, and the two that run the engine on it
(replay, seed). Each parses options, calls one library function and renders the result."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from audit.errors import AuditError
from audit.schema import default_db_path
from audit.queries import SUMMARY_COLUMNS, decision_stats, export_file, export_log, find_decisions, get_decision
from audit.records import OUTCOMES
from audit.seed import MAX_COUNT, MAX_DAYS, MIN_DAYS
from engine.cli.errors import library_errors
from engine.cli.options import db_option, format_option, rules_option

__all__ = ["audit_group"]


def _time_filters(command):
    command = click.option("--until", help="Up to this date (whole UTC day) or RFC 3339 timestamp, inclusive.")(command)
    return click.option("--since", help="From this date (YYYY-MM-DD, UTC) or RFC 3339 timestamp, inclusive.")(command)


@click.group("audit")
def audit_group():
    """Query, verify, checkpoint and replay the tamper-evident decision log; seed a demo log."""


@audit_group.command()
@db_option()
@_time_filters
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
    elif output_format == "csv":
        writer = csv.DictWriter(sys.stdout, SUMMARY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    else:
        click.echo(_table(SUMMARY_COLUMNS, [[row[c] for c in SUMMARY_COLUMNS] for row in rows]))
        click.echo(f"{len(rows)} decision(s)")


@audit_group.command()
@db_option()
@click.argument("decision_id")
@format_option("text", "json")
@library_errors
def show(db, decision_id, output_format):
    """Show one decision in full, with its citations and whether its chain link verifies."""
    record = get_decision(db or default_db_path(), decision_id)
    click.echo(json.dumps(record, ensure_ascii=False, indent=2) if output_format == "json" else _render_record(record))


@audit_group.command()
@db_option()
@_time_filters
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="How many rules to list.")
@format_option("table", "json")
@library_errors
def stats(db, since, until, top, output_format):
    """Counts by outcome, jurisdiction and day; the rules that fire most and their deny share."""
    result = decision_stats(db or default_db_path(), since=since, until=until, top=top)
    if output_format == "json":
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"decisions: {result['decisions']}\n")
    for title, counts in (
        ("outcome", result["by_outcome"]),
        ("jurisdiction", result["by_jurisdiction"]),
        ("day (UTC)", result["by_day"]),
    ):
        click.echo(_table([title, "decisions"], list(counts.items())) + "\n")
    rules = [[r["rule_id"], r["firings"], f"{r['deny_share']:.1%}"] for r in result["top_rules"]]
    click.echo(_table(["rule", "firings", "in denied decisions"], rules))


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
        records, rulesets = export_file(path, output, output_format, overwrite=force)
        with_rulesets = f" and {rulesets} rule set(s)" if output_format == "jsonl" else ""
        click.echo(f"exported {records} record(s){with_rulesets} to {output}", err=True)
        return
    try:
        export_log(path, sys.stdout, output_format)
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

    report = verify_log(db or default_db_path(), checkpoint, public_key)
    uncovered = ("meta not covered: the checkpoint predates meta digests"
                 if report.checkpoint_covers_meta is False else None)
    if report.ok:
        held = f"; holds checkpoint head seq {report.checkpoint_seq}" if checkpoint else ""
        signed = f", signed by {report.checkpoint_signed_by}" if report.checkpoint_signed_by else ""
        click.echo(
            f"intact: {report.records} record(s), head seq {report.head_seq} hash {report.head_hash}, "
            f"{len(report.ruleset_digests)} rule set(s){held}{signed}{f' ({uncovered})' if uncovered else ''}"
        )
        return
    first, *others = report.problems
    # where the chain itself broke, what precedes the break is sound; other problems sit beside a whole chain
    verified = (f"{report.intact} record(s) verified before it" if first.seq == report.intact + 1
                else f"the hash chain verified {report.intact} of {report.records} record(s)")
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
@click.argument("decision_id")
@db_option()
@format_option("text", "json")
@library_errors
def replay(decision_id: str, db: Path | None, output_format: str) -> None:
    """Re-decide a logged decision under exactly the rule files it was made with; exit 1 if it differs."""
    from engine.batch.replay import replay_decision

    result = replay_decision(db or default_db_path(), decision_id)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False) if output_format == "json" else
               f"{decision_id}: logged {result['logged']['outcome']} {result['logged']['rule_ids']}, "
               f"replayed {result['replayed']['outcome']} {result['replayed']['rule_ids']} under "
               f"{result['ruleset_digest']} — {'identical' if result['identical'] else 'DIFFERENT'}")
    if not result["identical"]:
        sys.exit(1)


@audit_group.command()
@db_option("the new log")
@click.option("--n", "count", required=True, type=click.IntRange(1, MAX_COUNT), help="how many decisions")
@click.option("--days", type=click.FloatRange(min=MIN_DAYS, max=MAX_DAYS), default=365.0, show_default=True,
              help="spread them over this many days up to now")
@click.option("--seed", "random_seed", type=int, help="random seed, for the same flows and decisions again")
@rules_option
@library_errors
def seed(db: Path | None, count: int, days: float, random_seed: int | None, rules_dir: Path | None) -> None:
    """Write a new log of N decisions the engine makes about synthetic flows (for trials and benchmarks)."""
    from engine.batch.seed import seed_log

    path = db or default_db_path()
    head = seed_log(path, count, rules_dir=rules_dir, days=days, seed=random_seed,
                    progress=lambda written: click.echo(f"{written} decisions", err=True))
    click.echo(f"seeded {path} with {count} decision(s) about synthetic flows, head seq {head}")


def _first_line(file) -> str:
    """The id number in `file`, without the line end; at most one line is read (it may be a terminal)."""
    line = file.readline(4096).strip()
    if not line:
        raise click.BadParameter(f"{file.name} holds no id number on its first line", param_hint="--applicant-id-file")
    return line


def _table(header: list[str] | tuple[str, ...], rows: list) -> str:
    cells = [[str(c) for c in header]] + [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _render_record(record: dict) -> str:
    decision = record["decision"]
    link = "verified" if record["chain_link_verified"] else f"BROKEN: {record['chain_link_problem']}"
    lines = [
        f"decision      {record['decision_id']}",
        f"seq           {record['seq']} (chain link {link})",
        f"flow          {decision.get('flow_id')}",
        f"jurisdiction  {decision.get('jurisdiction')} (chain {' > '.join(decision.get('jurisdiction_chain', []))})",
        f"outcome       {decision.get('outcome')}",
        f"evaluated at  {record['evaluated_at']} (rules as of {decision.get('as_of')})",
        f"recorded at   {record['recorded_at']}, took {record['duration_s'] * 1000:.1f} ms",
        f"rule set      {record['ruleset_digest']}",
        f"engine        {decision.get('engine_version')}",
        f"hash          {record['hash']}",
        f"prev hash     {record['prev_hash']}",
        "",
        f"findings ({len(decision.get('findings', []))})",
    ]
    for number, finding in enumerate(decision.get("findings", []), 1):
        citation = finding.get("citation") or {}
        message = finding.get("message") or {}
        lines += [
            f"  {number}. {finding['rule_id']} [{finding['effect']}, {finding['jurisdiction']}] "
            f"{finding.get('title', '')}",
            *(f"     {lang}: {text}" for lang, text in message.items()),
            f"     cited: {citation.get('source', '')} {citation.get('article', '')} "
            f"({citation.get('status', 'unstated')})"
            + (f" {citation['url']}" if citation.get("url") else ""),
            f"     remedy: {finding.get('remedy', '')}",
        ]
    lines.append(f"obligations ({len(decision.get('obligations', []))})")
    lines += [f"  - {o['rule_id']}: {o['action']}" for o in decision.get("obligations", [])]
    return "\n".join(lines)
