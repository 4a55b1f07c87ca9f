"""The bodies of `licit audit replay --all` and `licit rules impact`: call the library with a progress bar
on a terminal, and print what it found as text, JSON or CSV. Both stream from the log: replay prints each
decision that is not identical as soon as its span is done, so output and memory do not wait for the end."""
from __future__ import annotations

import json
import os
import sys

import click

from audit import AuditInputError
from audit.spans import Selection
from engine.batch_reports import impact_csv, impact_text, replay_item_text, replay_summary_text
from engine.cliprogress import Progress

__all__ = ["impact_command", "replay_all_command"]


def _selection(since: str | None, until: str | None, jurisdiction: str | None) -> Selection:
    """The filters, a malformed --since or --until refused (exit 2) before anything is printed."""
    from engine.cli import InputError

    selection = Selection(since, until, jurisdiction)
    try:
        selection.bounds()
    except AuditInputError as error:
        raise InputError(str(error)) from None
    return selection


def _selection_json(selection: Selection) -> dict:
    return {"since": selection.since, "until": selection.until, "jurisdiction": selection.jurisdiction}


def replay_all_command(db: str | os.PathLike, since: str | None, until: str | None, jurisdiction: str | None,
                       workers: int | None, output_format: str) -> int:
    """Replay every decision the filters match; returns the exit code (0 only if every one is identical)."""
    from engine.replay import replay_log

    selection = _selection(since, until, jurisdiction)
    as_json = output_format == "json"
    with Progress("replay") as progress:
        if as_json:
            head = {"log": os.fspath(db), "selection": _selection_json(selection)}
            click.echo(json.dumps(head, ensure_ascii=False)[:-1] + ', "not_identical": [', nl=False)
        first = True

        def show(item) -> None:
            nonlocal first
            if as_json:
                click.echo(("\n" if first else ",\n") + json.dumps(item.to_json(), ensure_ascii=False), nl=False)
            else:
                progress.echo(replay_item_text(item))
            first = False

        summary = replay_log(db, selection, workers=workers, on_item=show, on_start=progress.start,
                             progress=progress.advance)
    ok = summary.all_identical and summary.replayed > 0
    if as_json:
        click.echo(("\n" if not first else "") + '], "summary": ' + json.dumps(
            {**summary.to_json(), "all_identical": ok}, ensure_ascii=False) + "}")
    elif summary.replayed == 0:
        click.echo("no logged decision matches: nothing was replayed")
    else:
        click.echo(replay_summary_text(summary))
    return 0 if ok else 1


def impact_command(db: str | os.PathLike, draft: str | os.PathLike, since: str | None, until: str | None,
                   jurisdiction: str | None, as_of, sample: int | None, workers: int | None,
                   output_format: str) -> None:
    """Print the impact of the draft on the logged decisions the filters match."""
    from engine.impact import draft_impact

    selection = _selection(since, until, jurisdiction)
    with Progress("impact") as progress:
        report = draft_impact(db, draft, selection, as_of=as_of, sample=sample, workers=workers,
                              on_start=progress.start, progress=progress.advance)
    if output_format == "json":
        context = {"draft": os.fspath(draft), "log": os.fspath(db), "selection": _selection_json(selection),
                   "as_of": as_of.isoformat() if as_of is not None else None, "sample": sample}
        click.echo(json.dumps({**context, **report.to_json()}, indent=2, ensure_ascii=False))
    elif output_format == "csv":
        impact_csv(report, sys.stdout)
    else:
        instant = f"all at {as_of.isoformat()}" if as_of is not None else "each at its logged instant"
        click.echo(f"impact of the draft {os.fspath(draft)} on {os.fspath(db)} ({instant})")
        click.echo(impact_text(report))
