"""The command reference (docs/commands.md), made from the click definitions so that it cannot
drift from them: ``python -m engine.cli.reference > docs/commands.md``. A test compares the two."""
from __future__ import annotations

import inspect
from collections.abc import Iterator

import click

__all__ = ["CONVENTIONS", "REGENERATE", "reference"]

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


CONVENTIONS = """\
## Conventions

Every command keeps these, so that people, scripts and CI can rely on them.

- **Results on stdout, errors on stderr, in one form.** Each error is a line `licit: error: …`; a
  usage error adds how the command is called and where its help is, and a rule tree that does not
  load adds its errors, one `file:line:col: code: message` per line. Counts agree with their number:
  `1 error`, `2 errors`.
- **Exit codes.** `0` done; `1` the rules, the log or an evaluation failed, or a check found what it
  checks for (a failing test, lint errors, a broken log, a replay that differs, `rules diff` finding a
  difference); `2` bad input or usage; `3` `evaluate --fail-on` met a decision at or above its
  outcome. Every case is in [guarantees.md](guarantees.md#exit-codes).
- **Terminals and scripts.** On a terminal, tables have a ruled header and long work (`audit seed`,
  `verify`, `export`) shows a progress bar with its rate and the time left, on stderr. Anywhere else
  (a pipe, a file, CI) a table is plain text, columns under a line of dashes with no trailing
  spaces and no colour, and no bar is drawn. Scripts should prefer `--format json` (or `csv`,
  `jsonl`, `junit`, `sarif`) where a command has it.
- **Languages.** Rule messages are written in Chinese and English; text output shows both, and
  `--lang zh` or `--lang en` shows one (`evaluate --format text`, `audit show`, `rules explain`).

### Dates

Every date option (`--as-of`, `--since`, `--until`) reads the same two forms, with one parser (the
one that reads the flow's `requested_at`):

| form | example | means |
|---|---|---|
| a date | `2026-11-24` | a whole day: for rules (`evaluate`, `rules list`, `rules explain`) the \
day in the jurisdiction's local time, which its noon stands for; for the log (`audit query`, \
`audit stats`) the UTC day |
| an RFC 3339 timestamp with offset | `2026-11-24T10:15:00+08:00`, `2026-11-24T02:15:00.5Z` | that \
instant (seconds required, a fraction allowed) |

Anything else is refused with exit 2: a timestamp without seconds or offset, `20261124`, week dates,
Unix times, words such as `today`. Without the option, rules are those in force now (`rules list`,
`rules explain`) or at the flow's `requested_at` (`evaluate`), and the log is not filtered.

### Shell completion

click completes commands, options and their choices in bash, zsh and fish; enable it once per shell
(see [getting-started.md](getting-started.md#shell-completion)):

| shell | add to | line |
|---|---|---|
| bash | `~/.bashrc` | `eval "$(_LICIT_COMPLETE=bash_source licit)"` |
| zsh | `~/.zshrc` | `eval "$(_LICIT_COMPLETE=zsh_source licit)"` |
| fish | `~/.config/fish/completions/licit.fish` | the output of `_LICIT_COMPLETE=fish_source licit` |
"""


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
    lines += CONVENTIONS.splitlines() + [""]
    for path, context in _commands(cli, ("licit",)):
        lines += _section(path, context)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    click.echo(reference(), nl=False)
