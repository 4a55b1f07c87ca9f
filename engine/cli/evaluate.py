"""``licit evaluate``: decide flows from files or JSON lines on stdin, print and log each decision."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Iterator

import click

from engine.cli.errors import InputError, library_errors
from engine.cli.options import format_option, rules_option
from engine.errors import FlowValidationError, LicitError
from engine.timestamps import parse_timestamp

__all__ = ["evaluate"]


def _instant(value: str | None, option: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as error:
        raise InputError(f"{option} {value!r}: {error}") from None


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


@click.command()
@click.argument("flows", nargs=-1, required=True)
@rules_option
@click.option("--audit-db", type=click.Path(dir_okay=False),
              help="decision log (default: $LICIT_AUDIT_DB or ./licit-audit.db)")
@click.option("--no-audit", is_flag=True, help="do not log decisions")
@click.option("--checkpoint-dir", type=click.Path(file_okay=False),
              help="the log's writer writes checkpoints into this directory every N records or T seconds "
                   "(default: $LICIT_AUDIT_CHECKPOINT_DIR, else none; N, T and a signing key from "
                   "$LICIT_AUDIT_CHECKPOINT_EVERY, _SECONDS and _SIGN_KEY)")
@format_option("json", "text")
@click.option("--as-of", help="decide under the rules in force at this instant instead of requested_at")
@library_errors
def evaluate(flows, rules_dir, audit_db, no_audit, checkpoint_dir, output_format, as_of) -> None:
    """Decide each FLOW.json (or - for JSON lines on stdin) and print its decision."""
    if no_audit and audit_db is not None:
        raise click.UsageError("--audit-db and --no-audit exclude each other: log to PATH, or do not log")
    if no_audit and checkpoint_dir is not None:
        raise click.UsageError("--checkpoint-dir and --no-audit exclude each other: checkpoints are of the log")
    instant = _instant(as_of, "--as-of")
    from audit import CheckpointPolicy, DecisionLog, default_db_path
    from engine.core import Engine

    sink = None if no_audit else DecisionLog(audit_db or default_db_path(),
                                             checkpoints=CheckpointPolicy.from_environment(checkpoint_dir))
    try:
        engine = Engine(rules_dir=rules_dir, sink=sink)
    except BaseException:
        if sink is not None:
            sink.close()
        raise
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
