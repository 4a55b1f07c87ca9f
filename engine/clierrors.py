"""One place where library errors become one-line click errors (exit 1), for every licit command."""
from __future__ import annotations

import functools

import click

from audit.errors import AuditError
from engine.errors import LicitError
from rules.errors import RuleSetError

__all__ = ["library_errors"]


def library_errors(command):
    """Run a command; a rule set that does not load, a log or engine failure: one clear error, no traceback."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RuleSetError as error:
            raise click.ClickException(f"the rule set does not load ({len(error.errors)} errors):\n{error}") from None
        except (AuditError, LicitError) as error:
            raise click.ClickException(str(error)) from None
    return wrapper
