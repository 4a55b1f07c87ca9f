"""``licit bench --audit``: what logging a decision costs, measured in one run against the
bare durable commit rate of the same disk, with one caller, with threads, and with
processes (docs/performance.md)."""
from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from audit.bench import audit_benchmark, run_together
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
    one_caller = _logged_rate(engine.rules_dir, f"{directory}/one.db", flows, count, threads=1)
    many_callers = _logged_rate(engine.rules_dir, f"{directory}/many.db", flows, count, threads=threads)
    off_one_caller = _callers_rate(engine, flows, count, threads=1)
    off_many_callers = _callers_rate(engine, flows, count, threads=threads)
    one_process = _processes_rate(engine.rules_dir, f"{directory}/process.db", flows, count, processes=1)
    many_processes = _processes_rate(engine.rules_dir, f"{directory}/processes.db", flows, count, processes)
    figures = audit_benchmark(f"{directory}/records.db", _traffic_items(engine.rules_dir, min(count, 4000)),
                              processes=processes)
    bare = figures["bare_commits_per_s"]

    def cost(with_log: float, without_log: float) -> str:
        return f"logging costs {bare * (1 / with_log - 1 / without_log):.2f} bare commits per decision"

    return "\n".join([
        f"licit bench --audit: {count} decisions on {jurisdiction}, log in {directory}",
        f"  bare durable commits/s             {bare:8,}   (one row of a record's size, WAL, synchronous=FULL)",
        f"  decisions/s, 1 caller     log off {off_one_caller:7,.0f}   log on {one_caller:7,.0f}   "
        f"({cost(one_caller, off_one_caller)}; target ≤ 2.5)",
        f"  decisions/s, {threads} threads    log off {off_many_callers:7,.0f}   log on {many_callers:7,.0f}   "
        f"({cost(many_callers, off_many_callers)}; target ≤ 1.5)",
        f"  Engine(audit_db=...), decisions/s  1 process {one_process:7,.0f}   {processes} processes "
        f"{many_processes:7,.0f}   ({many_processes / one_process:.2f}× one process; target ≥ 2×)",
        f"  DecisionLog.record/s, 1 process    {figures['records_per_s_1_process']:8,}   "
        f"({figures['record_cost_in_bare_commits']} bare commits each)",
        f"  DecisionLog.record/s, {processes} processes  {figures[f'records_per_s_{processes}_processes']:8,}   "
        f"({figures[f'speedup_{processes}_processes']}× one process; target ≥ 1.8×)",
    ])


def _logged_rate(rules_dir, log_path: str, flows: list[dict], count: int, threads: int) -> float:
    with Engine(rules_dir=rules_dir, audit_db=log_path) as logged:
        for flow in flows:  # warm up, and store the rule set
            logged.evaluate(flow)
        return _callers_rate(logged, flows, count, threads)


def _callers_rate(engine: Engine, flows: list[dict], count: int, threads: int) -> float:
    """Decisions/s of `engine` with `threads` callers at once (an enrollment
    service's worker threads); every flow gets its own flow_id."""
    numbered = _numbered(flows, count, f"{threads}")
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(engine.evaluate, numbered, chunksize=16):
            pass
    return count / (time.perf_counter() - started)


def _processes_rate(rules_dir, log_path: str, flows: list[dict], count: int, processes: int) -> float:
    """Decisions/s of `processes` worker processes, each with its own Engine(audit_db=log_path),
    deciding and logging `count` flows between them (an enrollment service's worker processes)."""
    start = _SPAWN.Barrier(processes + 1)
    share = count // processes
    elapsed = run_together([_SPAWN.Process(target=_decide, args=(rules_dir, log_path, flows, share,
                                                                 f"{processes}-{n}", start))
                            for n in range(processes)], start)
    return processes * share / elapsed


def _decide(rules_dir, log_path: str, flows: list[dict], count: int, name: str, start) -> None:
    with Engine(rules_dir=rules_dir, audit_db=log_path) as engine:
        for flow in flows:  # warm up, and store the rule set
            engine.evaluate(flow)
        numbered = _numbered(flows, count, name)
        start.wait()  # each has loaded its rules and reached the writer
        for flow in numbered:
            engine.evaluate(flow)


def _numbered(flows: list[dict], count: int, name: str) -> list[dict]:
    return [dict(flows[index % len(flows)], flow_id=f"BENCH-{name}-{index}") for index in range(count)]


class _Held(list):
    """A DecisionSink that keeps what the engine hands over, to be logged by the benchmark."""

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> None:
        self.append((decision, flow, ruleset, duration_s))

    def close(self) -> None:
        pass


def _traffic_items(rules_dir: Path, count: int) -> list[tuple]:
    """What the engine hands its log about `count` flows of synthetic traffic (as seeded logs hold)."""
    held = _Held()
    engine = Engine(rules_dir=rules_dir, sink=held)
    end = dt.datetime.now(dt.timezone.utc)
    for _, flow in synthetic_flows(engine.jurisdictions, count, start=end - dt.timedelta(days=365), end=end, seed=1):
        engine.evaluate(flow)
    return held
