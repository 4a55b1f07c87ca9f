"""Lowered conditions (rules.ir) as z3 terms over a symbolic flow, with the engine's semantics exactly.

rules.ir.evaluate is the reference: a comparison with a null (undefined) operand is false, ``Present``
tests for one, arithmetic with a null operand or a division by zero is null, ``some`` over a list is
false and ``every`` true when it is empty. Numbers are exact rationals (a literal 0.24 is 24/100).
"""
from __future__ import annotations

from engine.decision import OUTCOME_OF_EFFECT
from engine.solver.factmap import Fact, FactMap, ItemFacts, fact_map, field_of_fact
from engine.solver.symbolic import Members, SymbolicFlow
from engine.solver.terms import Term, Value
from rules.ir import FACT, And, Compare, Condition, Const, Lit, Operand, Or, Present, Quant, Ref
from rules.model import EffectiveRule

__all__ = ["Encoder", "OUTCOMES", "outcome_rank", "read_fields"]

_ABSENT = Value("number", 0, False)
OUTCOMES = ("deny", "review", "conditional", "allow")


def outcome_rank(outcome: str) -> int:
    """0 for deny … 3 for allow: a higher rank is a better outcome."""
    return OUTCOMES.index(outcome)


def read_fields(conditions, within: str = "", into: dict | None = None) -> dict[str, set]:
    """The flow fields (cost keys) the conditions read, each with the literals it is compared with;
    ``within`` is the list whose items ITEM refs read."""
    found = {} if into is None else into
    for condition in conditions:
        if isinstance(condition, (And, Or)):
            read_fields(condition.children, within, found)
        elif isinstance(condition, Quant):
            collection = _field(condition.ref, within)
            found.setdefault(collection, set())
            read_fields([condition.body], collection, found)
        elif isinstance(condition, Present):
            found.setdefault(_field(condition.ref, within), set())
        elif isinstance(condition, Compare):
            literals = found.setdefault(_field(condition.left, within), set())
            if isinstance(condition.right, Lit):
                literals.add(condition.right.value)
            operands = [condition.right]
            while operands:
                operand = operands.pop()
                if isinstance(operand, Ref):
                    found.setdefault(_field(operand, within), set())
                elif not isinstance(operand, Lit):
                    operands += [operand.left, operand.right]
    return found


def _field(ref: Ref, within: str) -> str:
    if ref.scope == FACT:
        return field_of_fact(ref.key)
    return ".".join(filter(None, [within, field_of_fact(ref.key)]))


class Encoder:
    """Encodes conditions over one symbolic flow."""

    def __init__(self, flow: SymbolicFlow):
        self.flow, self.terms, self.table = flow, flow.terms, flow.table
        self.facts = fact_map(flow)

    def condition(self, condition: Condition, item: Fact | FactMap | None = None) -> Term:
        terms = self.terms
        if isinstance(condition, Compare):
            left = self.operand(condition.left, item, None)
            right = self.operand(condition.right, item, left.kind)
            return terms.all([left.defined, right.defined,
                              terms.compare(condition.op, left.term, right.term, left.kind)])
        if isinstance(condition, Present):
            defined = self.operand(condition.ref, item, None).defined
            return defined if condition.present else terms.not_(defined)
        if isinstance(condition, And):
            return terms.all(self.condition(child, item) for child in condition.children)
        if isinstance(condition, Or):
            return terms.any(self.condition(child, item) for child in condition.children)
        if isinstance(condition, Const):
            return condition.value
        return self.quantifier(condition, item)

    def quantifier(self, condition: Quant, item: Fact | FactMap | None) -> Term:
        terms = self.terms
        collection = self._lookup(condition.ref, item)
        if isinstance(collection, ItemFacts):
            cases = [(present, facts) for present, facts in collection.slots]
        elif isinstance(collection, Members):
            cases = [(held, Value("string", self.table.index(choice))) for choice, held in collection.held.items()]
        else:
            cases = []  # a list that is not there: no items
        if condition.kind == "any":
            return terms.any(terms.all([present, self.condition(condition.body, element)])
                             for present, element in cases)
        return terms.all(terms.implies(present, self.condition(condition.body, element)) for present, element in cases)

    def operand(self, operand: Operand, item: Fact | FactMap | None, kind: str | None) -> Value:
        terms = self.terms
        if isinstance(operand, Lit):
            return self._literal(operand.value, kind)
        if isinstance(operand, Ref):
            found = self._lookup(operand, item)
            return found if isinstance(found, Value) else _ABSENT
        left, right = self.operand(operand.left, item, "number"), self.operand(operand.right, item, "number")
        defined = [left.defined, right.defined]
        if operand.op == "/":
            defined.append(terms.compare("!=", right.term, 0, "number"))
            # a division by zero is null; dividing by 1 instead keeps the term total
            divisor = terms.ite(defined[-1], right.term, 1, "number")
            return Value("number", terms.arith("/", left.term, divisor), terms.all(defined))
        return Value("number", terms.arith(operand.op, left.term, right.term), terms.all(defined))

    def _lookup(self, ref: Ref, item: Fact | FactMap | None) -> Fact | None:
        if ref.scope == FACT:
            return self.facts.get(ref.key)
        if ref.key == "":
            return item
        return item.get(ref.key) if isinstance(item, FactMap) else None

    def _literal(self, value, kind: str | None) -> Value:
        if value is None:
            return _ABSENT
        if isinstance(value, bool):
            return Value("bool", value)
        if isinstance(value, str):
            return Value("string", self.table.index(value))
        if kind == "date":
            return Value("date", int(value))
        return Value("number", self.terms.number(value))

    # decisions -------------------------------------------------------------------------------------
    def fired(self, rules: list[EffectiveRule]) -> dict[str, Term]:
        """Whether each rule fires, by rule id."""
        return {effective.rule.id: self.condition(effective.condition) for effective in rules}

    def reaches(self, rules: list[EffectiveRule], fired: dict[str, Term], outcome: str) -> Term:
        """The decision is ``outcome`` or better: no rule fires whose effect makes it worse."""
        worse = [fired[effective.rule.id] for effective in rules
                 if outcome_rank(OUTCOME_OF_EFFECT[effective.rule.spec.effect]) < outcome_rank(outcome)]
        return self.terms.not_(self.terms.any(worse))

