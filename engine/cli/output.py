"""How licit's commands show tables and progress (docs/design.md, "Terminal output").

On a terminal rich draws them: a table with a ruled, bold header, sized to the window; for long work
(seed, verify, export, replay --all, rules impact) a progress bar with its rate and the time left, on stderr. Elsewhere (a pipe, a
file, CI) output stays plain text that scripts can rely on: a table is its columns aligned under a line
of dashes, two spaces apart, with no trailing spaces and no colour, and no bar is drawn. That plain table
is not drawn by rich: rich takes about 0.4 ms a row (40 ms for `audit query`'s 100, minutes for a whole
log), where aligning text takes microseconds; and without rich a command that is piped does not import it.
"""
from __future__ import annotations

import contextlib
import sys
import unicodedata
from collections.abc import Callable, Iterator, Sequence

import click

from rules.wording import printable

__all__ = ["print_table", "progress_bar"]


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, numeric: Sequence[int] = ()) -> None:
    """Print rows under their header on stdout; on a terminal, ``numeric`` columns (by index) are aligned
    right. A cell that is None is empty. Text is shown as it is (no markup: a rule id or message with
    brackets stays intact), with its control characters escaped: a newline in a logged flow id would forge
    a row, an escape sequence drive the terminal."""
    cells = [[str(title) for title in header]] + [["" if cell is None else printable(str(cell)) for cell in row]
                                                  for row in rows]
    if sys.stdout.isatty():
        _terminal_table(cells, numeric)
        return
    widths = [max(_width(row[column]) for row in cells) for column in range(len(header))]
    cells.insert(1, ["-" * width for width in widths])
    for row in cells:
        click.echo("  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(row, widths)).rstrip())


def _width(text: str) -> int:
    """Columns a terminal gives the text: two for each wide (CJK) character."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _terminal_table(cells: list[list[str]], numeric: Sequence[int]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="bold")
    for index, title in enumerate(cells[0]):
        table.add_column(title, justify="right" if index in numeric else "left")
    for row in cells[1:]:
        table.add_row(*row)
    _console(sys.stdout).print(table)


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None] | None]:
    """For long work, a callback taking (count done so far, count in all), which a library calls as it
    goes: on a terminal it draws a bar with the rate and the time left on stderr, removed when the work
    ends. When stderr is not a terminal the callback is None, so that the library pays nothing for it."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
               TimeElapsedColumn(), TextColumn("elapsed,"), TimeRemainingColumn(), TextColumn("left"))
    with Progress(*columns, console=_console(sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=None, rate="")

        def advance(done: int, total: int) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=done, total=total, rate=f"{speed:,.0f}/s" if speed else "")
        yield advance


def _console(file):
    from rich.console import Console

    return Console(file=file, markup=False, emoji=False, highlight=False)
