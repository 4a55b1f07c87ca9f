"""z3 terms that fold what is known: a value is a Python constant (bool, int, Fraction) or a z3 expression.

A remedy search fixes most of a flow, so most of a condition is known before z3 sees it; folding it in
Python keeps the formulas z3 gets small. Numbers are z3 reals (exact rationals); strings (indices into a
:class:`~engine.solver.strings.StringTable`) and dates (day ordinals) are z3 integers.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Union

import z3

__all__ = ["Terms", "Value", "Term", "is_known"]

Term = Union[bool, int, Fraction, z3.ExprRef]
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
            ">=": operator.ge}
_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def is_known(term: Term) -> bool:
    return not isinstance(term, z3.ExprRef)


@dataclass(frozen=True)
class Value:
    """A scalar of the flow as rules read it: its kind (bool, number, string, date), value, and whether it
    is there at all (a null field, a product the flow lacks)."""

    kind: str
    term: Term
    defined: Term = True


class Terms:
    """Builds terms in one z3 context (one per query: z3 contexts are not shared between threads)."""

    def __init__(self, ctx: z3.Context):
        self.ctx = ctx

    def z3(self, term: Term, kind: str = "bool") -> z3.ExprRef:
        if not is_known(term):
            return term
        if isinstance(term, bool):
            return z3.BoolVal(term, self.ctx)
        return z3.RealVal(term, self.ctx) if kind == "number" else z3.IntVal(term, self.ctx)

    def all(self, terms) -> Term:
        return _join(terms, False, z3.And)

    def any(self, terms) -> Term:
        return _join(terms, True, z3.Or)

    def not_(self, term: Term) -> Term:
        return (not term) if is_known(term) else z3.Not(term)

    def implies(self, condition: Term, then: Term) -> Term:
        return self.any([self.not_(condition), then])

    def ite(self, condition: Term, then: Term, otherwise: Term, kind: str) -> Term:
        if is_known(condition):
            return then if condition else otherwise
        if is_known(then) and is_known(otherwise) and then == otherwise and type(then) is type(otherwise):
            return then
        return z3.If(condition, self.z3(then, kind), self.z3(otherwise, kind))

    def compare(self, op: str, left: Term, right: Term, kind: str) -> Term:
        if is_known(left) and is_known(right):
            return _COMPARE[op](left, right)
        return _COMPARE[op](self.z3(left, kind), self.z3(right, kind))

    def arith(self, op: str, left: Term, right: Term) -> Term:
        if is_known(left) and is_known(right):
            return _ARITH[op](Fraction(left), Fraction(right))
        return _ARITH[op](self.z3(left, "number"), self.z3(right, "number"))

    def count(self, flags) -> Term:
        """How many of ``flags`` hold, as a number."""
        known, unknown = Fraction(0), []
        for flag in flags:
            if is_known(flag):
                known += bool(flag)
            else:
                unknown.append(z3.If(flag, self.z3(Fraction(1), "number"), self.z3(Fraction(0), "number")))
        if not unknown:
            return known
        return z3.Sum(unknown) + self.z3(known, "number") if known else z3.Sum(unknown)

    def number(self, value: Any) -> Fraction:
        """A number as the exact rational its decimal text means (0.24 is 24/100, not the nearest double)."""
        if isinstance(value, bool):
            raise TypeError("a boolean is not a number")
        return Fraction(value) if isinstance(value, (int, Fraction)) else Fraction(repr(value))


def _join(terms, absorbing: bool, combine) -> Term:
    """``combine`` (z3.And, z3.Or) of the terms z3 must decide, each once; ``absorbing`` as soon as a known term
    is (False in an and, True in an or); the neutral value if nothing is left."""
    unknown, seen = [], set()
    for term in terms:
        if is_known(term):
            if bool(term) == absorbing:
                return absorbing
        elif term.get_id() not in seen:
            seen.add(term.get_id())
            unknown.append(term)
    if not unknown:
        return not absorbing
    return unknown[0] if len(unknown) == 1 else combine(unknown)
