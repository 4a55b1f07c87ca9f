"""Proofs about a rule tree, per jurisdiction and segment of time: rules no valid flow fires (with the parts of
the condition and of the contract that contradict each other), rules every valid flow fires, and rules that
fire only where a stronger rule fires too, so that they never change an outcome."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from engine.decision import EFFECT_ORDER
from engine.errors import LicitError
from engine.solver.query import DEFAULT_TIMEOUT_MS, SolverUnknown
from engine.solver.universe import Universe, in_range, instant_on
from rules.lower import LowerError, lower
from rules.model import EffectiveRule, Segment
from rules.typed import TAnd, TExpr

__all__ = ["RuleFinding", "SegmentFindings", "analyze"]


@dataclass
class RuleFinding:
    """``kind``: never_fires (``core``: what contradicts), always_fires, shadowed (``by``: the stronger rules;
    ``witness``: a flow, checked by the engine, where it fires with them), or unknown (``reason``)."""

    kind: str
    rule_id: str
    core: list[str] = field(default_factory=list)
    by: list[str] = field(default_factory=list)
    witness: dict | None = None
    reason: str | None = None

    def to_json(self) -> dict:
        found = {"kind": self.kind, "rule_id": self.rule_id}
        for name in ("core", "by", "witness", "reason"):
            if getattr(self, name):
                found[name] = getattr(self, name)
        return found


@dataclass
class SegmentFindings:
    jurisdiction: str
    start: dt.date | None  # the segment's first day (None: from the beginning)
    end: dt.date | None  # its last day (None: open-ended)
    as_of: str  # an instant in the segment: the rules analysed are those in force then
    findings: list[RuleFinding]

    def to_json(self) -> dict:
        return {"jurisdiction": self.jurisdiction, "from": self.start and self.start.isoformat(),
                "until": self.end and self.end.isoformat(), "as_of": self.as_of,
                "findings": [finding.to_json() for finding in self.findings]}


def analyze(engine, codes: list[str] | None = None, *, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> list[SegmentFindings]:
    """Every segment (with rules in force, within the years the engine decides) of ``codes`` (default: all)."""
    tree = engine.tree
    results = []
    for code in sorted(codes or tree.compiled):
        compiled = engine.jurisdiction(code)
        segments = [(segment, days) for segment in compiled.segments if segment.rules
                    for days in [in_range(segment.period.start, segment.period.end)] if days]
        conditions = [effective.condition for segment, _ in segments for effective in segment.rules]
        analyst = _Analyst(engine, Universe(code, conditions, set(tree.compiled), timeout_ms), compiled.utc_offset)
        for segment, (first, _) in segments:
            results.append(SegmentFindings(code, segment.period.start, segment.period.end,
                                           instant_on(first, compiled.utc_offset, 0),
                                           analyst.segment(segment, first)))
    return results


class _Analyst:
    def __init__(self, judge, universe: Universe, utc_offset: str):
        self.judge, self.universe, self.utc_offset = judge, universe, utc_offset
        self.literals: dict = {}
        self.done: dict = {}  # a finding already reached for the same conditions (in another segment)

    def fires(self, effective: EffectiveRule, negated: bool = False) -> tuple:
        """The literal and the term that say the rule fires (or, ``negated``, does not)."""
        key = (effective.condition, negated)
        if key not in self.literals:
            term = self.universe.condition(effective.condition)
            term = self.universe.terms.not_(term) if negated else term
            self.literals[key] = (self.universe.assume(term, ("not " if negated else "") + effective.rule.id), term)
        return self.literals[key]

    def find(self, pool: object, *facts: tuple) -> bool:
        """Whether a valid flow makes every (literal, term) of ``facts`` hold."""
        return self.universe.find([literal for literal, _ in facts], [term for _, term in facts], pool)

    def segment(self, segment: Segment, day: dt.date) -> list[RuleFinding]:
        findings = []
        for effective in segment.rules:
            stronger = [other for other in segment.rules
                        if EFFECT_ORDER[other.rule.spec.effect] < EFFECT_ORDER[effective.rule.spec.effect]]
            key = (effective.rule.id, effective.condition,
                   tuple((other.rule.id, other.condition) for other in stronger))
            if key not in self.done:
                try:
                    self.universe.query.start()
                    self.done[key] = self.rule(effective, stronger, segment)
                except SolverUnknown as error:
                    self.done[key] = RuleFinding("unknown", effective.rule.id, reason=str(error))
            finding = self.done[key]
            if finding is not None and finding.kind == "shadowed":
                finding = RuleFinding("shadowed", finding.rule_id, by=finding.by,
                                      witness=self.checked_witness(finding, day))
            if finding is not None:
                findings.append(finding)
        return findings

    def rule(self, effective: EffectiveRule, stronger: list[EffectiveRule], segment: Segment) -> RuleFinding | None:
        rule_id, fires, condition = effective.rule.id, self.fires(effective), effective.condition
        if not self.find(condition, fires):
            return RuleFinding("never_fires", rule_id, core=self.core(effective, segment))
        if not self.find(("not", condition), self.fires(effective, negated=True)):
            return RuleFinding("always_fires", rule_id)
        absent = {self.fires(other, negated=True): other.rule.id for other in stronger}
        if not stronger or self.find(condition, fires, *absent):
            return None
        by = self.universe.core([fires[0], *(literal for literal, _ in absent)])
        names = sorted({name for (literal, _), name in absent.items() if any(literal.eq(found) for found in by)})
        self.find(condition, fires)  # a flow where it fires: one of ``names`` fires there too
        return RuleFinding("shadowed", rule_id, by=names, witness=self.universe.witness(""))

    def core(self, effective: EffectiveRule, segment: Segment) -> list[str]:
        """The conjuncts of the rule (its exceptions among them) and the contract's checks that contradict."""
        universe = self.universe
        parts = {universe.assume(universe.condition(condition), text): text
                 for text, condition in _parts(effective, segment, self.judge.tree.vocabulary)}
        if universe.check(*parts):  # the parts did not add up to the rule: name it whole
            return [effective.version.condition.strip()]
        core = universe.core(list(parts))
        return [parts.get(literal) or universe.contract[literal] for literal in parts | universe.contract
                if any(literal.eq(found) for found in core)]

    def checked_witness(self, finding: RuleFinding, day: dt.date) -> dict | None:
        """The witness dated in this segment, if the engine fires the rule and a rule that shadows it there."""
        instant = instant_on(day, self.utc_offset)
        flow = dict(finding.witness, requested_at=instant)
        try:  # decided under the rules of that day, however long ago or ahead it is
            decision = self.judge.decide(flow, as_of=dt.datetime.fromisoformat(instant)).decision  # never logged
            fired = {item.rule_id for item in decision.findings}
        except LicitError:
            return None
        return flow if finding.rule_id in fired and fired & set(finding.by) else None


def _parts(effective: EffectiveRule, segment: Segment, vocabulary) -> list[tuple[str, object]]:
    """The rule's conjuncts and its exceptions (negated), each as its text and lowered condition."""
    typed, text = effective.version.typed, effective.version.condition
    try:
        pieces = [(snippet, lower(conjunct, segment.parameters, vocabulary))
                  for snippet, conjunct in _conjuncts(typed, text)]
        pieces += [(f"not ({' '.join(exception.condition.split())})  [exception in {exception.jurisdiction}]",
                    lower(exception.typed, segment.parameters, vocabulary, negated=True))
                   for exception in effective.exceptions]
    except LowerError:
        return [(text.strip(), effective.condition)]
    return pieces


def _conjuncts(typed: TExpr, text: str) -> list[tuple[str, TExpr]]:
    """The top-level ``and``-ed parts of a condition, with their text (cut at each ``and``)."""
    leaves, cuts = [], []

    def walk(expr: TExpr) -> None:
        if isinstance(expr, TAnd) and len(expr.joins) == len(expr.children) - 1:
            walk(expr.children[0])
            for join, child in zip(expr.joins, expr.children[1:]):  # a chain a and b and c is one TAnd
                cuts.append(join)
                walk(child)
        else:
            leaves.append(expr)
    walk(typed)
    starts, ends = [0] + [cut + len("and") for cut in cuts], cuts + [len(text)]
    return [(_balanced(text[start:end]), leaf) for start, end, leaf in zip(starts, ends, leaves)]


def _balanced(snippet: str) -> str:
    """A piece of a condition without the parentheses it opens or closes around its neighbours."""
    snippet = " ".join(snippet.split())
    while snippet.count("(") > snippet.count(")") and snippet.startswith("("):
        snippet = snippet[1:].strip()
    while snippet.count(")") > snippet.count("(") and snippet.endswith(")"):
        snippet = snippet[:-1].strip()
    return snippet
