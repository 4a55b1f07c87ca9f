"""``licit bench --remedies``: how long a remedy search takes per denied or referred flow."""
from __future__ import annotations

import datetime as dt
import statistics
import time

from engine.batch.bench import percentile
from engine.batch.traffic import synthetic_flows
from engine.core import Engine
from engine.errors import FlowValidationError
from engine.solver.remedy import find_remedies

__all__ = ["remedy_bench_flows", "run_remedy_bench"]


def remedy_bench_flows(engine: Engine, count: int, seed: int = 16) -> list[dict]:
    """``count`` flows of synthetic traffic (docs/decision-log.md) over every jurisdiction, each one the engine
    denies or refers: the flows someone would ask remedies for."""
    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    found = []
    for _, flow in synthetic_flows(engine.jurisdictions, count * 40, start=start,
                                   end=start + dt.timedelta(days=365), seed=seed):
        try:
            outcome = engine.evaluate(flow).outcome
        except FlowValidationError:
            continue
        if outcome in ("deny", "review"):
            found.append(flow)
            if len(found) == count:
                break
    return found


def run_remedy_bench(engine: Engine, count: int) -> str:
    flows = remedy_bench_flows(engine, count)
    find_remedies(engine, flows[0])  # warm up: z3's first context, the imports
    samples, processor, remedies, unknown = [], [], [], 0
    for flow in flows:
        started, used = time.perf_counter(), time.process_time()
        found = find_remedies(engine, flow)
        samples.append((time.perf_counter() - started) * 1000)
        processor.append((time.process_time() - used) * 1000)  # what a busy machine does not inflate
        remedies.append(len(found.remedies))
        unknown += found.unknown is not None
    return "\n".join([
        f"licit bench --remedies: Engine.remedies on {len(flows)} denied or referred flows of synthetic traffic "
        f"({', '.join(engine.jurisdictions)}), up to 3 remedies each",
        f"  latency      p50 {percentile(samples, 0.50):.0f} ms   p95 {percentile(samples, 0.95):.0f} ms   "
        f"max {max(samples):.0f} ms   mean {statistics.fmean(samples):.0f} ms",
        f"  CPU time     p50 {percentile(processor, 0.50):.0f} ms   p95 {percentile(processor, 0.95):.0f} ms   "
        f"max {max(processor):.0f} ms   mean {statistics.fmean(processor):.0f} ms (this process)",
        f"  remedies     {statistics.fmean(remedies):.2f} per flow; {remedies.count(0)} flows with none; "
        f"{unknown} searches stopped at the time limit"])
