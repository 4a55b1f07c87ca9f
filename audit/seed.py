"""A synthetic log of N decisions with a valid chain, written in large transactions."""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from audit.errors import AuditInputError
from audit.log import DecisionLog
from audit.outputs import log_files
from audit.redaction import resolve_key
from audit.synthetic import synthetic_decisions

BATCH = 10_000  # decisions per transaction: one fsync per batch, bounded memory
MAX_DAYS = 36_525  # a century
MAX_COUNT = 10_000_000  # ten times the benchmark log (4.4 GB per million); the generator holds n/4 people


def seed_log(
    path: str | os.PathLike,
    count: int,
    *,
    key: bytes | None = None,
    seed: int | None = None,
    days: float = 365.0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write a new log of `count` synthetic decisions spread over `days` days up to
    now; returns the head seq. Refuses an existing file, checks the key before it
    creates anything, and if it fails removes every file it created."""
    if not (isinstance(days, (int, float)) and math.isfinite(days) and 0 < days <= MAX_DAYS):
        raise AuditInputError(f"days must be a number above 0 and at most {MAX_DAYS}, got {days!r}")
    if not (type(count) is int and 1 <= count <= MAX_COUNT):
        raise AuditInputError(f"count must be a whole number from 1 to {MAX_COUNT}, got {count!r}")
    if os.path.lexists(path):
        raise AuditInputError(f"{path} already exists: seed writes a new log only")
    own_files = log_files(path)
    existed = {file for file in own_files if os.path.lexists(file)}
    try:
        key = resolve_key(path, key, create=True)
        decisions = synthetic_decisions(count, days=days, seed=seed)
        head = 0
        with DecisionLog(path, key=key) as log:
            written = 0
            while batch := list(itertools.islice(decisions, BATCH)):
                head = log.record_many(batch)
                written += len(batch)
                if progress:
                    progress(written)
        return head
    except BaseException:  # an interrupted seed too: a partial log would block the retry
        _remove(file for file in own_files if file not in existed)
        raise


def _remove(paths) -> None:
    for path in paths:
        with contextlib.suppress(OSError):  # the error that made the seed fail matters more
            if Path(path).is_dir() and not Path(path).is_symlink():
                shutil.rmtree(path)
            else:
                os.unlink(path)
