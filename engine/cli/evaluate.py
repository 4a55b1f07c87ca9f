"""``licit evaluate``: decide flows from files or JSON lines on stdin, print and log each decision; with
``--fail-on``, exit 3 when a decision is at or above an outcome, so that scripts and CI can gate on it."""
from __future__ import annotations

import json
import os
import sys

import click

from audit.records import OUTCOMES
from engine.cli.errors import InputError, library_errors, report_error
from engine.cli.options import format_option, lang_option, matcher_option, rules_option, when_option
from engine.errors import FlowValidationError, LicitError
from rules.wording import printable

__all__ = ["FAIL_ON_EXIT", "evaluate"]

FAIL_ON_EXIT = 3  # a decision at or above --fail-on: not an error of licit's, a verdict to gate on
_SEVERITY = tuple(reversed(OUTCOMES))  # allow < conditional < review < deny, as engine.decision.outcome_of ranks


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
@lang_option
@when_option("--as-of", help="decide under the rules in force at this instant, or on this local day, "
                             "instead of requested_at")
@click.option("--fail-on", type=click.Choice(_SEVERITY[1:]), metavar="conditional|review|deny",
              help=f"exit {FAIL_ON_EXIT} if any decision's outcome is this or stronger "
                   "(deny > review > conditional > allow)")
@click.option("--remedies", "with_remedies", is_flag=True,
              help="with each flow denied or referred, the cheapest changes that make it pass (licit remedy)")
@matcher_option
@library_errors
def evaluate(flows, rules_dir, audit_db, no_audit, checkpoint_dir, output_format, languages, as_of, fail_on,
             with_remedies, matcher) -> None:
    """Decide each FLOW.json (or - for JSON lines on stdin) and print its decision."""
    if no_audit and audit_db is not None:
        raise click.UsageError("--audit-db and --no-audit exclude each other: log to PATH, or do not log")
    if no_audit and checkpoint_dir is not None:
        raise click.UsageError("--checkpoint-dir and --no-audit exclude each other: checkpoints are of the log")
    if checkpoint_dir is not None:  # the log's writer takes its checkpoint policy from there
        from audit.checkpoints import DIR_ENV

        os.environ[DIR_ENV] = checkpoint_dir
    from audit import AuditInputError, default_db_path
    from engine.core import Engine
    from engine.inputs import flow_documents

    # a person deciding files decides each at its own requested_at (or --as-of): no request-age check
    engine = Engine(rules_dir=rules_dir, audit_db=None if no_audit else (audit_db or default_db_path()),
                    max_request_age=None, matcher=matcher)
    invalid, strongest = 0, 0
    with engine:
        for source, text in flow_documents(flows, sys.stdin.buffer):
            where = printable(source)
            try:
                if isinstance(text, Exception):
                    raise text
                decision = engine.evaluate(text, as_of=as_of)
            except FlowValidationError as error:
                invalid += 1
                for detail in error.errors:
                    report_error(f"invalid flow: {where}: {detail}")
                continue
            except AuditInputError as error:  # the log refused what the flow holds: bad input, as above
                invalid += 1
                report_error(f"invalid flow: {where}: {printable(str(error))}")
                continue
            except (OSError, UnicodeDecodeError) as error:
                invalid += 1
                report_error(f"cannot read {where}: {getattr(error, 'strerror', None) or error}")
                continue
            except LicitError as error:
                raise click.ClickException(f"{where}: {error}") from None
            strongest = max(strongest, _SEVERITY.index(decision.outcome))
            found = engine.remedies(text, as_of=as_of) if with_remedies else None
            click.echo(_render(decision, found, output_format, languages, single=len(flows) == 1 and flows[0] != "-"))
    if invalid:
        sys.exit(InputError.exit_code)
    if fail_on is not None and strongest >= _SEVERITY.index(fail_on):
        sys.exit(FAIL_ON_EXIT)


def _render(decision, remedies, output_format: str, languages: tuple[str, ...], single: bool) -> str:
    """The decision; with remedies, JSON gains a key "remedies" (and "remedies_unknown" when the search
    stopped short), text a section."""
    from engine.render import decision_text

    if output_format == "text":
        if remedies is None:
            return decision_text(decision, languages) + "\n"
        from engine.solver.report import remedies_text

        return f"{decision_text(decision, languages)}\n\nRemedies — {remedies_text(remedies)}\n"
    if remedies is None:
        return decision.model_dump_json(indent=2 if single else None)
    document = decision.model_dump(mode="json") | {"remedies": remedies.to_json()["remedies"]}
    if remedies.unknown:
        document["remedies_unknown"] = remedies.unknown
    return json.dumps(document, indent=2 if single else None, ensure_ascii=False)
