"""The engine: decides enrollment flows on a loaded rule tree and hands each decision to a sink."""
from __future__ import annotations

import contextlib
import datetime as dt
import gc
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from engine.compile import ALWAYS
from engine.decision import (EFFECT_ORDER, Decision, Finding, Obligation, Outcome, RulesetRef, new_decision_id,
                             outcome_of)
from engine.errors import EngineError, FieldError, FlowValidationError
from engine.factplan import fact_plan
from engine.facts import flow_vocabulary
from engine.flow import Flow
from engine.inputs import MAX_REQUEST_AGE, check_request_age, parse_flow, rules_instant
from engine.matching import JurisdictionMatcher, matcher_for, resolve_matcher
from rules import CompiledJurisdiction, EffectiveRule, RuleTree, load_rules
from rules.ir import fact_keys, item_keys

__all__ = ["Engine", "Decided", "DecisionSink", "default_rules_dir", "ENGINE_VERSION"]

ENGINE_VERSION = "0.1.0"
Clock = Callable[[], dt.datetime]


def _system_clock() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class DecisionSink(Protocol):
    """Where decisions go (the audit log). ``record`` must raise if the decision is not stored."""

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> Any: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Decided:
    """A decision not yet logged, with what a sink records beside it: the flow as validated, the rule
    set it was made with and how long deciding took (Engine.decide)."""

    decision: Decision
    flow: Flow
    ruleset: dict
    duration_s: float

    def sink_arguments(self) -> tuple[dict, dict, dict, float]:
        """What DecisionSink.record (or DecisionLog.submit) takes."""
        return (self.decision.model_dump(mode="json"), self.flow.model_dump(mode="json", by_alias=True),
                self.ruleset, self.duration_s)


def default_rules_dir() -> Path:
    """``LICIT_RULES``, else ./jurisdictions when it exists, else the packs installed with Licit."""
    if os.environ.get("LICIT_RULES"):
        return Path(os.environ["LICIT_RULES"])
    if Path("jurisdictions").is_dir():
        return Path("jurisdictions")
    from jurisdictions import PACKS_DIR

    return PACKS_DIR


def _finding(effective: EffectiveRule) -> Finding:
    spec = effective.rule.spec
    return Finding(rule_id=spec.id, jurisdiction=effective.rule.jurisdiction, effect=spec.effect, title=spec.title,
                   message=spec.message, citation=effective.version.citation, remedy=spec.remedy, action=spec.action)


Verdict = tuple[list[Finding], Outcome, list[Obligation]]
_CACHED_VERDICTS = 4096  # per jurisdiction: distinct sets of fired rules whose findings are kept


class _LoadedRules:
    """One rule tree compiled for one matcher: everything a reload replaces at once.

    Findings, outcome and obligations depend only on which rules fired, so they are built once per
    set of fired rules (a bounded number of sets) and shared by every decision with that set."""

    def __init__(self, rules_dir: Path, matcher: str):
        with _collector_paused():
            self._load(rules_dir, matcher)

    def _load(self, rules_dir: Path, matcher: str) -> None:
        self.tree: RuleTree = load_rules(rules_dir, flow_vocabulary())
        self.matchers: dict[str, JurisdictionMatcher] = {
            code: matcher_for(matcher, compiled, self.tree.vocabulary) for code, compiled in self.tree.compiled.items()}
        # only what some rule reads is derived (and, for durable_rules, parsed)
        conditions = [piece.condition for compiled in self.tree.compiled.values() for piece in compiled.pieces]
        items: dict[str, set[str]] = {}
        for condition in conditions:
            item_keys(condition, items)
        self.facts = fact_plan(frozenset(set().union(*map(fact_keys, conditions)) | set(ALWAYS["$ex"])), items)
        self._verdicts: dict[str, dict[tuple[int, ...], Verdict]] = {code: {} for code in self.tree.compiled}
        self._payloads: dict[str, dict] = {}
        self._refs: dict[str, RulesetRef] = {}  # frozen, so every decision in a jurisdiction shares one
        self._lock = threading.Lock()

    def verdict(self, code: str, fired: list[int]) -> Verdict:
        key = tuple(sorted(fired))
        cached = self._verdicts[code].get(key)
        if cached is not None:
            return cached
        pieces = self.tree.compiled[code].pieces
        findings = sorted((_finding(pieces[number]) for number in key),
                          key=lambda finding: (EFFECT_ORDER[finding.effect], finding.rule_id))
        obligations = [Obligation.model_construct(rule_id=finding.rule_id, action=finding.action,
                                                  message=finding.message)
                       for finding in findings if finding.effect == "require"]
        verdict = (findings, outcome_of(findings), obligations)
        with self._lock:
            if len(self._verdicts[code]) < _CACHED_VERDICTS:
                self._verdicts[code][key] = verdict
        return verdict

    def ruleset_ref(self, code: str) -> RulesetRef:
        ref = self._refs.get(code)
        if ref is None:
            ref = self._refs[code] = RulesetRef.model_construct(digest=self.tree.compiled[code].digest)
        return ref

    def payload(self, code: str) -> dict:
        with self._lock:
            if code not in self._payloads:
                compiled = self.tree.compiled[code]
                self._payloads[code] = {"digest": compiled.digest, "jurisdiction_chain": compiled.chain,
                                        "files": self.tree.files(code)}
            return self._payloads[code]


@contextlib.contextmanager
def _collector_paused():
    """Loading a large tree makes millions of objects, few of them garbage: Python's cyclic collector would
    walk them all again and again (a third of the time of loading 10,000 rules). It runs again afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _nothing_in_force(compiled: CompiledJurisdiction, day: dt.date) -> str:
    """No rule applies on `day`: deciding would allow by default, so the flow cannot be decided."""
    where = f"{compiled.code} ({' → '.join(compiled.chain)})"
    later = [period.start for period, count in compiled.spans() if count and period.start and period.start > day]
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
    replaces the system clock. ``matcher`` is ``"durable"`` or ``"python"`` (engine/matching.py); by default
    $LICIT_MATCHER, else durable_rules where it imports. :meth:`reload` replaces the rules while the engine serves.
    """

    def __init__(self, rules_dir: str | os.PathLike | None = None, audit_db: str | os.PathLike | None = None,
                 *, sink: DecisionSink | None = None, clock: Clock = _system_clock,
                 max_request_age: dt.timedelta | None = MAX_REQUEST_AGE, matcher: str | None = None):
        if sink is not None and audit_db is not None:
            raise EngineError("give an Engine audit_db or sink, not both: decisions go to one place")
        if max_request_age is not None and not (isinstance(max_request_age, dt.timedelta) and
                                                max_request_age > dt.timedelta(0)):
            raise EngineError(f"max_request_age must be a positive timedelta or None, not {max_request_age!r:.80}")
        self.max_request_age = max_request_age
        self._clock = clock
        self.matcher = resolve_matcher(matcher)
        self.rules_dir = Path(rules_dir) if rules_dir is not None else default_rules_dir()
        self._rules = _LoadedRules(self.rules_dir, self.matcher)
        if sink is None and audit_db is not None:
            from audit import DecisionLog

            sink = DecisionLog(audit_db)
        self.sink = sink

    @property
    def tree(self) -> RuleTree:
        return self._rules.tree

    def reload(self, rules_dir: str | os.PathLike | None = None) -> None:
        """Load the rule tree again (from ``rules_dir`` if given) and decide every later flow with it.

        The new tree is loaded and compiled whole before it replaces the old one, in one step: a
        tree that does not load raises and the engine keeps deciding with the rules it had.
        Evaluations already running finish on the old rules; what they used is freed when they
        end (durable_rules rulesets too), so a process that reloads does not grow."""
        directory = Path(rules_dir) if rules_dir is not None else self.rules_dir
        loaded = _LoadedRules(directory, self.matcher)
        self._rules, self.rules_dir = loaded, directory

    @property
    def jurisdictions(self) -> list[str]:
        return sorted(self.tree.compiled)

    def jurisdiction(self, code: str) -> CompiledJurisdiction:
        return self._compiled(self._rules, code)

    def _compiled(self, rules: _LoadedRules, code: str) -> CompiledJurisdiction:
        compiled = rules.tree.compiled.get(code)
        if compiled is None:
            raise FlowValidationError([FieldError(
                "jurisdiction", f"no rule pack for {code!r}; known: {', '.join(sorted(rules.tree.compiled))}")])
        return compiled

    def evaluate(self, flow: Flow | dict | str | bytes, *, as_of: dt.datetime | dt.date | None = None) -> Decision:
        """Decide a flow; with a sink, the decision is recorded before it is returned."""
        decided = self.decide(flow, as_of=as_of)
        if self.sink is not None:
            self.sink.record(*decided.sink_arguments())
        return decided.decision

    def decide(self, flow: Flow | dict | str | bytes, *, as_of: dt.datetime | dt.date | None = None) -> Decided:
        """Decide a flow without handing it to the sink: for a caller that logs it itself (the service
        submits it to the log and awaits the commit on its event loop) or never (remedies, the solver's analyses)."""
        started = time.perf_counter()
        rules = self._rules  # one rule tree for the whole evaluation, whatever a reload does meanwhile
        model = parse_flow(flow)
        if as_of is None and self.max_request_age is not None:
            check_request_age(model.requested_at, self._decided_at(), self.max_request_age)
        compiled = self._compiled(rules, model.jurisdiction)
        instant, day = rules_instant(model, as_of, compiled)
        index = compiled.segment_index(day)
        if not compiled.rule_count(index):
            raise FlowValidationError([FieldError("requested_at" if as_of is None else "as_of",
                                                  _nothing_in_force(compiled, day))])
        facts = self.facts(model, rules)
        fired = rules.matchers[model.jurisdiction].fired(facts, index, day.toordinal())
        findings, outcome, obligations = rules.verdict(model.jurisdiction, fired)
        now = self._decided_at()
        decision = Decision.model_construct(
            decision_id=new_decision_id(now), flow_id=model.flow_id,
            evaluated_at=now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            as_of=instant.isoformat(), jurisdiction=model.jurisdiction, jurisdiction_chain=compiled.chain,
            outcome=outcome, findings=list(findings), obligations=list(obligations),
            ruleset=rules.ruleset_ref(model.jurisdiction), engine_version=ENGINE_VERSION)
        return Decided(decision, model, rules.payload(model.jurisdiction), time.perf_counter() - started)

    def _decided_at(self) -> dt.datetime:
        """The clock's reading in UTC. A naive datetime would be taken as this machine's local time."""
        now = self._clock()
        if not isinstance(now, dt.datetime) or now.utcoffset() is None:
            raise EngineError(f"the engine's clock must give a datetime with a UTC offset, got {now!r:.80}")
        return now.astimezone(dt.timezone.utc)

    def facts(self, model: Flow, rules: _LoadedRules | None = None) -> dict[str, Any]:
        """The flat fact the matcher is given: only the keys some rule reads (engine/factplan.py)."""
        return (rules or self._rules).facts(model)

    def remedies(self, flow: Flow | dict | str | bytes, *, as_of: dt.datetime | None = None,
                 max_remedies: int | None = None, timeout_ms: int | None = None):
        """The cheapest changes that make a denied or referred flow allowed (or conditional), as JSON Patches,
        each decided by this engine; never logged. See docs/remedies.md (engine.solver.remedy)."""
        from engine.solver.remedy import find_remedies

        options = {name: value for name, value in (("max_remedies", max_remedies), ("timeout_ms", timeout_ms))
                   if value is not None}
        return find_remedies(self, flow, as_of=as_of, **options)

    def ruleset_payload(self, code: str) -> dict:
        """The rule set a decision in ``code`` is made with: digest, chain and full source files."""
        return self._rules.payload(code)

    def close(self) -> None:
        """Close the decision log. The compiled rules are freed with the engine."""
        if self.sink is not None:
            self.sink.close()

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
