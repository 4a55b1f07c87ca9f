"""z3's encoding and the engine agree: on random flows, every rule z3 says fires is one the engine fires.

As Cedar tests its symbolic compiler against its evaluator: the same flow, decided by the engine, by the
encoding with every field a constant (folded in Python), with every field a z3 variable pinned to the flow,
and as a witness z3 builds from nothing but the engine's pattern of fired rules.
"""
from __future__ import annotations

import z3
from hypothesis import HealthCheck, given, settings

from engine.errors import FlowValidationError
from engine.inputs import parse_flow, rules_instant
from engine.solver.encode import Encoder
from engine.solver.query import Query, flow_strings, literal_strings
from engine.solver.symbolic import SymbolicFlow
from engine.solver.universe import Universe
from tests.strategies import flows

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def decided(engine, flow: dict):
    """The flow as JSON, its segment's rules, and the rules the engine fires; None if it cannot be decided."""
    try:
        decision = engine.evaluate(flow)
    except FlowValidationError:
        return None
    model = parse_flow(flow)
    compiled = engine.jurisdiction(model.jurisdiction)
    _, day = rules_instant(model, None, compiled)
    return (model.model_dump(mode="json", by_alias=True), compiled.segment_on(day).rules,
            {finding.rule_id for finding in decision.findings})


def encoded(engine, flow: dict, rules, every_field_free: bool):
    conditions = [effective.condition for effective in rules]
    query = Query(literal_strings(conditions) | flow_strings(flow) | set(engine.tree.compiled))
    # every field a variable, and items may be added (but not fifty sharings: a slow test, the same code)
    costs = {path: (1 if every_field_free and path != "data_sharing.add" else None)
             for path in engine.tree.changes(flow["jurisdiction"])}
    symbolic = SymbolicFlow.from_flow(query.terms, query.table, flow, costs)
    return query, symbolic, Encoder(symbolic).fired(rules)


def agree_folded(engine, flow: dict) -> None:
    found = decided(engine, flow)
    if found is None:
        return
    flow, rules, fired = found
    _, _, terms = encoded(engine, flow, rules, every_field_free=False)
    assert all(isinstance(term, bool) for term in terms.values())  # nothing left for z3: all folded
    assert {rule_id for rule_id, term in terms.items() if term} == fired


def agree_in_z3(engine, flow: dict) -> None:
    found = decided(engine, flow)
    if found is None:
        return
    flow, rules, fired = found
    query, symbolic, terms = encoded(engine, flow, rules, every_field_free=True)
    solver = query.solver()
    solver.add([query.terms.z3(term) for _, term in symbolic.constraints])
    solver.add([z3.Not(edit.made) for edit in symbolic.edits])  # the flow as it is: nothing changed
    assert solver.check() == z3.sat, "the flow itself does not satisfy the encoding of the contract"
    model = solver.model()
    assert {rule_id for rule_id, term in terms.items() if symbolic.evaluate(model, term)} == fired


_UNIVERSES: dict = {}


def universe_of(engine, code: str) -> Universe:
    """One universe per jurisdiction, asked about every rule of every segment (as an analysis does)."""
    key = (id(engine), code)
    if key not in _UNIVERSES:
        conditions = [effective.condition for segment in engine.jurisdiction(code).segments
                      for effective in segment.rules]
        _UNIVERSES[key] = Universe(code, conditions, set(engine.tree.compiled), timeout_ms=20_000)
    return _UNIVERSES[key]


def agree_on_witness(engine, flow: dict) -> None:
    found = decided(engine, flow)
    if found is None:
        return
    flow, rules, fired = found
    universe = universe_of(engine, flow["jurisdiction"])
    universe.query.start()
    pattern = [term if effective.rule.id in fired else universe.terms.not_(term)
               for effective in rules for term in [universe.condition(effective.condition)]]
    universe.solver.push()  # this flow's pattern goes with it: the universe serves the next example as it was
    try:
        literals = [universe.assume(term, "pattern") for term in pattern]
        assert universe.find(literals, pattern, pool=object()), "z3 finds no valid flow firing what the engine fired"
        witness = universe.witness(flow["requested_at"])
    finally:
        universe.solver.pop()
    assert {finding.rule_id for finding in engine.evaluate(witness).findings} == fired


@SETTINGS
@given(flow=flows())
def test_folded_encoding_agrees_on_shipped_packs(shipped_engine, flow):
    agree_folded(shipped_engine, flow)


@SETTINGS
@given(flow=flows())
def test_folded_encoding_agrees_on_every_construct(construct_engine, flow):
    agree_folded(construct_engine, dict(flow, jurisdiction="CN"))


@SETTINGS
@given(flow=flows())
def test_z3_encoding_agrees_on_shipped_packs(shipped_engine, flow):
    agree_in_z3(shipped_engine, flow)


@SETTINGS
@given(flow=flows())
def test_z3_encoding_agrees_on_every_construct(construct_engine, flow):
    agree_in_z3(construct_engine, dict(flow, jurisdiction="CN"))


@SETTINGS
@given(flow=flows())
def test_witnesses_agree_on_shipped_packs(shipped_engine, flow):
    agree_on_witness(shipped_engine, flow)


@SETTINGS
@given(flow=flows())
def test_witnesses_agree_on_every_construct(construct_engine, flow):
    agree_on_witness(construct_engine, dict(flow, jurisdiction="CN"))
