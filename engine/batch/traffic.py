"""Synthetic enrollment traffic: valid flows like an enrollment service's, mostly compliant,
each with the faults real traffic has at about the rates it has them.

Nothing here is real personal data: names, id numbers and phone numbers are generated
(and are redacted by the log like any other). No rule content is here either: which rules
a flow breaks is for the engine to decide on the rule packs.
"""
from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator

from engine.facts import province

__all__ = ["EXAMPLE_PERSON", "EXAMPLE_EVERY", "synthetic_flows"]

# The contract examples' applicant makes the first application and one in every
# EXAMPLE_EVERY after it, so that the docs' `licit audit query --applicant-id
# 440301199001011234` finds decisions in a log seeded with any seed.
EXAMPLE_PERSON = {"name": "张三", "id_number": "440301199001011234", "phone": "13800138000"}
EXAMPLE_EVERY = 1000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"
PROVINCES = ["CN-BJ", "CN-SH", "CN-GD", "CN-ZJ", "CN-JS", "CN-SC", "CN-HB"]
PLATFORMS = ["jd-mall", "auto-mall", "ride-app"]
INSURERS = ["sunshine-pc", "harbour-pc", "east-pc"]
PILOT = "BJ-FINTECH-PILOT-2020-01"
BEIJING = dt.timezone(dt.timedelta(hours=8))  # enrollment services stamp requests in China's time
LATENCY = dt.timedelta(seconds=1)  # at most this from a flow's request to its decision (network, queues)
REPEAT = 4  # on average a person applies this many times (renewals, abandoned and retried flows)


def synthetic_flows(jurisdictions: list[str], count: int, *, start: dt.datetime, end: dt.datetime,
                    seed: int | None = None) -> Iterator[tuple[dt.datetime, dict]]:
    """`count` (decided_at, flow) in time order, spread evenly from `start` to `end`; each flow
    is requested a fraction of a second (up to LATENCY) before it is decided. The same seed gives the same
    flows, apart from their times (which follow `start` and `end`)."""
    rng = random.Random(seed)
    people = rng.getrandbits(64)  # person n is drawn from its own generator: no table of people to hold
    step = (end - start - LATENCY) / count
    for index in range(count):
        requested = (start + step * index + step * rng.random()).astimezone(BEIJING)
        requested = requested.replace(microsecond=requested.microsecond // 1000 * 1000)  # as it is sent: in ms
        decided = requested + LATENCY * rng.uniform(0.05, 1)
        number = rng.randrange(max(count // REPEAT, 1))  # drawn always, so a seed's other records stay as they are
        person = EXAMPLE_PERSON if index % EXAMPLE_EVERY == 0 else _person(random.Random(people ^ number))
        yield decided, _flow(rng, f"F-{index + 1:08d}", rng.choice(jurisdictions), requested, person)


def _person(rng: random.Random) -> dict:
    return {
        "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
        "id_number": f"{rng.randrange(110000, 659999)}{rng.randrange(1950, 2006)}{rng.randrange(1, 13):02d}"
        f"{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}{rng.choice('0123456789X')}",
        "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
    }


def _flow(rng: random.Random, flow_id: str, code: str, requested: dt.datetime, person: dict) -> dict:
    """A compliant flow, then each fault with its own chance."""
    home = province(code) if code != "CN" else rng.choice(PROVINCES)
    platform = rng.random() < 0.6
    starts = (requested.date() + dt.timedelta(days=rng.randint(1, 30))).isoformat()
    products = [{"kind": "ctpl", "premium": 950.0, "start_date": starts, "term_months": 12, "pre_selected": True,
                 "pricing_factor": None}]
    if rng.random() < 0.8:
        products.append({"kind": "commercial", "premium": rng.randrange(150_000, 600_000) / 100,
                         "start_date": starts, "term_months": 12, "pre_selected": False,
                         "pricing_factor": rng.randrange(70, 126) / 100})
    kinds = [product["kind"] for product in products]
    groups = [kinds] if len(kinds) == 1 or rng.random() < 0.4 else [[kind] for kind in kinds]
    usage = "ride_hailing" if rng.random() < 0.05 else "private"
    payments = [_payment(rng, covers, platform) for covers in groups]
    flow = {
        "flow_id": flow_id,
        "requested_at": requested.isoformat(timespec="milliseconds"),
        "jurisdiction": code,
        "channel": {
            "kind": "partner_platform" if platform else rng.choice(["insurer_direct", "insurer_direct", "agent",
                                                                    "broker"]),
            "platform_id": rng.choice(PLATFORMS) if platform else None,
            "platform_activities": ["display", "payment_processing", "credit_provision"] if platform else [],
            "platform_licenses": ["payment", "consumer_credit"] if platform else [],
            "pilot_id": PILOT if code == "CN-BJ" and rng.random() < 0.3 else None,
        },
        "insurer": {"id": rng.choice(INSURERS), "branch_jurisdiction": home},
        "applicant": {**person, "age": rng.randint(18, 70), "real_name_verified": True, "is_student": False},
        "vehicle": {"registration_jurisdiction": code if code != "CN" else home, "usage": usage,
                    "declared_usage": usage, "new_energy": rng.random() < 0.3},
        "products": products,
        "payments": payments,
        "data_sharing": _sharing(platform, any(payment["instrument"] == "consumer_credit" for payment in payments)),
        "policy_issuance": "after_premium_received",
    }
    for chance, fault in FAULTS:
        if rng.random() < chance:
            fault(rng, flow)
    return flow


def _payment(rng: random.Random, covers: list[str], platform: bool) -> dict:
    credit = rng.random() < (0.55 if platform else 0.15)
    return {"covers": covers,
            "instrument": "consumer_credit" if credit else rng.choice(["bank_card", "debit_card", "credit_card",
                                                                       "wallet"]),
            "provider": "baitiao" if credit else None, "premium_installments": 1,
            "credit_installments": rng.choice([3, 6, 12]) if credit else 1,
            "apr": rng.choice([0.108, 0.15, 0.18, 0.2, 0.24]) if credit else None, "apr_disclosed": credit,
            "settlement": "real_time", "payee": "insurer_account"}


def _sharing(platform: bool, credit: bool) -> list[dict]:
    consent = {"obtained": True, "separate": True, "pre_checked": False}
    shared = [{"from": "platform", "to": "insurer", "categories": ["identity", "contact", "vehicle"],
               "consent": dict(consent)}] if platform else []
    if credit:
        shared.append({"from": "insurer", "to": "credit_provider", "categories": ["identity", "policy"],
                       "consent": dict(consent)})
    return shared


def _paying(flow: dict, kind: str) -> dict:
    return next(payment for payment in flow["payments"] if kind in payment["covers"])


def _credit_payments(flow: dict) -> list[dict]:
    return [payment for payment in flow["payments"] if payment["instrument"] == "consumer_credit"]


def _ctpl_in_instalments(rng, flow):
    _paying(flow, "ctpl")["premium_installments"] = rng.choice([3, 6, 12])


def _commercial_in_instalments(rng, flow):
    payment = next((p for p in flow["payments"] if p["covers"] == ["commercial"]), None)
    if payment is not None:
        payment["premium_installments"] = rng.choice([3, 6, 12])


def _platform_oversteps(rng, flow):
    channel = flow["channel"]
    if channel["kind"] == "partner_platform":
        channel["platform_activities"].append(rng.choice(["quote", "recommend", "application_handling"]))
        if rng.random() < 0.3:  # some platforms hold the licence that allows it
            channel["platform_licenses"].append("insurance_agency")


def _platform_collects(rng, flow):
    if flow["channel"]["kind"] == "partner_platform":
        flow["channel"]["platform_activities"].append("premium_collection")
        rng.choice(flow["payments"])["payee"] = "platform_account"


def _student(rng, flow):
    flow["applicant"].update(is_student=True, age=rng.randint(18, 24))


def _minor(rng, flow):
    flow["applicant"]["age"] = rng.randint(16, 17)


def _apr_hidden(rng, flow):
    for payment in _credit_payments(flow):
        payment["apr_disclosed"] = False
        if rng.random() < 0.3:
            payment["apr"] = None  # not even sent


def _apr_high(rng, flow):
    for payment in _credit_payments(flow):
        payment["apr"] = rng.choice([0.26, 0.3, 0.36])


def _settles_next_day(rng, flow):
    rng.choice(flow["payments"])["settlement"] = "t_plus_1"


def _issued_early(rng, flow):
    if rng.random() < 0.5:
        flow["policy_issuance"] = "before_premium_received"
    else:
        rng.choice(flow["payments"])["settlement"] = "deferred"


def _consent(rng, flow):
    if flow["data_sharing"]:
        consent = rng.choice(flow["data_sharing"])["consent"]
        consent.update(rng.choice([{"obtained": False, "separate": False}, {"separate": False},
                                   {"pre_checked": True}]))


def _cross_region(rng, flow):
    flow["insurer"]["branch_jurisdiction"] = rng.choice(
        [code for code in PROVINCES if code != province(flow["vehicle"]["registration_jurisdiction"])])


def _usage_misdeclared(rng, flow):
    flow["vehicle"].update(usage=rng.choice(["commercial", "ride_hailing"]), declared_usage="private")


def _pricing_out_of_range(rng, flow):
    commercial = next((p for p in flow["products"] if p["kind"] == "commercial"), None)
    if commercial is not None:
        commercial["pricing_factor"] = rng.choice([0.45, 1.32, 1.4, 1.6])


def _commercial_preselected(rng, flow):
    for product in flow["products"]:
        product["pre_selected"] = True


def _not_verified(rng, flow):
    flow["applicant"]["real_name_verified"] = False


FAULTS: list[tuple[float, Callable[[random.Random, dict], None]]] = [
    (0.10, _apr_hidden), (0.05, _apr_high), (0.04, _settles_next_day), (0.06, _commercial_in_instalments),
    (0.03, _ctpl_in_instalments), (0.04, _platform_oversteps), (0.02, _platform_collects), (0.03, _student),
    (0.005, _minor), (0.01, _issued_early), (0.04, _consent), (0.05, _cross_region), (0.01, _usage_misdeclared),
    (0.02, _pricing_out_of_range), (0.02, _commercial_preselected), (0.01, _not_verified),
]
