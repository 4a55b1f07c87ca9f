"""A synthetic log of N decisions with a valid chain, written in large transactions."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from audit.log import DecisionLog
from audit.synthetic import synthetic_decisions

BATCH = 10_000  # decisions per transaction: one fsync per batch, bounded memory


def seed_log(
    path: str | os.PathLike,
    count: int,
    *,
    key: bytes | None = None,
    seed: int | None = None,
    days: float = 365.0,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Append `count` synthetic decisions spread over `days` days up to now; returns the head seq."""
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
