"""The engine: decides enrollment flows on a loaded rule tree and hands each decision to a sink."""
from __future__ import annotations

import datetime as dt
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from engine.compile import ALWAYS, to_durable
from engine.decision import (EFFECT_ORDER, Decision, Finding, Obligation, RulesetRef, new_decision_id, outcome_of)
from engine.durable import MAX_RULES_PER_RULESET, DurableError, DurableRuleset, shared_ruleset, to_json
from engine.errors import EngineError, FieldError, FlowValidationError
from engine.facts import flow_facts, flow_vocabulary
from engine.flow import Flow
from engine.inputs import MAX_REQUEST_AGE, check_request_age, parse_flow, rules_instant
from rules import CompiledJurisdiction, EffectiveRule, RuleTree, Segment, load_rules
from rules.capacity import condition_size, pack
from rules.ir import fact_keys

__all__ = ["Engine", "DecisionSink", "default_rules_dir", "ENGINE_VERSION"]

ENGINE_VERSION = "0.1.0"
Clock = Callable[[], dt.datetime]


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DecisionSink(Protocol):
    """Where decisions go (the audit log). ``record`` must raise if the decision is not stored."""

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> Any: ...

    def close(self) -> None: ...


def default_rules_dir() -> Path:
    """``LICIT_RULES``, else ./jurisdictions when it exists, else the packs installed with Licit."""
    if os.environ.get("LICIT_RULES"):
        return Path(os.environ["LICIT_RULES"])
    if Path("jurisdictions").is_dir():
        return Path("jurisdictions")
    from jurisdictions import PACKS_DIR

    return PACKS_DIR


@dataclass
class _CompiledSegment:
    """One segment's rules in durable_rules, with the finding each rule name stands for."""

    rulesets: list[DurableRuleset]
    findings: dict[str, Finding]

    def fired(self, fact_json: str) -> list[Finding]:
        names = [name for ruleset in self.rulesets for name in ruleset.matches(fact_json)]
        return [self.findings[name] for name in names]


def _finding(effective: EffectiveRule) -> Finding:
    spec = effective.rule.spec
    return Finding(rule_id=spec.id, jurisdiction=effective.rule.jurisdiction, effect=spec.effect, title=spec.title,
                   message=spec.message, citation=effective.version.citation, remedy=spec.remedy, action=spec.action)


def _compile_segment(label: str, segment: Segment) -> _CompiledSegment:
    conditions, findings, sizes = {}, {}, {}
    for index, effective in enumerate(segment.rules):
        condition = to_durable(effective.condition)
        if condition is not None:
            conditions[f"r{index}"] = condition
            findings[f"r{index}"] = _finding(effective)
            sizes[f"r{index}"] = condition_size(effective.condition)  # rulesets packed within durable's limits
    rulesets = [shared_ruleset(f"{label}-{number}", {name: conditions[name] for name in chunk})
                for number, chunk in enumerate(pack(sizes, MAX_RULES_PER_RULESET))]
    return _CompiledSegment(rulesets, findings)


def _nothing_in_force(compiled: CompiledJurisdiction, day: dt.date) -> str:
    """No rule applies on `day`: deciding would allow by default, so the flow cannot be decided."""
    where = f"{compiled.code} ({' → '.join(compiled.chain)})"
    later = [segment.period.start for segment in compiled.segments
             if segment.rules and segment.period.start is not None and segment.period.start > day]
    when = f"; its first rules take effect on {min(later).isoformat()}" if later else ""
    return f"no rule of {where} is in force on {day.isoformat()}, so no decision can be made{when}"


class Engine:
    """Decides flows against the rule packs in ``rules_dir``; logs each decision to ``audit_db`` if given.

    Loading refuses a rule tree with any error (:class:`rules.RuleSetError`). One engine may be
    shared between threads. A flow is decided when it is requested: one whose ``requested_at`` is more than
    ``max_request_age`` before the clock, or more than 5 minutes after it, is refused unless the caller gives
    ``as_of`` (re-dating a denied flow to a year with other rules must not make it allowed);
    ``max_request_age=None`` turns that off, for historical and what-if work. ``clock`` gives the instant a
    decision is made at (its evaluated_at and the time in its id); only simulated traffic (``licit audit seed``)
    replaces the system clock.
    """

    def __init__(self, rules_dir: str | os.PathLike | None = None, audit_db: str | os.PathLike | None = None,
                 *, sink: DecisionSink | None = None, clock: Clock = _system_clock,
                 max_request_age: dt.timedelta | None = MAX_REQUEST_AGE):
        if sink is not None and audit_db is not None:
            raise EngineError("give an Engine audit_db or sink, not both: decisions go to one place")
        if max_request_age is not None and not (isinstance(max_request_age, dt.timedelta) and
                                                max_request_age > dt.timedelta(0)):
            raise EngineError(f"max_request_age must be a positive timedelta or None, not {max_request_age!r:.80}")
        self.max_request_age = max_request_age
        self._clock = clock
        self.rules_dir = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        self.tree: RuleTree = load_rules(self.rules_dir, flow_vocabulary())
        self._segments: dict[str, list[_CompiledSegment]] = {}
        # durable_rules parses every key it is sent: send only what some rule reads
        self._fact_keys = frozenset(set().union(*(
            fact_keys(effective.condition) for compiled in self.tree.compiled.values()
            for segment in compiled.segments for effective in segment.rules)) | set(ALWAYS["$ex"]))
        try:
            for code, compiled in self.tree.compiled.items():
                self._segments[code] = [_compile_segment(f"{code}-{index}", segment)
                                        for index, segment in enumerate(compiled.segments)]
        except DurableError as error:
            raise EngineError(str(error)) from None
        if sink is None and audit_db is not None:
            from audit import DecisionLog

            sink = DecisionLog(audit_db)
        self.sink = sink
        self._rulesets_payload: dict[str, dict] = {}
        self._payload_lock = threading.Lock()

    @property
    def jurisdictions(self) -> list[str]:
        return sorted(self.tree.compiled)

    def jurisdiction(self, code: str) -> CompiledJurisdiction:
        compiled = self.tree.compiled.get(code)
        if compiled is None:
            raise FlowValidationError([FieldError(
                "jurisdiction", f"no rule pack for {code!r}; known: {', '.join(self.jurisdictions)}")])
        return compiled

    def evaluate(self, flow: Flow | dict | str | bytes, *, as_of: dt.datetime | dt.date | None = None) -> Decision:
        """Decide a flow; with a sink, the decision is recorded before it is returned."""
        started = time.perf_counter()
        model = parse_flow(flow)
        if as_of is None and self.max_request_age is not None:
            check_request_age(model.requested_at, self._decided_at(), self.max_request_age)
        compiled = self.jurisdiction(model.jurisdiction)
        instant, day = rules_instant(model, as_of, compiled)
        index = compiled.segment_index(day)
        if not compiled.segments[index].rules:
            raise FlowValidationError([FieldError("requested_at" if as_of is None else "as_of",
                                                  _nothing_in_force(compiled, day))])
        fact_json = self.fact_json(model)
        try:
            fired = self._segments[model.jurisdiction][index].fired(fact_json)
        except DurableError as error:
            raise EngineError(str(error)) from None
        fired.sort(key=lambda finding: (EFFECT_ORDER[finding.effect], finding.rule_id))
        now = self._decided_at()
        decision = Decision.model_construct(
            decision_id=new_decision_id(now), flow_id=model.flow_id,
            evaluated_at=now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            as_of=instant.isoformat(), jurisdiction=model.jurisdiction, jurisdiction_chain=compiled.chain,
            outcome=outcome_of(fired), findings=fired,
            obligations=[Obligation.model_construct(rule_id=finding.rule_id, action=finding.action,
                                                    message=finding.message)
                         for finding in fired if finding.effect == "require"],
            ruleset=RulesetRef.model_construct(digest=compiled.digest), engine_version=ENGINE_VERSION)
        if self.sink is not None:
            self.sink.record(decision.model_dump(mode="json"), model.model_dump(mode="json", by_alias=True),
                             self.ruleset_payload(model.jurisdiction), time.perf_counter() - started)
        return decision

    def _decided_at(self) -> dt.datetime:
        """The clock's reading in UTC. A naive datetime would be taken as this machine's local time."""
        now = self._clock()
        if not isinstance(now, dt.datetime) or now.utcoffset() is None:
            raise EngineError(f"the engine's clock must give a datetime with a UTC offset, got {now!r:.80}")
        return now.astimezone(dt.timezone.utc)

    def remedies(self, flow: Flow | dict | str | bytes, *, as_of: dt.datetime | None = None,
                 max_remedies: int | None = None, timeout_ms: int | None = None):
        """The cheapest changes that make a denied or referred flow allowed (or conditional), as JSON Patches,
        each decided by this engine; never logged. See docs/remedies.md (engine.solver.remedy)."""
        from engine.solver.remedy import find_remedies

        options = {name: value for name, value in (("max_remedies", max_remedies), ("timeout_ms", timeout_ms))
                   if value is not None}
        return find_remedies(self, flow, as_of=as_of, **options)

    def fact_json(self, model: Flow) -> str:
        """The fact durable_rules is given: only the keys some rule reads."""
        return to_json(flow_facts(model, self._fact_keys))

    def ruleset_payload(self, code: str) -> dict:
        """The rule set a decision in ``code`` is made with: digest, chain and full source files."""
        with self._payload_lock:
            if code not in self._rulesets_payload:
                compiled = self.tree.compiled[code]
                self._rulesets_payload[code] = {"digest": compiled.digest, "jurisdiction_chain": compiled.chain,
                                                "files": self.tree.files(code)}
            return self._rulesets_payload[code]

    def close(self) -> None:
        """Close the decision log; compiled rulesets stay shared in the process."""
        if self.sink is not None:
            self.sink.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
