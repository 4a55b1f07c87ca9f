"""Options several licit commands share, so that each reads and documents them one way."""
from __future__ import annotations

from pathlib import Path

import click

__all__ = ["db_option", "format_option", "rules_option"]


def rules_option(command):
    return click.option("--rules", "rules_dir", type=click.Path(file_okay=False, path_type=Path),
                        help="rule tree (default: $LICIT_RULES, ./jurisdictions, or the shipped packs)")(command)


def format_option(*choices: str):
    """``--format`` with ``choices``, the first the default; the command's parameter is ``output_format``."""
    return click.option("--format", "output_format", type=click.Choice(choices), default=choices[0],
                        show_default=True, help="output format")


def db_option(what: str = "the decision log"):
    """``--db PATH``: the log a command reads (or, for seed, writes); the default is audit.default_db_path()."""
    return click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help=f"{what} (default: $LICIT_AUDIT_DB, else ./licit-audit.db)")
