"""``licit bench``: latency and throughput of Engine.evaluate, and where the time goes."""
from __future__ import annotations

import copy
import statistics
import time
from typing import Callable

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
    facts = [engine.facts(model) for model in models]
    compiled = engine.tree.compiled[jurisdiction]
    day = compiled.local_date(models[0].requested_at)
    matcher = engine._rules.matchers[jurisdiction]
    validate = _per_call(parse_flow, flows, rounds)
    derive = _per_call(engine.facts, models, rounds)
    match = _per_call(lambda fact: matcher.fired(fact, compiled.segment_index(day), day.toordinal()), facts, rounds)
    mean = statistics.fmean(samples)
    outcomes = [engine.evaluate(flow).outcome for flow in flows]
    mix = ", ".join(f"{outcomes.count(o)} {o}" for o in ("allow", "conditional", "review", "deny") if o in outcomes)
    lines = [
        f"licit bench: Engine.evaluate on {jurisdiction} with the {engine.matcher} matcher, {count} evaluations "
        f"over a mix of {len(flows)} flows "
        f"({mix})",
        f"  throughput   {count / elapsed:,.0f} evaluations/s (one thread)",
        f"  latency      p50 {percentile(samples, 0.50):.1f} µs   p90 {percentile(samples, 0.90):.1f} µs   "
        f"p99 {percentile(samples, 0.99):.1f} µs   mean {mean:.1f} µs",
        "  where the time goes (mean per evaluation, measured stage by stage):",
        f"    validation (pydantic)             {validate:7.1f} µs",
        f"    fact derivation                   {derive:7.1f} µs",
        f"    match ({engine.matcher + ')':<21}     {match:7.1f} µs",
        f"    decision building and the rest    {max(0.0, mean - validate - derive - match):7.1f} µs",
    ]
    return "\n".join(lines)
