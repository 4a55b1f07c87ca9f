"""``licit bench``: latency and throughput of Engine.evaluate, and where the time goes."""
from __future__ import annotations

import copy
import datetime as dt
import statistics
import time
from typing import Callable

from engine.batch.traffic import synthetic_flows
from engine.core import Engine
from engine.inputs import parse_flow

__all__ = ["bench_flows", "run_bench", "percentile"]

_BASE = {
    "flow_id": "BENCH", "requested_at": "2026-11-24T10:15:00+08:00", "jurisdiction": "CN",
    "channel": {"kind": "partner_platform", "platform_id": "jd-mall",
                "platform_activities": ["display", "payment_processing", "credit_provision"],
                "platform_licenses": ["payment", "consumer_credit"], "pilot_id": None},
    "insurer": {"id": "sunshine-pc", "branch_jurisdiction": "CN-GD"},
    "applicant": {"name": "张三", "id_number": "440301199001011234", "phone": "13800138000", "age": 36,
                  "real_name_verified": True, "is_student": False},
    "vehicle": {"registration_jurisdiction": "CN-GD-SZ", "usage": "private", "declared_usage": "private",
                "new_energy": False},
    "products": [
        {"kind": "ctpl", "premium": 950.0, "start_date": "2026-12-01", "term_months": 12, "pre_selected": True,
         "pricing_factor": None},
        {"kind": "commercial", "premium": 3200.0, "start_date": "2026-12-01", "term_months": 12,
         "pre_selected": False, "pricing_factor": 0.9}],
    "payments": [
        {"covers": ["ctpl"], "instrument": "bank_card", "provider": None, "premium_installments": 1,
         "credit_installments": 1, "apr": None, "apr_disclosed": False, "settlement": "real_time",
         "payee": "insurer_account"},
        {"covers": ["commercial"], "instrument": "consumer_credit", "provider": "baitiao", "premium_installments": 1,
         "credit_installments": 6, "apr": 0.18, "apr_disclosed": True, "settlement": "real_time",
         "payee": "insurer_account"}],
    "data_sharing": [{"from": "platform", "to": "insurer", "categories": ["identity", "vehicle"],
                      "consent": {"obtained": True, "separate": True, "pre_checked": False}}],
    "policy_issuance": "after_premium_received",
}


def _variant(jurisdiction: str, name: str, change: Callable[[dict], None]) -> dict:
    flow = copy.deepcopy(_BASE)
    flow["flow_id"], flow["jurisdiction"] = f"BENCH-{name}", jurisdiction
    change(flow)
    return flow


def bench_flows(jurisdiction: str) -> list[dict]:
    """A mix like an enrollment service's traffic: mostly compliant, some denied, some conditional."""
    def ctpl_installments(flow):
        flow["payments"][0].update(instrument="consumer_credit", premium_installments=3, credit_installments=3,
                                   apr=0.18, apr_disclosed=True)

    def platform_collects(flow):
        flow["payments"][1]["payee"] = "platform_account"
        flow["channel"]["platform_activities"] = ["display", "quote", "premium_collection"]

    def apr_hidden(flow):
        flow["payments"][1]["apr_disclosed"] = False

    def student(flow):
        flow["applicant"].update(is_student=True, age=20)

    def consent(flow):
        flow["data_sharing"][0]["consent"].update(separate=False, pre_checked=True)

    changes = {"compliant": lambda flow: None, "compliant-2": lambda flow: None, "compliant-3": lambda flow: None,
               "ctpl-installments": ctpl_installments, "platform-collects": platform_collects,
               "apr-hidden": apr_hidden, "student": student, "consent": consent}
    return [_variant(jurisdiction, name, change) for name, change in changes.items()]


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _per_call(function: Callable, arguments: list, rounds: int) -> float:
    started = time.perf_counter()
    for index in range(rounds):
        function(arguments[index % len(arguments)])
    return (time.perf_counter() - started) / rounds * 1e6


def run_bench(engine: Engine, jurisdiction: str, count: int) -> str:
    flows = bench_flows(jurisdiction)
    for flow in flows:  # warm up every code path
        engine.evaluate(flow)
    samples = []
    started = time.perf_counter()
    for index in range(count):
        flow = flows[index % len(flows)]
        before = time.perf_counter_ns()
        engine.evaluate(flow)
        samples.append((time.perf_counter_ns() - before) / 1000)
    elapsed = time.perf_counter() - started
    rounds = max(1000, count // 4)
    models = [parse_flow(flow) for flow in flows]
    fact_jsons = [engine.fact_json(model) for model in models]
    compiled = engine.tree.compiled[jurisdiction]
    segment = engine._segments[jurisdiction][compiled.segment_index(compiled.local_date(models[0].requested_at))]
    validate = _per_call(parse_flow, flows, rounds)
    facts = _per_call(engine.fact_json, models, rounds)
    match = _per_call(segment.fired, fact_jsons, rounds)
    mean = statistics.fmean(samples)
    outcomes = [engine.evaluate(flow).outcome for flow in flows]
    mix = ", ".join(f"{outcomes.count(o)} {o}" for o in ("allow", "conditional", "review", "deny") if o in outcomes)
    lines = [
        f"licit bench: Engine.evaluate on {jurisdiction}, {count} evaluations over a mix of {len(flows)} flows "
        f"({mix})",
        f"  throughput   {count / elapsed:,.0f} evaluations/s (one thread)",
        f"  latency      p50 {percentile(samples, 0.50):.1f} µs   p90 {percentile(samples, 0.90):.1f} µs   "
        f"p99 {percentile(samples, 0.99):.1f} µs   mean {mean:.1f} µs",
        "  where the time goes (mean per evaluation, measured stage by stage):",
        f"    validation (pydantic)             {validate:7.1f} µs",
        f"    fact derivation + JSON            {facts:7.1f} µs",
        f"    durable_rules match               {match:7.1f} µs",
        f"    decision building and the rest    {max(0.0, mean - validate - facts - match):7.1f} µs",
    ]
    return "\n".join(lines)


def _logged_rate(rules_dir, log_path: str, flows: list[dict], count: int, threads: int) -> float:
    with Engine(rules_dir=rules_dir, audit_db=log_path) as logged:
        for flow in flows:  # warm up, and store the rule set
            logged.evaluate(flow)
        return _callers_rate(logged, flows, count, threads)


def _callers_rate(engine: Engine, flows: list[dict], count: int, threads: int) -> float:
    """Decisions/s of `engine` with `threads` callers at once (an enrollment
    service's worker threads); every flow gets its own flow_id."""
    from concurrent.futures import ThreadPoolExecutor

    numbered = [dict(flows[index % len(flows)], flow_id=f"BENCH-{threads}-{index}") for index in range(count)]
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for _ in pool.map(engine.evaluate, numbered, chunksize=16):
            pass
    return count / (time.perf_counter() - started)


class _Held(list):
    """A DecisionSink that keeps what the engine hands over, to be logged by the benchmark."""

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> None:
        self.append((decision, flow, ruleset, duration_s))

    def close(self) -> None:
        pass


def _traffic_items(rules_dir, count: int) -> list[tuple]:
    """What the engine hands its log about `count` flows of synthetic traffic (as seeded logs hold)."""
    held = _Held()
    engine = Engine(rules_dir=rules_dir, sink=held)
    end = dt.datetime.now(dt.timezone.utc)
    for _, flow in synthetic_flows(engine.jurisdictions, count, start=end - dt.timedelta(days=365), end=end, seed=1):
        engine.evaluate(flow)
    return held


def run_audit_bench(engine: Engine, jurisdiction: str, count: int, directory: str, threads: int = 4,
                    processes: int = 4) -> str:
    """Decisions/s with the log on and off, beside bare durable commits, measured in this run.

    What logging costs is the time it adds to a decision, 1/on - 1/off, in units of
    one bare durable commit (1/bare). On and off are measured with the same callers:
    threads of one process contend for the GIL with or without the log, and that
    cost is not the log's."""
    from audit.bench import audit_benchmark

    flows = bench_flows(jurisdiction)
    count = min(count, 5000)  # each logged decision is a durable commit: keep the run short
    one_caller = _logged_rate(engine.rules_dir, f"{directory}/one.db", flows, count, threads=1)
    many_callers = _logged_rate(engine.rules_dir, f"{directory}/many.db", flows, count, threads=threads)
    off_one_caller = _callers_rate(engine, flows, count, threads=1)
    off_many_callers = _callers_rate(engine, flows, count, threads=threads)
    figures = audit_benchmark(f"{directory}/records.db", _traffic_items(engine.rules_dir, min(count, 4000)),
                              processes=processes)
    bare = figures["bare_commits_per_s"]

    def cost(with_log: float, without_log: float) -> str:
        return f"logging costs {bare * (1 / with_log - 1 / without_log):.2f} bare commits per decision"

    return "\n".join([
        f"licit bench --audit: {count} decisions on {jurisdiction}, log in {directory}",
        f"  bare durable commits/s             {bare:8,}   (one row of a record's size, WAL, synchronous=FULL)",
        f"  decisions/s, 1 caller     log off {off_one_caller:7,.0f}   log on {one_caller:7,.0f}   "
        f"({cost(one_caller, off_one_caller)}; target ≤ 1.5)",
        f"  decisions/s, {threads} threads    log off {off_many_callers:7,.0f}   log on {many_callers:7,.0f}   "
        f"({cost(many_callers, off_many_callers)}; target ≤ 1.5)",
        f"  DecisionLog.record/s, 1 process    {figures['records_per_s_1_process']:8,}   "
        f"({figures['record_cost_in_bare_commits']} bare commits each)",
        f"  DecisionLog.record/s, {processes} processes  {figures[f'records_per_s_{processes}_processes']:8,}   "
        f"({figures[f'speedup_{processes}_processes']}× one process; target ≥ 1.5×)",
    ])
