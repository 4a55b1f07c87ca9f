"""What every solver query starts from: a z3 context of its own, a string table, and a bounded solver."""
from __future__ import annotations

import datetime as dt
import time
from typing import Iterable

import z3

from engine.solver.shape import enums
from engine.solver.strings import StringTable
from engine.solver.terms import Terms
from rules.ir import And, Arith, Compare, Condition, Lit, Or, Quant

__all__ = ["Query", "SolverUnknown", "literal_strings", "flow_strings", "noon", "DEFAULT_TIMEOUT_MS"]

DEFAULT_TIMEOUT_MS = 2000  # per query (one flow's remedies, one analysis question): past it, unknown


def literal_strings(conditions: Iterable[Condition]) -> set[str]:
    """Every string a condition compares with (parameter values are literals once lowered)."""
    found: set[str] = set()
    stack = list(conditions)
    while stack:
        item = stack.pop()
        if isinstance(item, (And, Or)):
            stack += item.children
        elif isinstance(item, Quant):
            stack.append(item.body)
        elif isinstance(item, Compare):
            stack += [item.left, item.right]
        elif isinstance(item, Arith):
            stack += [item.left, item.right]
        elif isinstance(item, Lit) and isinstance(item.value, str):
            found.add(item.value)
    return found


def flow_strings(flow: dict) -> set[str]:
    """Every string value in a flow (as JSON); enum values and dates among them are harmless."""
    found, stack = set(), [flow]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack += item.values()
        elif isinstance(item, list):
            stack += item
        elif isinstance(item, str):
            found.add(item)
    return found


class SolverUnknown(Exception):
    """z3 did not decide a query in the time it was given (or gave up): the answer is unknown."""


class Query:
    """One question to z3: its own context (so queries may run in parallel threads), terms, string table, and
    a time budget shared by every call it makes."""

    def __init__(self, named: Iterable[str], *, fresh: int = 0, timeout_ms: int = DEFAULT_TIMEOUT_MS):
        self.ctx = z3.Context()
        self.terms = Terms(self.ctx)
        self.table = StringTable(enums(), named, fresh_texts=fresh, fresh_codes=fresh)
        self.timeout_ms = timeout_ms
        self.start()

    def start(self) -> None:
        """Begin a question: the calls from here on share ``timeout_ms``."""
        self._deadline = time.monotonic() + self.timeout_ms / 1000

    def solver(self) -> z3.Solver:
        # the plain SMT solver: incremental, and it takes the values a search starts from
        return z3.SimpleSolver(ctx=self.ctx)

    def check(self, solver: z3.Solver, *assumptions) -> bool:
        """Whether the solver's assertions (and ``assumptions``) can hold; SolverUnknown past the budget."""
        left = int((self._deadline - time.monotonic()) * 1000)
        if left <= 0:
            raise SolverUnknown(f"the solver did not finish within {self.timeout_ms} ms")
        solver.set("timeout", left)
        verdict = solver.check(*assumptions)
        if verdict == z3.unknown:
            reason = solver.reason_unknown()
            raise SolverUnknown(f"the solver did not finish within {self.timeout_ms} ms" if reason in
                                ("timeout", "canceled") else f"the solver gave up: {reason}")
        return verdict == z3.sat


def noon(day: dt.date, utc_offset: str) -> str:
    """An instant on ``day`` in a jurisdiction's local time, for a flow the solver made up."""
    return f"{day.isoformat()}T12:00:00{utc_offset}"
