"""Writing a new log in bulk (`licit audit seed`): large transactions, and nothing left behind on failure."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from audit.errors import AuditInputError
from audit.outputs import log_files
from audit.records import Item
from audit.redaction import resolve_key

if TYPE_CHECKING:
    from audit.log import DecisionLog

BATCH = 10_000  # decisions per transaction: one fsync per batch, bounded memory
MIN_DAYS = 0.001  # the shortest: 86.4 s, so that flows fit in it with their latency (engine.batch.traffic)
MAX_DAYS = 36_525  # the longest span a seed spreads its decisions over: a century (the rules in force bound it further)
MAX_COUNT = 10_000_000  # the most decisions a seed writes: ten times the benchmark log (4.4 GB per million)


@contextlib.contextmanager
def new_log(path: str | os.PathLike, *, key: bytes | None = None) -> Iterator[DecisionLog]:
    """A new log at `path` to import into. Refuses an existing file, checks the key
    before it creates anything, and if the import fails (or is interrupted) removes
    every file it created: a partial log would block the retry."""
    from audit.log import DecisionLog  # here: `licit audit` reads this module's limits at start

    if os.path.lexists(path):
        raise AuditInputError(f"{path} already exists: seed writes a new log only")
    own_files = log_files(path)
    existed = {file for file in own_files if os.path.lexists(file)}
    try:
        key = resolve_key(path, key, create=True)
        with DecisionLog(path, key=key) as log:
            yield log
    except BaseException:
        _remove(file for file in own_files if file not in existed)
        raise


class BatchSink:
    """The engine's DecisionSink for a bulk import into a new log: decisions are held and
    written `size` at a time by record_many, one transaction and one fsync per batch.
    A decision is on disk only once its batch is written (at the latest by close), so
    this sink is only for a log that is removed whole if the import fails (new_log)."""

    def __init__(self, log: DecisionLog, *, size: int = BATCH, progress: Callable[[int], None] | None = None):
        self.log, self.size, self.progress = log, size, progress
        self.head = 0  # the last seq written
        self.written = 0
        self._pending: list[Item] = []

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> None:
        self._pending.append((decision, flow, ruleset, duration_s))
        if len(self._pending) >= self.size:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        self.head = self.log.record_many(self._pending)
        self.written += len(self._pending)
        self._pending = []
        if self.progress:
            self.progress(self.written)

    def close(self) -> None:
        """Write what is held; the log itself is closed by whoever opened it."""
        self.flush()


def _remove(paths) -> None:
    for path in paths:
        with contextlib.suppress(OSError):  # the error that made the seed fail matters more
            if Path(path).is_dir() and not Path(path).is_symlink():
                shutil.rmtree(path)
            else:
                os.unlink(path)
