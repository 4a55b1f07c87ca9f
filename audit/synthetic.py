"""Realistic synthetic decisions, for seeding a log, benchmarks and tests.

Nothing here is real personal data: names, id numbers and phone numbers are
generated (and are redacted by the log like any other).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from audit.canonical import ruleset_digest

CHAINS = {
    "CN": ["CN"],
    "CN-BJ": ["CN", "CN-BJ"],
    "CN-GD": ["CN", "CN-GD"],
    "CN-GD-SZ": ["CN", "CN-GD", "CN-GD-SZ"],
    "CN-SH": ["CN", "CN-SH"],
}

# (rule id, effect, obligation action, title, zh, en, source, article, status)
RULES = [
    (
        "CN.CTPL.LUMP_SUM",
        "deny",
        None,
        "CTPL premium paid in one sum",
        "交强险保费应当一次性支付，不得分期向保险公司缴纳。",
        "The CTPL premium must reach the insurer in a single payment.",
        "《机动车交通事故责任强制保险条例》",
        "第十二条",
        "verified",
    ),
    (
        "CN.PREMIUM.PAYEE",
        "deny",
        None,
        "Premium paid into the insurer's account",
        "保费应直接转入保险公司专用账户，第三方平台不得代收保费。",
        "Premiums must be paid directly into the insurer's account; platforms may not collect them.",
        "《互联网保险业务监管办法》(银保监会令2020年第13号)",
        "第二十三条",
        "verified",
    ),
    (
        "CN.PLATFORM.UNLICENSED_SALES",
        "deny",
        None,
        "Unlicensed platform sells insurance",
        "非保险机构不得比较产品、计算报价、办理投保或代收保费。",
        "A platform without an agency or brokerage licence may not quote, recommend or collect premiums.",
        "《互联网保险业务监管办法》",
        "第二十三条",
        "verified",
    ),
    (
        "CN.CREDIT.STUDENT",
        "deny",
        None,
        "No consumer credit for college students",
        "不得向在校大学生提供互联网消费贷款。",
        "Internet consumer credit may not be extended to college students.",
        "《关于进一步规范大学生互联网消费贷款监督管理工作的通知》",
        "二",
        "illustrative",
    ),
    (
        "CN.CREDIT.APR_DISCLOSURE",
        "require",
        "disclose_annualized_rate",
        "Show the annualised rate",
        "贷款营销应以明显方式展示年化利率。",
        "The annualised rate must be shown prominently before the applicant commits.",
        "中国人民银行公告〔2021〕第3号",
        "一",
        "verified",
    ),
    (
        "CN.CREDIT.APR_REVIEW",
        "review",
        None,
        "High annualised rate",
        "年化利率超过内部复核阈值，需人工复核。",
        "The annualised rate exceeds the internal review threshold.",
        "internal review policy",
        "-",
        "illustrative",
    ),
    (
        "CN.AUTO.T1_SETTLEMENT",
        "require",
        "issue_after_settlement",
        "Issue after T+1 settlement",
        "T+1结算的保费须到账后方可出单。",
        "With T+1 settlement the policy is issued only after the premium arrives.",
        "见费出单 local regulator notices",
        "-",
        "illustrative",
    ),
    (
        "CN.PIPL.CONSENT_NOT_SEPARATE",
        "deny",
        None,
        "Separate consent for data sharing",
        "向其他方提供个人信息应取得个人的单独同意。",
        "Sharing personal data with another party needs the individual's separate consent.",
        "《个人信息保护法》",
        "第二十三条",
        "verified",
    ),
    (
        "CN.AUTO.CROSS_REGION",
        "review",
        None,
        "Cross-region online motor insurance",
        "车辆登记地与承保分支机构不在同一省份，需复核。",
        "The vehicle is registered outside the underwriting branch's province.",
        "金融监管总局《关于加强和改进互联网财产保险业务监管有关事项的通知》",
        "三",
        "verified",
    ),
    (
        "CN.COMMERCIAL.PREMIUM_INSTALLMENTS",
        "review",
        None,
        "Commercial premium in instalments",
        "商业险保费分期缴纳需复核。",
        "A commercial premium paid in instalments is referred for review.",
        "internal review policy",
        "-",
        "illustrative",
    ),
    (
        "CN-SH.CREDIT.APR_CAP",
        "deny",
        None,
        "Annualised rate cap (Shanghai)",
        "年化利率超过上限，不得以信用方式支付保费。",
        "Credit above the annualised rate cap may not pay the premium.",
        "illustrative regional rule",
        "-",
        "illustrative",
    ),
    (
        "CN-GD-SZ.RIDE_HAILING.COMMERCIAL_REQUIRED",
        "review",
        None,
        "Ride-hailing needs commercial cover",
        "网约车应投保商业险。",
        "A ride-hailing vehicle should carry commercial insurance.",
        "illustrative regional rule",
        "-",
        "illustrative",
    ),
]
# How often each rule fires, so that the log looks like a real one (most flows pass).
WEIGHTS = [10, 7, 6, 4, 12, 4, 3, 3, 5, 5, 2, 1]
OUTCOME_OF_EFFECT = {"deny": "deny", "review": "review", "require": "conditional", "warn": "allow"}
PRECEDENCE = ["deny", "review", "conditional", "allow"]
# The contract examples' applicant makes the first application and one in every
# EXAMPLE_EVERY after it, so that README's `licit audit query --applicant-id
# 440301199001011234` finds decisions in a log seeded with any seed.
EXAMPLE_PERSON = {"name": "张三", "id_number": "440301199001011234", "phone": "13800138000"}
EXAMPLE_EVERY = 1000
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英"


def ruleset_for(jurisdiction: str, version: int) -> dict:
    """A rule set whose files look like the shipped packs; `version` stands for a
    rule-pack release (the log stores each distinct one once)."""
    chain = CHAINS[jurisdiction]
    files = {}
    for code in chain:
        rules = [r for r in RULES if r[0].split(".")[0] == code]
        body = "".join(
            f"  - id: {r[0]}\n    effect: {r[1]}\n    title: {r[3]}\n    citation:\n"
            f'      source: "{r[6]}"\n      article: "{r[7]}"\n      status: {r[8]}\n'
            for r in rules
        )
        files[f"{code}/rules.yaml"] = f"# {code} rule pack, release {version}\nversion: {version}\nrules:\n{body}"
    return {"digest": ruleset_digest(files), "jurisdiction_chain": chain, "files": files}


def synthetic_decisions(
    count: int, *, start: datetime | None = None, days: float = 365.0, seed: int | None = None
) -> Iterator[tuple[dict, dict, dict, float]]:
    """`count` (decision, flow, ruleset, duration_s) in time order, spread evenly over
    `days` days ending now (or starting at `start`)."""
    rng = random.Random(seed)
    end = datetime.now(timezone.utc)
    start = start or end - timedelta(days=days)
    step = timedelta(days=days) / max(count, 1)
    rulesets = {(code, version): ruleset_for(code, version) for code in CHAINS for version in (1, 2)}
    people = [EXAMPLE_PERSON] + [_person(rng) for _ in range(count // 4)]  # some apply more than once
    for index in range(count):
        moment = (
            start + step * index + timedelta(microseconds=rng.randrange(max(int(step / timedelta(microseconds=1)), 1)))
        )
        jurisdiction = rng.choice(list(CHAINS))
        ruleset = rulesets[(jurisdiction, 1 if index < count // 2 else 2)]
        person = rng.choice(people)  # drawn even when replaced, so a seed's other records stay as they were
        flow = _flow(rng, index, jurisdiction, moment, EXAMPLE_PERSON if index % EXAMPLE_EVERY == 0 else person)
        decision = _decision(rng, flow, jurisdiction, moment, ruleset["digest"])
        yield decision, flow, ruleset, rng.uniform(0.0004, 0.004)


def _person(rng: random.Random) -> dict:
    return {
        "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
        "id_number": f"{rng.randrange(110000, 659999)}{rng.randrange(1950, 2006)}{rng.randrange(1, 13):02d}"
        f"{rng.randrange(1, 29):02d}{rng.randrange(1000):03d}{rng.choice('0123456789X')}",
        "phone": f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
    }


def _flow(rng: random.Random, index: int, jurisdiction: str, moment: datetime, person: dict) -> dict:
    credit = rng.random() < 0.6
    return {
        "flow_id": f"F-{index + 1:08d}",
        "requested_at": moment.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="seconds"),
        "jurisdiction": jurisdiction,
        "channel": {
            "kind": rng.choice(["partner_platform", "insurer_direct", "agent"]),
            "platform_id": "jd-mall",
            "platform_activities": ["display", "payment_processing", "credit_provision"],
            "platform_licenses": ["payment", "consumer_credit"],
            "pilot_id": None,
        },
        "insurer": {
            "id": "sunshine-pc",
            "branch_jurisdiction": CHAINS[jurisdiction][min(1, len(CHAINS[jurisdiction]) - 1)],
        },
        "applicant": {
            **person,
            "age": rng.randint(18, 75),
            "real_name_verified": True,
            "is_student": rng.random() < 0.05,
        },
        "vehicle": {
            "registration_jurisdiction": jurisdiction,
            "usage": "private",
            "declared_usage": "private",
            "new_energy": rng.random() < 0.3,
        },
        "products": [
            {
                "kind": "ctpl",
                "premium": 950.0,
                "start_date": moment.date().isoformat(),
                "term_months": 12,
                "pre_selected": True,
                "pricing_factor": None,
            },
            {
                "kind": "commercial",
                "premium": round(rng.uniform(1500, 6000), 2),
                "start_date": moment.date().isoformat(),
                "term_months": 12,
                "pre_selected": False,
                "pricing_factor": round(rng.uniform(0.6, 1.3), 2),
            },
        ],
        "payments": [
            {
                "covers": ["ctpl", "commercial"],
                "instrument": "consumer_credit" if credit else "bank_card",
                "provider": "baitiao" if credit else None,
                "premium_installments": 1,
                "credit_installments": rng.choice([3, 6, 12]) if credit else 1,
                "apr": 0.18 if credit else None,
                "apr_disclosed": rng.random() < 0.8,
                "settlement": "real_time",
                "payee": "insurer_account",
            },
        ],
        "data_sharing": [
            {
                "from": "platform",
                "to": "insurer",
                "categories": ["identity", "vehicle"],
                "consent": {"obtained": True, "separate": True, "pre_checked": False},
            }
        ],
        "policy_issuance": "after_premium_received",
    }


def _decision(rng: random.Random, flow: dict, jurisdiction: str, moment: datetime, digest: str) -> dict:
    chain = CHAINS[jurisdiction]
    eligible = [(rule, weight) for rule, weight in zip(RULES, WEIGHTS) if rule[0].split(".")[0] in chain]
    fired = {rule for rule, weight in eligible if rng.random() < weight / 100}
    fired = [rule for rule, _ in eligible if rule in fired]  # stable order
    outcomes = {OUTCOME_OF_EFFECT[rule[1]] for rule in fired} | {"allow"}
    return {
        "decision_id": _decision_id(rng, moment),
        "flow_id": flow["flow_id"],
        "evaluated_at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "as_of": flow["requested_at"],
        "jurisdiction": jurisdiction,
        "jurisdiction_chain": chain,
        "outcome": next(o for o in PRECEDENCE if o in outcomes),
        "findings": [
            {
                "rule_id": r[0],
                "jurisdiction": r[0].split(".")[0],
                "effect": r[1],
                "title": r[3],
                "message": {"zh": r[4], "en": r[5]},
                "citation": {"source": r[6], "article": r[7], "url": None, "status": r[8], "note": ""},
                "remedy": "See the rule's remedy in the rule pack.",
                "action": r[2],
            }
            for r in fired
        ],
        "obligations": [{"rule_id": r[0], "action": r[2], "message": {"zh": r[4], "en": r[5]}} for r in fired if r[2]],
        "ruleset": {"digest": digest},
        "engine_version": "0.1.0",
    }


def _decision_id(rng: random.Random, moment: datetime) -> str:
    """In the engine's form (engine.decision.new_decision_id): 48 bits of milliseconds
    then 80 random bits as 32 hex digits, so ids sort by time; drawn from `rng`, so
    that a seed repeats its log."""
    return f"{int(moment.timestamp() * 1000):012x}{rng.getrandbits(80):020x}"
