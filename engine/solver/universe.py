"""Every valid flow of one jurisdiction, as z3 sees it: what analyses and equivalence checks ask about.

A universe holds one symbolic flow with every field free (the jurisdiction is given), the contract's checks
as named groups (so an unsatisfiable core can name the ones it needs), and each condition encoded once.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

import z3

from engine.flow import Flow
from engine.inputs import FIRST_DAY, LAST_DAY
from engine.solver.encode import Encoder
from engine.solver.query import DEFAULT_TIMEOUT_MS, Query, flow_strings, literal_strings
from engine.solver.shape import fields_of
from engine.solver.symbolic import SymbolicFlow
from engine.solver.terms import Term
from rules.ir import And, Condition, Or, Quant

__all__ = ["Universe", "instant_on", "in_range"]

_POOL = 4  # flows kept per pool

# the applicant's identifiers are no facts (rules cannot read them): a made-up flow has these
_PERSON = {"applicant.name": "王五", "applicant.id_number": "110101199001010000", "applicant.phone": "13900000000"}
# where z3 starts when it makes a flow up, so that the flows it reports read like real ones
_PLAIN_PAYMENT = {"instrument": "bank_card", "provider": None, "premium_installments": 1, "credit_installments": 1,
                  "apr": None, "apr_disclosed": False, "settlement": "real_time", "payee": "insurer_account"}
_PLAIN_PRODUCT = {"start_date": "2026-12-01", "term_months": 12, "pre_selected": False, "pricing_factor": None}
PLAIN_FLOW = {
    "flow_id": "F-solver-example",
    "channel": {"kind": "insurer_direct", "platform_id": None, "platform_activities": [], "platform_licenses": [],
                "pilot_id": None},
    "insurer": {"id": "insurer", "branch_jurisdiction": "CN"},
    "applicant": {"age": 36, "real_name_verified": True, "is_student": False},
    "vehicle": {"registration_jurisdiction": "CN", "usage": "private", "declared_usage": "private",
                "new_energy": False},
    "products": [dict(_PLAIN_PRODUCT, kind="ctpl", premium=950.0),
                 dict(_PLAIN_PRODUCT, kind="commercial", premium=3200.0, pricing_factor=1.0)],
    "payments": [dict(_PLAIN_PAYMENT, covers=["ctpl"]), dict(_PLAIN_PAYMENT, covers=["commercial"])],
    "data_sharing": [{"from": "platform", "to": "insurer", "categories": ["identity"],
                      "consent": {"obtained": True, "separate": True, "pre_checked": False}}],
    "policy_issuance": "after_premium_received",
}


def _quantifiers(conditions: Iterable[Condition], list_key: str) -> int:
    """How many quantifiers over the list ``list_key`` the conditions hold (in either polarity)."""
    count, stack = 0, list(conditions)
    while stack:
        item = stack.pop()
        if isinstance(item, (And, Or)):
            stack += item.children
        elif isinstance(item, Quant):
            count += item.ref.key == list_key
            stack.append(item.body)
    return count


def _string_fields(slots: dict[str, int]) -> int:
    """How many string fields a flow with these list slots has: enough fresh strings for all to differ."""
    def count(model, times: int) -> int:
        total = 0
        for spec in fields_of(model):
            if spec.kind == "string" and not spec.choices:
                total += times
            elif spec.kind == "object":
                total += count(spec.model, times)
            elif spec.kind == "items":
                total += count(spec.model, times * min(slots.get(spec.key, spec.high), spec.high))
        return total
    return count(Flow, 1)


def in_range(start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date] | None:
    """The days of a period a flow may be dated on (the engine decides 2000-2099 only), or None."""
    first, last = max(start or FIRST_DAY, FIRST_DAY), min(end or LAST_DAY, LAST_DAY)
    return (first, last) if first <= last else None


def instant_on(day: dt.date, utc_offset: str, hour: int = 12) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00{utc_offset}"


class Universe:
    """Valid flows of ``code``, over the strings ``named`` and the conditions they will be asked about."""

    def __init__(self, code: str, conditions: list[Condition], named: Iterable[str],
                 timeout_ms: int = DEFAULT_TIMEOUT_MS):
        slots = {"data_sharing": max(1, _quantifiers(conditions, "data_sharing"))}
        self.query = Query(set(named) | literal_strings(conditions) | flow_strings(PLAIN_FLOW) | {code},
                           fresh=_string_fields(slots), timeout_ms=timeout_ms)
        self.terms = self.query.terms
        self.flow = SymbolicFlow.free(self.terms, self.query.table, {"jurisdiction": code, **_PERSON}, slots,
                                      PLAIN_FLOW)
        self.encoder = Encoder(self.flow)
        self.solver = self.query.solver()
        self.flow.start_search(self.solver)
        self.contract: dict[z3.BoolRef, str] = {}  # a literal per group of the contract's checks → its name
        groups: dict[str, list[Term]] = {}
        for name, term in self.flow.constraints:
            groups.setdefault(name, []).append(term)
        for name, terms in groups.items():
            self.contract[self.assume(self.terms.all(terms), name)] = name
        self._terms: dict[Condition, Term] = {}
        self._pools: dict[object, list[z3.ModelRef]] = {}
        self.model: z3.ModelRef | None = None

    def condition(self, condition: Condition) -> Term:
        if condition not in self._terms:
            self._terms[condition] = self.encoder.condition(condition)
        return self._terms[condition]

    def assume(self, term: Term, name: str) -> z3.BoolRef:
        """A fresh literal that stands for ``term`` whenever it is assumed."""
        literal = z3.Bool(f"?{len(self.solver.assertions())}:{name}", self.terms.ctx)
        self.solver.add(z3.Implies(literal, self.terms.z3(term)))
        return literal

    def check(self, *assumptions: z3.BoolRef) -> bool:
        """Whether a valid flow satisfies every assumption; SolverUnknown past the question's time."""
        return self.query.check(self.solver, *self.contract, *assumptions)

    def find(self, literals: list[z3.BoolRef], terms: list[Term], pool: object) -> bool:
        """Whether a valid flow satisfies every term (each standing for its literal); a flow found before for
        the same ``pool`` is tried first, so that most questions with an answer need no solver call."""
        models = self._pools.setdefault(pool, [])
        for model in reversed(models):
            if all(self.flow.evaluate(model, term) for term in terms):
                self.model = model
                return True
        if not self.check(*literals):
            return False
        self.model = self.solver.model()
        models.append(self.model)
        del models[:-_POOL]
        return True

    def core(self, assumptions: list[z3.BoolRef]) -> list[z3.BoolRef]:
        """A minimal part of the contract and ``assumptions`` that cannot hold together (after an unsat check)."""
        core = [literal for literal in self.solver.unsat_core()]
        for literal in list(core):
            rest = [other for other in core if not other.eq(literal)]
            if not self.query.check(self.solver, *rest):
                core = rest
        return core

    def witness(self, instant: str) -> dict:
        """The flow the last :meth:`find` found, dated ``instant``."""
        return self.flow.decode(self.model, instant)

