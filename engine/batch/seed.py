"""`licit audit seed`: a new log of real decisions, made by the engine on the rule packs about
synthetic traffic (engine.batch.traffic), each at its own instant of the seeded span."""
from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Callable

from audit import AuditInputError
from audit.seed import MAX_COUNT, MAX_DAYS, MIN_DAYS, BatchSink, new_log
from engine.batch.traffic import synthetic_flows
from engine.core import Engine

__all__ = ["seed_log"]


class _SpanClock:
    """The engine's clock while it decides synthetic traffic: the instant each flow is
    decided at in the seeded span, not the time of the seeding."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


def seed_log(
    path: str | os.PathLike,
    count: int,
    *,
    rules_dir: str | os.PathLike | None = None,
    key: bytes | None = None,
    seed: int | None = None,
    days: float = 365.0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write a new log of `count` decisions about synthetic flows spread over `days` days up
    to now, each decided by the engine on the rules of `rules_dir` in force when it was
    requested and logged with that rule set, so that it replays; returns the head seq.
    `progress`, if given, is called with (decisions written, `count`) after each batch.
    Refuses an existing file, checks the key before it creates anything, and if it fails
    removes every file it created (audit.seed.new_log)."""
    if not (isinstance(days, (int, float)) and math.isfinite(days) and MIN_DAYS <= days <= MAX_DAYS):
        raise AuditInputError(f"days must be a number from {MIN_DAYS} to {MAX_DAYS}, got {days!r}")
    if not (type(count) is int and 1 <= count <= MAX_COUNT):
        raise AuditInputError(f"count must be a whole number from 1 to {MAX_COUNT}, got {count!r}")
    with new_log(path, key=key) as log:
        clock = _SpanClock()
        sink = BatchSink(log, progress=progress and (lambda written: progress(written, count)))
        if progress:
            progress(0, count)
        engine = Engine(rules_dir, sink=sink, clock=clock, max_request_age=None)  # each flow at its own instant
        end = clock.now
        start = end - dt.timedelta(days=days)
        _refuse_days_before_the_rules(engine, start, end, days)
        for decided_at, flow in synthetic_flows(engine.jurisdictions, count, start=start, end=end, seed=seed):
            clock.now = decided_at
            engine.evaluate(flow)
        engine.close()  # writes the last batch
        return sink.head


def _refuse_days_before_the_rules(engine: Engine, start: dt.datetime, end: dt.datetime, days: float) -> None:
    """A flow requested when none of its jurisdiction's rules is in force cannot be decided:
    every day of the span must have rules in force in every jurisdiction."""
    for code in engine.jurisdictions:
        compiled = engine.tree.compiled[code]
        first, last = compiled.local_date(start), compiled.local_date(end)
        gaps = [segment.period for segment in compiled.segments if not segment.rules
                and (segment.period.start or dt.date.min) <= last and (segment.period.end or dt.date.max) >= first]
        gap = max(gaps, key=lambda period: period.start or dt.date.min, default=None)
        if gap is None:
            continue
        if gap.end is None or gap.end >= last:
            raise AuditInputError(f"no rule of {code} is in force on {last.isoformat()}: its flows cannot be "
                                  "decided, so no log can be seeded with these rules")
        since = gap.end + dt.timedelta(days=1)
        allowed = (end - dt.datetime.combine(since, dt.time(), dt.timezone.utc)) // dt.timedelta(days=1)
        raise AuditInputError(f"days {days:g} reaches back to {first.isoformat()}, but no rule of {code} is in "
                              f"force before {since.isoformat()}: seed at most {allowed} days")
