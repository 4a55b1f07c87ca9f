"""How licit's commands show tables and progress, drawn by rich (docs/design.md, "Terminal output").

On a terminal a table has a ruled, bold header, and long work (seed, verify, export) shows a progress bar
with its rate and the time left, on stderr. Elsewhere (a pipe, a file, a test) output stays plain text that
scripts can rely on: a table is aligned columns under a line of dashes with no trailing spaces, and no bar
is drawn. rich is imported only when a table or bar is drawn: most commands never need it.
"""
from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Callable, Iterator, Sequence

import click

__all__ = ["print_table", "progress_bar"]


def print_table(header: Sequence[str], rows: Sequence[Sequence[object]], *, numeric: Sequence[int] = ()) -> None:
    """Print rows under their header on stdout; ``numeric`` columns (by index) are aligned right. A cell that
    is None is empty. Text is shown as it is (no markup: a rule id or message with brackets stays intact)."""
    from rich import box
    from rich.table import Table

    terminal = sys.stdout.isatty()
    table = Table(box=box.SIMPLE_HEAD if terminal else _plain_box(), show_edge=False, pad_edge=False,
                  header_style="bold" if terminal else None, padding=(0, 1, 0, 0))
    for index, title in enumerate(header):
        table.add_column(title, justify="right" if terminal and index in numeric else "left", no_wrap=not terminal)
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    if terminal:
        _console(sys.stdout).print(table)
        return
    text = io.StringIO()
    _console(text, width=1_000_000).print(table)
    click.echo("\n".join(line.rstrip() for line in text.getvalue().splitlines()))


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

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    with Progress(*columns, console=_console(sys.stderr), transient=True) as bar:
        task = bar.add_task(description, total=None, rate="")

        def advance(done: int, total: int) -> None:
            speed = bar.tasks[0].speed
            bar.update(task, completed=done, total=total, rate=f"{speed:,.0f}/s" if speed else "")
        yield advance


def _console(file, width: int | None = None):
    from rich.console import Console

    return Console(file=file, width=width, markup=False, emoji=False, highlight=False,
                   color_system=None if width else "auto")


def _plain_box():
    """No lines but dashes under the header: a table as plain text."""
    from rich.box import Box

    return Box("    \n    \n -  \n    \n    \n    \n    \n    \n", ascii=True)
