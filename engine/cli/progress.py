"""A progress bar for long licit commands: on standard error, with the rate and the time left, and only
when standard error is a terminal (a pipe, a file or a CI log gets none). Drawn by tqdm, a maintained
library that does exactly this."""
from __future__ import annotations

import sys
from typing import Any

import click

__all__ = ["Progress"]


class Progress:
    """`start(total)`, then `advance(n)` as work is done; `echo(line)` prints to standard output without
    tearing the bar; use as a context manager, which removes the bar at the end."""

    def __init__(self, what: str):
        self.what = what
        self._bar: Any = None

    def start(self, total: int) -> None:
        if not sys.stderr.isatty():
            return
        from tqdm import tqdm  # only for a terminal: it costs an import otherwise

        self._bar = tqdm(total=total, desc=self.what, unit=" decisions", unit_scale=True, file=sys.stderr,
                         dynamic_ncols=True, leave=False, smoothing=0.1)

    def advance(self, count: int) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def echo(self, line: str) -> None:
        if self._bar is None:
            click.echo(line)
            return
        with self._bar.external_write_mode():
            click.echo(line)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()
