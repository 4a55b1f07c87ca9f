"""Synthetic rule packs for measuring how the engine scales with the number of rules (``licit bench --rules-curve``).

Each rule is one of the forms the shipped packs use (a threshold, an enum test, a membership test, a
quantifier over payments or data sharing, a derived fact), with constants drawn from a seeded generator,
so a pack of N rules is the same on every run and rules fire as rarely as real ones do. With
``dated=True`` every rule gets its own start date (the worst case for cutting a tree into segments).
"""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

__all__ = ["write_synthetic_tree"]

_INSTRUMENTS = ["bank_card", "debit_card", "credit_card", "consumer_credit", "wallet"]
_ACTIVITIES = ["display", "quote", "recommend", "application_handling", "premium_collection", "payment_processing",
               "credit_provision"]
_LICENSES = ["payment", "consumer_credit", "insurance_agency", "insurance_brokerage"]
_CATEGORIES = ["identity", "contact", "vehicle", "policy", "financial_account", "credit_history"]
_PROVINCES = ["CN-GD", "CN-BJ", "CN-SH", "CN-ZJ", "CN-JS", "CN-SC"]

# (effect, condition template); each {name} is drawn by _draw
_FORMS = [
    ("deny", "applicant.age < {age} and some p in payments satisfies p.instrument == {instrument}"),
    ("review", "some p in payments satisfies p.instrument == {instrument} and p.credit_installments > {months}"),
    ("deny", "vehicle.usage == {usage} and product(\"commercial\").premium > {amount}"),
    ("deny", "{activity} in channel.platform_activities and {license} not in channel.platform_licenses"),
    ("require", "some d in data_sharing satisfies d.to == {party} and {category} in d.categories "
                "and d.consent.separate == false"),
    ("review", "payment_for({kind}).premium_installments > {installments}"),
    ("review", "province(vehicle.registration_jurisdiction) == {province} and vehicle.new_energy"),
    ("warn", "product({kind}).term_months < {term}"),
    ("deny", "some p in payments satisfies p.apr > {apr} and p.settlement == {settlement}"),
    ("review", "channel.kind == {channel} and applicant.age > {old}"),
    ("deny", "product(\"ctpl\").premium > {big} or product(\"commercial\").pricing_factor > {factor}"),
    ("require", "policy_issuance == {issuance} or some p in payments satisfies p.payee == {payee}"),
]


def _draw(rng: random.Random) -> dict[str, object]:
    quote = json.dumps
    return {
        "age": rng.randint(16, 21), "old": rng.randint(70, 90), "months": rng.randint(12, 48),
        "instrument": quote(rng.choice(_INSTRUMENTS)), "usage": quote(rng.choice(["commercial", "ride_hailing"])),
        "amount": rng.choice([8000, 9000, 12000, 20000]), "activity": quote(rng.choice(_ACTIVITIES[1:5])),
        "license": quote(rng.choice(_LICENSES[2:])), "party": quote(rng.choice(["insurer", "credit_provider"])),
        "category": quote(rng.choice(_CATEGORIES[3:])), "kind": quote(rng.choice(["ctpl", "commercial"])),
        "installments": rng.randint(2, 12), "province": quote(rng.choice(_PROVINCES[3:])),
        "term": rng.randint(2, 6), "apr": round(rng.uniform(0.3, 0.6), 2),
        "settlement": quote(rng.choice(["deferred", "t_plus_1"])),
        "channel": quote(rng.choice(["agent", "broker"])), "big": rng.choice([5000, 8000]),
        "factor": round(rng.uniform(1.6, 2.5), 2), "issuance": quote("before_premium_received"),
        "payee": quote(rng.choice(["third_party_account", "platform_account"])),
    }


def _rule(index: int, rng: random.Random, start: dt.date) -> str:
    effect, form = _FORMS[index % len(_FORMS)]
    when = form.format(**_draw(rng))
    action = "    action: synthetic_obligation\n" if effect == "require" else ""
    return (f"  - id: CN.SYNTHETIC.R{index:05d}\n    title: synthetic rule {index}\n    effect: {effect}\n{action}"
            f"    when: {json.dumps(when, ensure_ascii=False)}\n    effective_from: {start.isoformat()}\n"
            f"    citation: {{source: synthetic, status: illustrative}}\n"
            f"    message: {{zh: 合成规则, en: synthetic rule}}\n    remedy: none, it is synthetic\n")


def write_synthetic_tree(root: Path, rules: int, *, dated: bool = False, seed: int = 1) -> Path:
    """Write a tree with one jurisdiction, CN, holding ``rules`` synthetic rules; return ``root``.

    Rules start on 2020-01-01, or with ``dated`` each on its own day counting back from there."""
    rng = random.Random(seed)
    first = dt.date(2020, 1, 1)
    folder = Path(root) / "CN"
    folder.mkdir(parents=True, exist_ok=True)
    text = "rules:\n" + "".join(_rule(index, rng, first - dt.timedelta(days=index if dated else 0))
                                for index in range(rules))
    (folder / "synthetic.yaml").write_text(text, encoding="utf-8")
    return Path(root)
