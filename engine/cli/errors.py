"""For every licit command, one place where library errors become one-line click errors (exit 1,
or 2 for bad input), where every error is printed in one form on stderr (``licit: error: …``),
where a closed standard output ends the command quietly, and where SIGTERM and SIGHUP let it
clean up as Ctrl-C does."""
from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys

import click

from audit.errors import AuditError, AuditInputError
from engine.errors import LicitError
from rules.errors import RuleSetError
from rules.wording import counted

__all__ = ["ERROR_PREFIX", "InputError", "LicitGroup", "STDOUT_CLOSED_EXIT", "library_errors", "report_error",
           "rule_set_failure", "stopping_unwinds"]

# What a shell reports for `cat` when the reader of its output has gone: killed by SIGPIPE, 128 + 13.
STDOUT_CLOSED_EXIT = 128 + signal.SIGPIPE


# The one form of every error licit prints, on stderr: the program's name first, as a pipeline of
# several programs needs (click's own "Error: …" does not say whose), then what to act on.
ERROR_PREFIX = "licit: error: "


def report_error(message: str) -> None:
    """Print one error on stderr in licit's form; further lines of ``message`` (located rule errors)
    follow as they are."""
    click.echo(ERROR_PREFIX + message, err=True)


class InputError(click.ClickException):
    """Bad input or usage that click's own checks do not catch: exit 2, as for click's usage errors."""
    exit_code = 2


def library_errors(command):
    """Run a command; a rule set that does not load, a log or engine failure: one clear error, no traceback.
    What was asked of the log was wrong (AuditInputError: a bad date, a malformed checkpoint): exit 2."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except RuleSetError as error:
            raise click.ClickException(rule_set_failure(error)) from None
        except AuditInputError as error:
            raise InputError(str(error)) from None
        except (AuditError, LicitError) as error:
            raise click.ClickException(str(error)) from None
    return wrapper


def rule_set_failure(error: RuleSetError) -> str:
    """A rule tree that does not load: how many errors, then each located on its own line."""
    return f"the rule set does not load ({counted(len(error.errors), 'error')}):\n{error}"


class LicitGroup(click.Group):
    """The `licit` command. A reader that stops early (`licit audit export | head -1`) is a normal
    end of a pipeline, not an error: licit then stops with exit 141, as `cat` does, and prints
    nothing more (click alone would exit 1, and an error handler would print "Broken pipe").
    A command stopped by SIGTERM or SIGHUP cleans up as on Ctrl-C (stopping_unwinds).
    Every error, click's usage errors too, is printed as ``licit: error: …`` (report_error)."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelp as error:  # `licit rules` alone: its help, which is no error
            error.show()
            sys.exit(error.exit_code)
        except click.ClickException as error:
            _show(error)
            sys.exit(error.exit_code)
        except click.Abort:  # Ctrl-C, or end of input at a prompt
            click.echo("\nlicit: aborted", err=True)
            sys.exit(1)
        # a command's result is None; click returns the code of an explicit exit (--help, --version)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            with stopping_unwinds():
                result = super().invoke(ctx)
            sys.stdout.flush()  # a reader gone is found here, not by Python's flush at exit
        except BrokenPipeError:
            # Python flushes standard output again at exit; what is left of it goes nowhere
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(STDOUT_CLOSED_EXIT) from None
        return result


# click 8.2 on: a group called with no command shows its help through this error
NoArgsIsHelp = getattr(click.exceptions, "NoArgsIsHelpError", ())


def _show(error: click.ClickException) -> None:
    report_error(error.format_message())
    context = getattr(error, "ctx", None)  # a usage error: how the command is called, and where its help is
    if context is not None:
        click.echo(f"{context.get_usage()}\nTry '{context.command_path} -h' for help.", err=True)


@contextlib.contextmanager
def stopping_unwinds():
    """Within the block, SIGTERM (kill, a service manager) and SIGHUP (the terminal closed) end licit
    as SIGINT does, by an exception, so the block's cleanup runs: by default they end the process at
    once, and a seed would leave its partial log behind, which blocks the retry, and an export its
    temporary file. The exit status is still the one a shell reports for that signal (128 + its
    number). Once unwinding, further stop requests are ignored: a second SIGTERM would otherwise
    interrupt the cleanup the first one began. Main thread only."""
    stops = (signal.SIGTERM, signal.SIGHUP)

    def unwind(signum, _frame):
        for stop in stops:
            signal.signal(stop, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous = {stop: signal.signal(stop, unwind) for stop in stops}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            signal.signal(stop, handler)
