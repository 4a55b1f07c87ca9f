"""Hypothesis strategies for valid enrollment flows (every enum value, nulls, empty lists, many dates)."""
from __future__ import annotations

import datetime as dt

from hypothesis import strategies as st

from engine.flow import (ChannelKind, DataCategory, Instrument, Party, Payee, PlatformActivity, PlatformLicense,
                         PolicyIssuance, Settlement, VehicleUsage)

CODES = ["CN", "CN-BJ", "CN-GD", "CN-GD-SZ", "CN-SH", "CN-ZJ"]


def _values(enum) -> list[str]:
    return [member.value for member in enum]


def _subset(enum, min_size=0):
    return st.lists(st.sampled_from(_values(enum)), unique=True, min_size=min_size)


def _instant():
    return st.builds(lambda day, minutes, offset: dt.datetime.combine(day, dt.time(), dt.timezone(
        dt.timedelta(hours=offset))) + dt.timedelta(minutes=minutes),
        st.dates(dt.date(2005, 1, 1), dt.date(2027, 12, 31)), st.integers(0, 1439), st.sampled_from([8, 0, -5]))


def _product(kind):
    return st.fixed_dictionaries({
        "kind": st.just(kind), "premium": st.integers(1, 2_000_000).map(lambda fen: fen / 100), "start_date": st.just("2026-12-01"),
        "term_months": st.integers(1, 12), "pre_selected": st.booleans(),
        "pricing_factor": st.none() | st.integers(3000, 20000).map(lambda units: units / 10000)})


def _payment(covers):
    return st.fixed_dictionaries({
        "covers": st.just(covers), "instrument": st.sampled_from(_values(Instrument)),
        "provider": st.none() | st.just("baitiao"), "premium_installments": st.integers(1, 12),
        "credit_installments": st.integers(1, 24), "apr": st.none() | st.integers(0, 600_000).map(lambda units: units / 1_000_000),
        "apr_disclosed": st.booleans(), "settlement": st.sampled_from(_values(Settlement)),
        "payee": st.sampled_from(_values(Payee))})


@st.composite
def flows(draw) -> dict:
    kinds = draw(st.sampled_from([["ctpl"], ["commercial"], ["ctpl", "commercial"]]))
    products = [draw(_product(kind)) for kind in kinds]
    if len(kinds) == 2 and draw(st.booleans()):
        payments = [draw(_payment(kinds))]
    else:
        payments = [draw(_payment([kind])) for kind in kinds]
    return {
        "flow_id": "F-prop", "requested_at": draw(_instant()).isoformat(),
        "jurisdiction": draw(st.sampled_from(CODES[:5])),
        "channel": {"kind": draw(st.sampled_from(_values(ChannelKind))),
                    "platform_id": draw(st.none() | st.just("jd-mall")),
                    "platform_activities": draw(_subset(PlatformActivity)),
                    "platform_licenses": draw(_subset(PlatformLicense)),
                    "pilot_id": draw(st.none() | st.sampled_from(["BJ-FINTECH-PILOT-2020-01", "OTHER"]))},
        "insurer": {"id": "ins", "branch_jurisdiction": draw(st.sampled_from(CODES))},
        "applicant": {"name": "张三", "id_number": "440301199001011234", "phone": "13800138000",
                      "age": draw(st.integers(0, 100)), "real_name_verified": draw(st.booleans()),
                      "is_student": draw(st.booleans())},
        "vehicle": {"registration_jurisdiction": draw(st.sampled_from(CODES)),
                    "usage": draw(st.sampled_from(_values(VehicleUsage))),
                    "declared_usage": draw(st.sampled_from(_values(VehicleUsage))), "new_energy": draw(st.booleans())},
        "products": products, "payments": payments,
        "data_sharing": draw(st.lists(st.fixed_dictionaries({
            "from": st.sampled_from(_values(Party)), "to": st.sampled_from(_values(Party)),
            "categories": _subset(DataCategory, min_size=1),
            "consent": st.fixed_dictionaries({"obtained": st.booleans(), "separate": st.booleans(),
                                              "pre_checked": st.booleans()})}), max_size=3)),
        "policy_issuance": draw(st.sampled_from(_values(PolicyIssuance))),
    }
