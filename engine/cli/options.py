"""Options several licit commands share, so that each reads and documents them one way."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from rules.timestamps import parse_when
from rules.wording import LANGUAGES

__all__ = ["WHEN", "db_option", "format_option", "lang_option", "matcher_option", "rules_option", "time_filters",
           "when_option", "workers_option"]

def rules_option(command):
    return click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
                        help="rule tree (default: $LICIT_RULES, ./jurisdictions, or the shipped packs)")(command)


_MATCHER_DEFAULT = "durable where durable_rules imports, else python"


def matcher_option(command=None, *, default: str = _MATCHER_DEFAULT):
    """``--matcher durable|python``: which matcher decides (engine/matching.py); the parameter is ``matcher``.
    ``default`` says what decides without the option or $LICIT_MATCHER (as ``@matcher_option(default=...)``)."""
    option = click.option("--matcher", type=click.Choice(["durable", "python"]), default=None,
                          help=f"rule matcher (default: $LICIT_MATCHER, else {default})")
    return option if command is None else option(command)


def format_option(*choices: str, help: str = "output format"):
    """``--format`` with ``choices``, the first the default; the command's parameter is ``output_format``."""
    return click.option("--format", "output_format", type=click.Choice(choices), default=choices[0],
                        show_default=True, help=help)


def db_option(what: str = "the decision log"):
    """``--db PATH``: the log a command reads (or, for seed, writes); the default is audit.default_db_path()."""
    return click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=f"{what} (default: $LICIT_AUDIT_DB, else ./licit-audit.db)")


def lang_option(command):
    """``--lang zh|en``: the language of rule messages in text output; the parameter ``languages`` is a tuple,
    both languages (rules.wording.LANGUAGES) unless one is asked for."""
    return click.option("--lang", "languages", type=click.Choice(LANGUAGES), default=None,
                        callback=lambda _ctx, _param, value: (value,) if value else LANGUAGES,
                        help="language of rule messages in text output [default: both]")(command)


class _When(click.ParamType):
    """A date (YYYY-MM-DD: a whole day) or an RFC 3339 timestamp with offset (an instant), read by the one
    parser of every date licit takes (rules.timestamps.parse_when); the value is a date or a datetime."""

    name = "DATE|TIMESTAMP"

    def convert(self, value, param, ctx) -> dt.date | dt.datetime:
        if isinstance(value, dt.date):
            return value
        try:
            return parse_when(value)
        except ValueError as error:
            self.fail(f"{value!r} {error}", param, ctx)


WHEN = _When()


def when_option(*names: str, help: str):
    """A date option (``--as-of``, ``--since``, ``--until``): the forms docs/commands.md, "Dates", lists."""
    return click.option(*names, type=WHEN, metavar="DATE|TIMESTAMP", help=help)


def time_filters(command):
    """``--since`` and ``--until``: decisions made from and up to a UTC day or instant, both inclusive."""
    command = when_option("--until", help="up to this UTC day or instant, inclusive")(command)
    return when_option("--since", help="from this UTC day or instant, inclusive")(command)


def workers_option(command):
    """``--workers N``: the processes that share work over a log (default: one per core)."""
    return click.option("--workers", type=click.IntRange(1, 256), default=None,
                        help="worker processes (default: one per core)")(command)

