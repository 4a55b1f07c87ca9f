"""The command reference (docs/commands.md), made from the click definitions so that it cannot
drift from them: ``python -m engine.cli.reference > docs/commands.md``. A test compares the two."""
from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

__all__ = ["REGENERATE", "reference"]

REGENERATE = "python -m engine.cli.reference > docs/commands.md"


def _commands(command: click.Command, path: tuple[str, ...],
              parent: click.Context | None = None) -> Iterator[tuple[tuple[str, ...], click.Context]]:
    """Each command with its context, a child of its group's (which carries settings such as -h)."""
    context = click.Context(command, info_name=path[-1], parent=parent, **command.context_settings)
    yield path, context
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _commands(command.commands[name], (*path, name), context)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _section(path: tuple[str, ...], context: click.Context) -> list[str]:
    command = context.command
    lines = [f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`", "",
             f"```\n{' '.join(path)} {' '.join(command.collect_usage_pieces(context))}\n```", "",
             inspect.cleandoc(command.help or ""), ""]
    arguments = [param for param in command.params if isinstance(param, click.Argument)]
    if arguments:
        lines += ["| argument | |", "|---|---|"]
        lines += [f"| `{' '.join(param.get_usage_pieces(context))}` | {'required' if param.required else 'optional'}"
                  f"{', one or more' if param.nargs == -1 else ''} |" for param in arguments]
        lines.append("")
    # -h/--help, the same everywhere, is said once at the top (click caches it per command, with the
    # names of the first context it was made in)
    help_option = command.get_help_option(context)
    options = [record for param in command.get_params(context) if isinstance(param, click.Option)
               and param is not help_option and (record := param.get_help_record(context))]
    if options:
        lines += ["| option | |", "|---|---|"]
        lines += [f"| `{_cell(names)}` | {_cell(help_text)} |" for names, help_text in options]
        lines.append("")
    if isinstance(command, click.Group):
        lines += ["| command | |", "|---|---|"]
        lines += [f"| [`{' '.join(path)} {name}`](#{_anchor((*path, name))}) | "
                  f"{_cell(sub.get_short_help_str(limit=200))} |" for name, sub in sorted(command.commands.items())]
        lines.append("")
    return lines


def _anchor(path: tuple[str, ...]) -> str:
    return "-".join(path)  # GitHub's anchor of a heading `licit rules test` is licit-rules-test


def reference() -> str:
    """docs/commands.md: every command and group of ``licit``, with its arguments and options."""
    from engine.cli import cli

    lines = ["# Command reference", "",
             "Every `licit` command with its arguments and options, as `licit COMMAND --help` prints them. "
             "Exit codes, and what each command refuses, are in [guarantees.md](guarantees.md); "
             "the other pages of docs/ show the commands at work. Every command also takes `-h` or `--help`.", "",
             f"This page is generated from the click definitions in `engine/cli/`: after changing a command, "
             f"regenerate it with `{REGENERATE}` (a test fails while it is stale).", ""]
    for path, context in _commands(cli, ("licit",)):
        lines += _section(path, context)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    click.echo(reference(), nl=False)
