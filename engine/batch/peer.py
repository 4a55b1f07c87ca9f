"""``licit bench --peer cedar``: Licit's matchers beside Cedar (the ``cedarpy`` package), deciding the same flows.

cedar/licit.cedar holds the 20 rules of the shipped packs (national and regional) as Cedar forbid
policies, one per rule with the rule id as ``@id``; :func:`cedar_request` maps a flow to a Cedar
request whose context carries what the policies read (the local day, the jurisdiction chain, the
provinces, the lists of the flow unrolled: Cedar has no quantifier over a set of records). Before
timing, every flow must be denied by exactly the policies of the rules Licit fires, so both decide
the same thing. Then rounds alternate, in one process: Cedar's batch API decides all the flows, then
each matcher decides them one by one with ``Engine.evaluate`` (validation, facts, match, decision;
no log). cedarpy is not a dependency of Licit: install it beside Licit to run this comparison.
"""
from __future__ import annotations

import datetime as dt
import json
import statistics
import time
from pathlib import Path
from typing import Any

from engine.batch.bench import percentile
from engine.core import Engine
from engine.errors import EngineError, LicitError
from rules.scenarios import load_scenarios

__all__ = ["cedar_request", "peer_flows", "run_peer_bench", "POLICIES"]

POLICIES = Path(__file__).with_name("cedar") / "licit.cedar"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # the contract examples, in a checkout of Licit
_FLOWS = 29
_CHINA = dt.timezone(dt.timedelta(hours=8))  # every shipped jurisdiction's local time


def _decimal(value: float) -> dict:
    return {"__extn": {"fn": "decimal", "arg": f"{value:.4f}"}}


def _province(code: str) -> str:
    return "-".join(code.split("-")[:2])


def cedar_request(flow: dict, chain: list[str]) -> dict:
    """The Cedar request for a flow (a dict as the contract writes it) whose jurisdiction chain is ``chain``."""
    day = dt.datetime.fromisoformat(flow["requested_at"]).astimezone(_CHINA).date()
    channel = flow["channel"]
    context: dict[str, Any] = {
        "day": day.year * 10000 + day.month * 100 + day.day, "chain": chain,
        "vehicle_province": _province(flow["vehicle"]["registration_jurisdiction"]),
        "insurer_province": _province(flow["insurer"]["branch_jurisdiction"]),
        "channel": {"kind": channel["kind"], "activities": channel["platform_activities"],
                    "licenses": channel["platform_licenses"],
                    **({"pilot_id": channel["pilot_id"]} if channel["pilot_id"] is not None else {})},
        "applicant": {key: flow["applicant"][key] for key in ("age", "real_name_verified", "is_student")},
        "vehicle": {key: flow["vehicle"][key] for key in ("usage", "declared_usage")},
        "policy_issuance": flow["policy_issuance"]}
    for product in flow["products"]:
        factor = product["pricing_factor"]
        context[product["kind"]] = {"pre_selected": product["pre_selected"],
                                    **({"pricing_factor": _decimal(factor)} if factor is not None else {})}
    for index, payment in enumerate(flow["payments"]):
        context[f"p{index}"] = {key: payment[key] for key in ("covers", "instrument", "premium_installments",
                                                              "apr_disclosed", "settlement", "payee")}
        if payment["apr"] is not None:
            context[f"p{index}"]["apr"] = _decimal(payment["apr"])
    if len(flow["data_sharing"]) > 4:
        raise ValueError(f"{flow['flow_id']}: the Cedar policies read at most 4 data-sharing entries")
    for index, sharing in enumerate(flow["data_sharing"]):
        context[f"d{index}"] = dict(sharing["consent"])
    return {"principal": 'Applicant::"applicant"', "action": 'Action::"enroll"',
            "resource": json.dumps(flow["flow_id"], ensure_ascii=False).join(["Flow::", ""]), "context": context}


def peer_flows(engine: Engine, count: int = _FLOWS) -> list[dict]:
    """The contract examples (when the checkout has them), then scenario flows of the shipped packs that
    fire a different set of rules or decide in another jurisdiction, up to ``count`` flows."""
    flows = [json.loads(path.read_text(encoding="utf-8")) for path in sorted(EXAMPLES.glob("*.json"))
             if path.name != "expected.json"] if EXAMPLES.is_dir() else []
    seen = set()
    for case in load_scenarios(engine.tree).cases:
        if len(flows) >= count:
            break
        if case.as_of is not None:
            continue
        try:
            decision = engine.evaluate(case.flow)
        except LicitError:
            continue
        key = (case.jurisdiction, tuple(finding.rule_id for finding in decision.findings))
        if key not in seen:
            seen.add(key)
            flows.append(case.flow)
    return flows


def _check_same_decisions(cedarpy: Any, policies: Any, requests: list[dict], flows: list[dict],
                          engine: Engine) -> None:
    results = cedarpy.is_authorized_batch(requests, policies, cedarpy.Entities.from_json_str("[]"))
    for flow, result in zip(flows, results):
        by_cedar = sorted(result.diagnostics.id_annotations_by_reason.values())
        by_licit = sorted(finding.rule_id for finding in engine.evaluate(flow).findings)
        if by_cedar != by_licit or result.diagnostics.errors:
            raise EngineError(f"Cedar and Licit disagree on {flow['flow_id']}: Cedar's policies {by_cedar}, Licit's "
                              f"rules {by_licit} {result.diagnostics.errors or ''}: the packs and cedar/licit.cedar "
                              f"no longer encode the same rules")


def run_peer_bench(engines: dict[str, Engine], rounds: int) -> str:
    """Interleaved rounds of Cedar's batch decision of the peer flows and each engine's, with the ratios."""
    try:
        import cedarpy
    except ImportError:
        raise EngineError("--peer cedar needs the cedarpy package (pip install cedarpy); it is not a dependency "
                          "of Licit") from None
    first = next(iter(engines.values()))
    flows = peer_flows(first)
    requests = [cedar_request(flow, first.tree.compiled[flow["jurisdiction"]].chain) for flow in flows]
    policies = cedarpy.PolicySet.from_str(POLICIES.read_text(encoding="utf-8"))
    entities = cedarpy.Entities.from_json_str("[]")
    _check_same_decisions(cedarpy, policies, requests, flows, first)
    for engine in engines.values():  # warm up: every shape of flow compiled before timing
        for flow in flows:
            engine.evaluate(flow)
    # thread CPU time as well as wall time: on a busy machine a decision preempted halfway is not slower code
    cedar = {"cpu": [], "wall": []}
    licit = {name: {"round": [], "first": [], "rest": []} for name in engines}  # CPU of each round's first, the rest
    control: list[float] = []
    for _ in range(rounds):
        for _ in range(len(flows)):
            cpu = time.thread_time_ns()
            _fixed_work()
            control.append((time.thread_time_ns() - cpu) / 1000)
        cpu, wall = time.thread_time_ns(), time.perf_counter_ns()
        cedarpy.is_authorized_batch(requests, policies, entities)
        cedar["cpu"].append((time.thread_time_ns() - cpu) / 1000 / len(flows))
        cedar["wall"].append((time.perf_counter_ns() - wall) / 1000 / len(flows))
        for name, engine in engines.items():
            round_started = time.perf_counter_ns()
            for position, flow in enumerate(flows):
                cpu = time.thread_time_ns()
                engine.evaluate(flow)
                licit[name]["first" if position == 0 else "rest"].append((time.thread_time_ns() - cpu) / 1000)
            licit[name]["round"].append((time.perf_counter_ns() - round_started) / 1000 / len(flows))
    from importlib.metadata import version

    cedar_cpu, cedar_wall = statistics.fmean(cedar["cpu"]), statistics.median(cedar["wall"])
    lines = [f"licit bench --peer cedar: {len(flows)} flows (contract examples and scenario flows of the shipped "
             f"packs), {rounds} interleaved rounds; cedarpy {version('cedarpy')} batch API, the 20 forbid policies "
             f"of {POLICIES.name}",
             "  per decision: mean thread CPU time; median over rounds of wall time (each round's mean); "
             "p50/p99 of one decision's CPU time",
             f"  Cedar          CPU {cedar_cpu:7.1f} µs   wall {cedar_wall:7.1f} µs"]
    for name, samples in licit.items():
        every = samples["first"] + samples["rest"]
        cpu, wall = statistics.fmean(every), statistics.median(samples["round"])
        p50, p99 = percentile(every, 0.50), percentile(every, 0.99)
        lines.append(f"  Licit {name:<8} CPU {cpu:7.1f} µs ({cpu / cedar_cpu:.2f}× Cedar)   wall {wall:7.1f} µs "
                     f"({wall / cedar_wall:.2f}× Cedar)   p50 {p50:.1f} µs  p99 {p99:.1f} µs ({p99 / p50:.2f}× p50)")
        rest = samples["rest"]
        lines.append(f"  {'':14} each round's first decision (after Cedar's batch and the other engine's round): "
                     f"median {statistics.median(samples['first']):.1f} µs; the other decisions: p99 "
                     f"{percentile(rest, 0.99) / percentile(rest, 0.50):.2f}× p50")
    floor = percentile(control, 0.99) / percentile(control, 0.5)
    lines.append(f"  noise floor: the same fixed Python loop each time, p99 {floor:.2f}× its p50 in this run (what the "
                 "machine alone does to a p99)")
    return "\n".join(lines)


def _fixed_work() -> int:
    """About as long as a decision, and always the same work."""
    total = 0
    for number in range(2500):
        total += number * number
    return total
