"""Whether two rule trees decide every valid flow alike: the same outcome and the same fired rules.

Per jurisdiction (of either tree) and per span of days on which neither tree's rule set changes, z3 looks for
a valid flow the trees decide differently. A counterexample is reported only once both engines, deciding it,
disagree: the semantic companion of ``licit rules diff``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from engine.decision import OUTCOME_OF_EFFECT
from engine.errors import LicitError
from engine.solver.encode import outcome_rank
from engine.solver.query import DEFAULT_TIMEOUT_MS, SolverUnknown
from engine.solver.terms import Term
from engine.solver.universe import Universe, in_range, instant_on
from rules.model import Segment

__all__ = ["Equivalence", "compare_trees"]

_UNCONFIRMED = "z3 found a flow the trees decide differently, but the engine decides it alike: not reported"


@dataclass
class Equivalence:
    """``equivalent`` None: unknown, with the ``reason``."""

    jurisdiction: str
    start: dt.date | None
    end: dt.date | None
    as_of: str
    equivalent: bool | None
    counterexample: dict | None = None
    decided: dict | None = None  # how each tree decides the counterexample: {"old": ..., "new": ...}
    reason: str | None = None

    def to_json(self) -> dict:
        found = {"jurisdiction": self.jurisdiction, "as_of": self.as_of, "equivalent": self.equivalent}
        if self.counterexample is not None:
            found["counterexample"], found["decided"] = self.counterexample, self.decided
        if self.reason is not None:
            found["unknown"] = self.reason
        return found


def compare_trees(old_engine, new_engine, codes: list[str] | None = None, *,
                  timeout_ms: int = DEFAULT_TIMEOUT_MS) -> list[Equivalence]:
    results = []
    for code in sorted(codes or set(old_engine.tree.compiled) | set(new_engine.tree.compiled)):
        results += _Comparison(old_engine, new_engine, code, timeout_ms).run()
    return results


def _decision(engine, flow: dict) -> dict:
    """What an engine makes of a flow: its outcome and fired rules, or the error that refuses it."""
    try:  # decided under the rules of its own date (the comparison's), however long ago or ahead it is
        decision = engine.decide(flow, as_of=dt.datetime.fromisoformat(flow["requested_at"])).decision  # never logged
    except LicitError as error:
        return {"refused": str(error)}
    return {"outcome": decision.outcome, "fired": sorted(finding.rule_id for finding in decision.findings)}


class _Comparison:
    def __init__(self, old, new, code: str, timeout_ms: int):
        self.old, self.new, self.code = old, new, code
        self.trees = [engine.tree.compiled.get(code) for engine in (old, new)]
        segments = [segment for compiled in self.trees if compiled for segment in compiled.segments]
        named = set(old.tree.compiled) | set(new.tree.compiled)
        self.universe = Universe(code, [effective.condition for segment in segments for effective in segment.rules],
                                 named, timeout_ms)
        self.offset = next(compiled.utc_offset for compiled in self.trees if compiled)
        self.done: dict = {}

    def spans(self) -> list[tuple[dt.date, dt.date | None]]:
        """The spans of days on which neither tree's rules change: (first day a flow may have, last or None)."""
        starts = {segment.period.start for compiled in self.trees if compiled for segment in compiled.segments}
        days = sorted(day for day in starts if day is not None)
        ends = [day - dt.timedelta(days=1) for day in days] + [None]
        return [(span[0], end) for start, end in zip([None, *days], ends) for span in [in_range(start, end)] if span]

    def run(self) -> list[Equivalence]:
        results = []
        for first, last in self.spans():
            pair = [compiled.segment_on(first) if compiled else None for compiled in self.trees]
            key = tuple(_signature(segment) for segment in pair)
            if key not in self.done:
                self.done[key] = self.compare(pair)
            equivalent, reason, witness = self.done[key]
            counterexample = decided = None
            if equivalent is False:
                counterexample = dict(witness, requested_at=instant_on(first, self.offset))
                decided = {"old": _decision(self.old, counterexample), "new": _decision(self.new, counterexample)}
                if decided["old"] == decided["new"]:
                    counterexample, decided, equivalent, reason = None, None, None, _UNCONFIRMED
            results.append(Equivalence(self.code, first, last, instant_on(first, self.offset, 0), equivalent,
                                       counterexample, decided, reason))
        return results

    def compare(self, pair: list[Segment | None]) -> tuple[bool | None, str | None, dict | None]:
        """Whether the two segments decide every valid flow alike; if not, a flow (undated) z3 says they do not."""
        universe = self.universe
        universe.query.start()
        rules = [segment.rules if segment is not None else [] for segment in pair]
        try:
            if not rules[0] and not rules[1]:  # both refuse every flow: nothing is in force
                return True, None, None
            # a tree with no rule in force refuses every flow the other decides
            terms = [self.difference(*rules)] if rules[0] and rules[1] else []
            literals = [universe.assume(term, "the trees decide differently") for term in terms]
            if not universe.find(literals, terms, pool="differs"):
                return True, None, None
            return False, None, universe.witness("")
        except SolverUnknown as error:
            return None, str(error), None

    def difference(self, old_rules: list, new_rules: list) -> Term:
        terms, universe = self.universe.terms, self.universe
        fired = [{effective.rule.id: universe.condition(effective.condition) for effective in rules}
                 for rules in (old_rules, new_rules)]
        changes = [terms.not_(terms.compare("==", terms.z3(fired[0].get(rule_id, False)),
                                             terms.z3(fired[1].get(rule_id, False)), "bool"))
                   for rule_id in sorted(set(fired[0]) | set(fired[1]))]
        outcomes = [{outcome: terms.any(fired[side][effective.rule.id] for effective in rules
                                        if OUTCOME_OF_EFFECT[effective.rule.spec.effect] == outcome)
                     for outcome in ("deny", "review", "conditional")} for side, rules in enumerate((old_rules,
                                                                                                    new_rules))]
        # the same fired rules may still decide differently if a rule's effect changed
        for outcome in ("deny", "review", "conditional"):
            worse = [level for level in ("deny", "review") if outcome_rank(level) < outcome_rank(outcome)]
            decided = [terms.all([outcomes[side][outcome]] + [terms.not_(outcomes[side][level]) for level in worse])
                       for side in (0, 1)]
            changes.append(terms.not_(terms.compare("==", terms.z3(decided[0]), terms.z3(decided[1]), "bool")))
        return terms.any(changes)

def _signature(segment: Segment | None) -> tuple:
    if segment is None:
        return ()
    return tuple((effective.rule.id, effective.rule.spec.effect, effective.condition) for effective in segment.rules)
