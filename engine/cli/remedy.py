"""``licit remedy``: the cheapest changes that make a denied or referred flow allowed, checked by the engine."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine.cli.errors import InputError, library_errors, report_error
from engine.cli.options import format_option, rules_option
from engine.errors import FlowValidationError
from rules.wording import printable

__all__ = ["remedy", "timeout_option"]


def _max_option(command):
    return click.option("--max", "max_remedies", type=click.IntRange(1, 20), default=3, show_default=True,
                        help="at most this many remedies, each changing other fields")(command)


def timeout_option(what: str):
    return click.option("--timeout", "timeout_ms", type=click.IntRange(1, 600_000), default=2000,
                        show_default=True, metavar="MS",
                        help=f"solver time {what}, in milliseconds; past it the answer is unknown")


def _invalid_flow(source: str, error: FlowValidationError) -> InputError:
    for detail in error.errors:
        report_error(f"invalid flow: {printable(source)}: {detail}")
    return InputError(f"{printable(source)} is not a valid flow")


@click.command()
@click.argument("flow")
@rules_option
@_max_option
@timeout_option("per flow")
@format_option("text", "json")
@library_errors
def remedy(flow: str, rules_dir: Path | None, max_remedies: int, timeout_ms: int, output_format: str) -> None:
    """Find the cheapest changes that make FLOW.json (or - for stdin) allowed, or conditional if allow is out of
    reach, each as a JSON Patch the engine has checked; decided at the flow's requested_at, not logged."""
    from engine.core import Engine
    from engine.solver.report import remedies_text

    from engine.inputs import flow_document

    text = flow_document(flow, sys.stdin.buffer)  # read no further than a flow may be
    if isinstance(text, FlowValidationError):
        raise _invalid_flow(flow, text)
    if isinstance(text, Exception):
        raise InputError(f"cannot read {printable(flow)}: {getattr(text, 'strerror', None) or text}")
    with Engine(rules_dir=rules_dir, max_request_age=None) as engine:  # a file is decided at its own date
        try:
            found = engine.remedies(text, max_remedies=max_remedies, timeout_ms=timeout_ms)
        except FlowValidationError as error:
            raise _invalid_flow(flow, error) from None
    if output_format == "json":
        click.echo(json.dumps(found.to_json(), indent=2, ensure_ascii=False))
    else:
        click.echo(remedies_text(found))
