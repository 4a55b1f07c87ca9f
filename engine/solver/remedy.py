"""Remedies: the cheapest changes that make a denied or referred flow allowed (or conditional).

z3 finds them (MaxSMT: each change a soft constraint weighted by its cost); the engine judges them. Every
remedy returned was decided by the engine with its patch applied, reaching the outcome it states, and
needs every operation it has: without any one of them the engine no longer reaches that outcome.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import z3
from pydantic import BaseModel, ConfigDict

from engine.decision import Decision, Outcome
from engine.errors import FlowValidationError
from engine.inputs import parse_flow, rules_instant
from engine.solver.encode import Encoder, outcome_rank, read_fields
from engine.solver.patch import apply_patch, pointer
from engine.solver.query import DEFAULT_TIMEOUT_MS, Query, SolverUnknown, flow_strings, literal_strings
from engine.solver.symbolic import Edit, Leaf, Members, SymbolicFlow, cost_key
from engine.solver.terms import is_known

__all__ = ["Remedy", "Remedies", "find_remedies", "DEFAULT_REMEDIES"]

DEFAULT_REMEDIES = 3
_CONTRACT_FIELDS = {"products.kind", "payments.covers"}  # the contract's own checks read them
_TRIES_PER_REMEDY = 3  # candidates z3 may offer per remedy wanted, before the search gives up


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Remedy(_Out):
    """A JSON Patch (RFC 6902) over the flow, the outcome the engine reaches with it, the rules it stops
    firing, the obligations the decision then carries, and its cost (the sum of its operations')."""

    patch: list[dict]
    outcome: Outcome
    clears: list[str]
    obligations: list[str]
    cost: int


class Remedies(_Out):
    """The flow's own outcome and its remedies, cheapest first. ``unknown`` says why the search stopped
    short (the solver ran out of time), when it did."""

    outcome: Outcome
    remedies: list[Remedy]
    unknown: str | None = None

    def to_json(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


def find_remedies(engine, flow, *, max_remedies: int = DEFAULT_REMEDIES, as_of=None,
                  timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Remedies:
    """Up to ``max_remedies`` diverse remedies (no two change the same set of fields, none changes a superset
    of another's) for a flow the engine denies or refers; none for one it allows, with or without conditions."""
    model = parse_flow(flow)
    decision = engine.decide(model, as_of=as_of).decision  # not logged: a remedy is not a decision
    if decision.outcome not in ("deny", "review"):
        return Remedies(outcome=decision.outcome, remedies=[])
    compiled = engine.jurisdiction(model.jurisdiction)
    _, day = rules_instant(model, as_of, compiled)
    search = _Search(engine, model.model_dump(mode="json", by_alias=True), decision, compiled.segment_on(day).rules,
                     engine.tree.changes(model.jurisdiction), as_of, timeout_ms)
    found: list[Remedy] = []
    unknown = None
    for target in ("allow", "conditional"):
        found, unknown = search.run(target, max_remedies)
        if found or unknown:
            break
    return Remedies(outcome=decision.outcome, remedies=found, unknown=unknown)


@dataclass
class _Candidate:
    operations: list[tuple[dict, int]]  # (JSON Patch operation, cost)


class _Search:
    def __init__(self, judge, original: dict, decision: Decision, rules: list, costs: dict, as_of, timeout_ms: int):
        self.judge, self.original, self.as_of = judge, original, as_of
        self.fired_before = {finding.rule_id for finding in decision.findings}
        conditions = [effective.condition for effective in rules]
        named = literal_strings(conditions) | flow_strings(original) | set(judge.tree.compiled)
        self.query = Query(named, timeout_ms=timeout_ms)
        self.literals = read_fields(conditions)
        self.flow = SymbolicFlow.from_flow(self.query.terms, self.query.table, original, costs,
                                           set(self.literals) | _CONTRACT_FIELDS)
        encoder = Encoder(self.flow)
        self.rules, self.encoder, self.fired = rules, encoder, encoder.fired(rules)

    def run(self, target: str, limit: int) -> tuple[list[Remedy], str | None]:
        """Up to ``limit`` remedies reaching ``target``, and why the search stopped short, if it did."""
        terms, flow, query = self.query.terms, self.flow, self.query
        solver = query.solver()
        solver.add([terms.z3(term) for _, term in flow.constraints])
        solver.add(terms.z3(self.encoder.reaches(self.rules, self.fired, target)))
        flow.start_search(solver)
        edits = [edit for edit in flow.edits if not is_known(edit.made)]
        found: list[Remedy] = []
        cheapest = 0  # no remedy costs less than the one before: each search leaves out what the last found
        try:
            for _ in range(limit * _TRIES_PER_REMEDY):
                if len(found) == limit or not query.check(solver):
                    break
                model, cheapest = self.cheapest(solver, edits, cheapest)
                made = [edit for edit in edits if flow.evaluate(model, edit.made)]
                model = self.nearest(solver, model, made, edits)
                # the next remedy leaves one of these fields alone: it changes neither the same fields nor more
                solver.add(terms.z3(terms.any(terms.all(terms.not_(edit.made) for edit in edits if _field(edit) == name)
                                              for name in {_field(edit) for edit in made})))
                remedy = self.verify(self.candidate(made, model), target)
                if remedy is not None and all(_fields(remedy) != _fields(other) for other in found):
                    found.append(remedy)
        except SolverUnknown as error:
            return sorted(found, key=lambda remedy: remedy.cost), str(error)
        return sorted(found, key=lambda remedy: remedy.cost), None

    def cheapest(self, solver: z3.Solver, edits: list[Edit], lowest: int) -> tuple[z3.ModelRef, int]:
        """The cheapest model (MaxSMT by binary search on the total cost) of a satisfiable solver whose cheapest
        model costs at least ``lowest``, and its cost."""
        flow, weights = self.flow, [(edit.made, edit.cost) for edit in edits]
        model = solver.model()
        highest = sum(edit.cost for edit in edits if flow.evaluate(model, edit.made))
        while lowest < highest:
            middle = (lowest + highest) // 2
            solver.push()
            solver.add(z3.PbLe(weights, middle))
            if self.query.check(solver):
                model = solver.model()
                highest = sum(edit.cost for edit in edits if flow.evaluate(model, edit.made))
            else:
                lowest = middle + 1
            solver.pop()
        return model, highest

    def nearest(self, solver: z3.Solver, model: z3.ModelRef, made: list[Edit], edits: list[Edit]) -> z3.ModelRef:
        """The model with each changed number or date moved as near its value in the flow as the thresholds the
        rules compare it with allow (the same changes made, nothing else)."""
        flow = self.flow
        for edit in made:
            leaf = edit.target
            if not isinstance(leaf, Leaf) or leaf.spec.kind not in ("int", "decimal", "date"):
                continue
            before = flow.original(leaf.path)
            if before is None:
                continue
            start, now = flow.raw_of(leaf.spec, before), flow.evaluate(model, leaf.raw)
            for candidate in sorted(_near(leaf, self.literals.get(cost_key(leaf.path), ())),
                                    key=lambda value: abs(value - start)):
                if abs(candidate - start) >= abs(now - start):
                    break
                solver.push()
                solver.add([edit.made if edit in made else z3.Not(edit.made) for edit in edits])
                solver.add(leaf.raw == candidate, self.query.terms.z3(leaf.defined))
                if self.query.check(solver):
                    model = solver.model()
                    solver.pop()
                    break
                solver.pop()
        return model

    def candidate(self, made: list[Edit], model: z3.ModelRef) -> _Candidate:
        flow = self.flow
        replaced = [edit for edit in made if edit.op == "replace"]
        removed = sorted((edit for edit in made if edit.op == "remove"), key=lambda edit: edit.path, reverse=True)
        added = [edit for edit in made if edit.op == "add"]
        operations = []
        for edit in replaced:
            target = edit.target
            value = flow.decode_leaf(target, model) if isinstance(target, Leaf) else \
                flow.decode_members(target, model, flow.original(target.path)) if isinstance(target, Members) \
                else None
            operations.append(({"op": "replace", "path": pointer(edit.path), "value": value}, edit.cost))
        operations += [({"op": "remove", "path": pointer(edit.path)}, edit.cost) for edit in removed]
        operations += [({"op": "add", "path": pointer(edit.path + ("-",)),
                         "value": flow.decode_object(edit.target.obj, model)}, edit.cost) for edit in added]
        return _Candidate(operations)

    def decide(self, operations: list[tuple[dict, int]]) -> Decision | None:
        """The engine's decision on the flow with these operations applied; None if it does not validate."""
        try:
            changed = apply_patch(self.original, [op for op, _ in operations])
            return self.judge.decide(changed, as_of=self.as_of).decision
        except FlowValidationError:
            return None

    def verify(self, candidate: _Candidate, target: str) -> Remedy | None:
        """The remedy as the engine judges it, every unneeded operation dropped; None if the engine disagrees."""
        def reaches(decision: Decision | None) -> bool:
            return decision is not None and outcome_rank(decision.outcome) >= outcome_rank(target)

        operations = candidate.operations
        decision = self.decide(operations)
        if not reaches(decision):
            return None
        dropped = True
        while dropped:
            dropped = False
            for index in range(len(operations)):
                fewer = operations[:index] + operations[index + 1:]
                smaller = self.decide(fewer)
                if reaches(smaller):
                    operations, decision, dropped = fewer, smaller, True
                    break
        fired_after = {finding.rule_id for finding in decision.findings}
        return Remedy(patch=[op for op, _ in operations], outcome=decision.outcome,
                      clears=sorted(self.fired_before - fired_after),
                      obligations=[obligation.action for obligation in decision.obligations],
                      cost=sum(cost for _, cost in operations))


def _field(edit: Edit) -> str:
    """The field an edit changes, as changes are declared: payments.apr for any payment's, payments.add."""
    return cost_key(edit.path) + ("" if edit.op == "replace" else f".{edit.op}")


def _fields(remedy: Remedy) -> frozenset[str]:
    return frozenset(".".join(part for part in operation["path"].split("/")[1:] if not part.isdigit() and
                              part != "-") + ("" if operation["op"] == "replace" else f".{operation['op']}")
                     for operation in remedy.patch)


def _near(leaf: Leaf, literals) -> set[int]:
    """Raw values at and either side of each threshold a rule compares the field with, within its range."""
    spec, values = leaf.spec, set()
    for literal in literals:
        if isinstance(literal, bool) or not isinstance(literal, (int, float)):
            continue
        exact = Fraction(repr(literal)) * (spec.scale if spec.kind == "decimal" else 1)
        for value in (math.floor(exact) - 1, math.floor(exact), math.ceil(exact), math.ceil(exact) + 1):
            if spec.low <= value <= spec.high:
                values.add(value)
    return values

