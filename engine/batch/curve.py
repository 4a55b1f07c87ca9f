"""``licit bench --synthetic-rules 20,100,400``: what a decision costs as a jurisdiction's rules grow.

Each count gets a synthetic pack (engine/batch/synthetic.py) and an engine per matcher; rounds then
alternate between every pack and matcher, deciding the benchmark's flow mix, so that a busy machine
weighs on every figure alike. With ``dated``, every rule has its own start date (one segment per rule).
"""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from engine.batch.bench import bench_flows, percentile
from engine.batch.synthetic import write_synthetic_tree
from engine.core import Engine

__all__ = ["run_rules_curve"]


def run_rules_curve(counts: list[int], matchers: list[str], rounds: int, *, dated: bool = False) -> str:
    flows = bench_flows("CN")
    with tempfile.TemporaryDirectory(prefix="licit-curve-") as directory:
        engines, built = {}, {}
        for count in counts:
            root = write_synthetic_tree(Path(directory, str(count)), count, dated=dated)
            for matcher in matchers:
                started = time.perf_counter()
                engines[count, matcher] = Engine(rules_dir=root, matcher=matcher, max_request_age=None)
                built[count, matcher] = time.perf_counter() - started
        for engine in engines.values():  # warm up every path
            for flow in flows:
                engine.evaluate(flow)
        samples: dict[tuple[int, str], list[float]] = {key: [] for key in engines}
        for _ in range(rounds):
            for key, engine in engines.items():
                for flow in flows:
                    started = time.thread_time_ns()  # CPU time: a decision preempted halfway is not dearer
                    engine.evaluate(flow)
                    samples[key].append((time.thread_time_ns() - started) / 1000)
    lines = [f"licit bench --synthetic-rules: synthetic rules in force in one jurisdiction"
             f"{', each with its own start date' if dated else ''}; {rounds} interleaved rounds of {len(flows)} flows",
             "  per decision, thread CPU time: mean, p50, p99; cost: the mean against the first count's",
             "  rules  matcher    build s   mean µs   p50 µs   p99 µs   cost"]
    for matcher in matchers:
        base = statistics.fmean(samples[counts[0], matcher])
        for count in counts:
            values = samples[count, matcher]
            mean = statistics.fmean(values)
            lines.append(f"  {count:>5}  {matcher:<9} {built[count, matcher]:8.2f} {mean:9.1f} "
                         f"{percentile(values, 0.5):8.1f} {percentile(values, 0.99):8.1f}   {mean / base:.2f}×")
    return "\n".join(lines)
