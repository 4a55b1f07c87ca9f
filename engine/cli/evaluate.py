"""``licit evaluate``: decide flows from files or JSON lines on stdin, print and log each decision; with
``--fail-on``, exit 3 when a decision is at or above an outcome, so that scripts and CI can gate on it."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Iterator

import click

from audit.records import OUTCOMES
from engine.cli.errors import InputError, library_errors, report_error
from engine.cli.options import format_option, lang_option, rules_option, when_option
from engine.errors import FlowValidationError, LicitError

__all__ = ["FAIL_ON_EXIT", "evaluate"]

FAIL_ON_EXIT = 3  # a decision at or above --fail-on: not an error of licit's, a verdict to gate on
_SEVERITY = tuple(reversed(OUTCOMES))  # allow < conditional < review < deny, as engine.decision.outcome_of ranks


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
@format_option("json", "text")
@lang_option
@when_option("--as-of", help="decide under the rules in force at this instant, or on this local day, "
                             "instead of requested_at")
@click.option("--fail-on", type=click.Choice(_SEVERITY[1:]), metavar="conditional|review|deny",
              help=f"exit {FAIL_ON_EXIT} if any decision's outcome is this or stronger "
                   "(deny > review > conditional > allow)")
@library_errors
def evaluate(flows, rules_dir, audit_db, no_audit, output_format, languages, as_of, fail_on) -> None:
    """Decide each FLOW.json (or - for JSON lines on stdin) and print its decision."""
    if no_audit and audit_db is not None:
        raise click.UsageError("--audit-db and --no-audit exclude each other: log to PATH, or do not log")
    from audit import default_db_path
    from engine.core import Engine

    engine = Engine(rules_dir=rules_dir, audit_db=None if no_audit else (audit_db or default_db_path()))
    invalid, strongest = 0, 0
    with engine:
        for source, text in _inputs(flows):
            if isinstance(text, Exception):
                invalid += 1
                report_error(f"cannot read {source}: {getattr(text, 'strerror', None) or text}")
                continue
            try:
                decision = engine.evaluate(text, as_of=as_of)
            except FlowValidationError as error:
                invalid += 1
                for detail in error.errors:
                    report_error(f"invalid flow: {source}: {detail}")
                continue
            except LicitError as error:
                raise click.ClickException(f"{source}: {error}") from None
            strongest = max(strongest, _SEVERITY.index(decision.outcome))
            click.echo(_render(decision, output_format, languages, single=len(flows) == 1 and flows[0] != "-"))
    if invalid:
        sys.exit(InputError.exit_code)
    if fail_on is not None and strongest >= _SEVERITY.index(fail_on):
        sys.exit(FAIL_ON_EXIT)


def _render(decision, output_format: str, languages: tuple[str, ...], single: bool) -> str:
    from engine.render import decision_text

    if output_format == "text":
        return decision_text(decision, languages) + "\n"
    return decision.model_dump_json(indent=2 if single else None)
