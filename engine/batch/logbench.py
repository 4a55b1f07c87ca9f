"""``licit bench --audit``: what logging a decision costs, measured in one run against the
bare durable commit rate of the same disk, with one caller, with threads, and with
processes, every measure interleaved with the others (audit.bench; docs/performance.md)."""
from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from audit.bench import Workers, interleaved, record_measures, serve_rounds
from engine.batch.bench import bench_flows
from engine.batch.traffic import synthetic_flows
from engine.core import Engine

__all__ = ["run_audit_bench"]

_SPAWN = multiprocessing.get_context("spawn")  # each worker its own engine, not a fork of this one's


def run_audit_bench(engine: Engine, jurisdiction: str, count: int, directory: str, threads: int = 4,
                    processes: int = 4) -> str:
    """Decisions/s with the log on and off, beside bare durable commits, measured in this run.

    What logging costs is the time it adds to a decision, 1/on - 1/off, in units of
    one bare durable commit (1/bare). On and off are measured with the same callers:
    threads of one process contend for the GIL with or without the log, and that
    cost is not the log's."""
    flows = bench_flows(jurisdiction)
    count = min(count, 5000)  # each logged decision is a durable commit: keep the run short
    place = Path(directory)
    logged = Engine(rules_dir=engine.rules_dir, audit_db=place / "callers.db", max_request_age=None)
    for flow in flows:  # warm up, and store the rule set
        logged.evaluate(flow)
    measures = {
        **record_measures(place, _traffic_items(engine.rules_dir, count), processes),
        "off 1": _Callers(engine, flows, 1), "on 1": _Callers(logged, flows, 1),
        "off n": _Callers(engine, flows, threads), "on n": _Callers(logged, flows, threads),
        "engine 1": _engine_processes(engine.rules_dir, place / "engine-1.db", flows, 1),
        "engine n": _engine_processes(engine.rules_dir, place / "engine-n.db", flows, processes),
    }
    try:
        rate = interleaved(measures, count)
    finally:
        for measure in measures.values():
            measure.close()
        logged.close()
    bare = rate["bare"]

    def cost(with_log: float, without_log: float) -> str:
        return f"logging costs {bare * (1 / with_log - 1 / without_log):.2f} bare commits per decision"

    return "\n".join([
        f"licit bench --audit: {count} decisions on {jurisdiction}, log in {directory}, every figure "
        "measured in 10 rounds taken in turn",
        f"  bare durable commits/s             {bare:8,.0f}   (one row of a record's size, WAL, synchronous=FULL)",
        f"  decisions/s, 1 caller     log off {rate['off 1']:7,.0f}   log on {rate['on 1']:7,.0f}   "
        f"({cost(rate['on 1'], rate['off 1'])}; target ≤ 2.5)",
        f"  decisions/s, {threads} threads    log off {rate['off n']:7,.0f}   log on {rate['on n']:7,.0f}   "
        f"({cost(rate['on n'], rate['off n'])}; target ≤ 1.5)",
        f"  Engine(audit_db=...), decisions/s  1 process {rate['engine 1']:7,.0f}   {processes} processes "
        f"{rate['engine n']:7,.0f}   ({rate['engine n'] / rate['engine 1']:.2f}× one process; target ≥ 2×)",
        f"  DecisionLog.record/s, 1 process    {rate['record 1']:8,.0f}   "
        f"({bare / rate['record 1']:.2f} bare commits each)",
        f"  DecisionLog.record/s, {processes} processes  {rate['record n']:8,.0f}   "
        f"({rate['record n'] / rate['record 1']:.2f}× one process; target ≥ 1.8×)",
    ])


class _Callers:
    """`engine` deciding with `threads` callers at once (an enrollment service's worker
    threads); every flow gets its own flow_id."""

    def __init__(self, engine: Engine, flows: list[dict], threads: int):
        self._engine, self._flows, self._threads = engine, flows, threads
        self._numbers = itertools.count()

    def run(self, units: int) -> float:
        numbered = _numbered(self._flows, [next(self._numbers) for _ in range(units)], f"{self._threads}")
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=self._threads) as pool:
            for _ in pool.map(self._engine.evaluate, numbered, chunksize=16):
                pass
        return time.perf_counter() - started

    def close(self) -> None:
        pass


def _engine_processes(rules_dir, log_path: Path, flows: list[dict], processes: int) -> Workers:
    """`processes` worker processes, each with its own Engine(audit_db=log_path), deciding and
    logging (an enrollment service's worker processes)."""
    return Workers(_SPAWN, processes, lambda number, commands, barrier: _SPAWN.Process(
        target=_decide, args=(rules_dir, log_path, flows, f"{processes}-{number}", commands, barrier)))


def _decide(rules_dir, log_path: Path, flows: list[dict], name: str, commands, barrier) -> None:
    numbers = itertools.count()
    with Engine(rules_dir=rules_dir, audit_db=log_path, max_request_age=None) as engine:
        for flow in flows:  # warm up, and store the rule set
            engine.evaluate(flow)

        def decide(units: int) -> None:
            for flow in _numbered(flows, [next(numbers) for _ in range(units)], name):
                engine.evaluate(flow)

        serve_rounds(commands, barrier, decide)


def _numbered(flows: list[dict], numbers: list[int], name: str) -> list[dict]:
    return [dict(flows[number % len(flows)], flow_id=f"BENCH-{name}-{number}") for number in numbers]


def _traffic_items(rules_dir: Path, count: int) -> list[tuple]:
    """What the engine hands its log about `count` flows of synthetic traffic (as seeded logs hold)."""
    engine = Engine(rules_dir=rules_dir, max_request_age=None)  # a year of traffic
    end = dt.datetime.now(dt.timezone.utc)
    return [engine.decide(flow).sink_arguments()
            for _, flow in synthetic_flows(engine.jurisdictions, count, start=end - dt.timedelta(days=365), end=end,
                                           seed=1)]
