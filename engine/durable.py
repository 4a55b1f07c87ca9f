"""The durable_rules matcher: the one module that talks to durable_rules (importing it fails where it is absent).

We drive the C engine (``durable_rules_engine``) directly rather than through
``durable.lang``: its ``Host`` starts timer threads that dispatch actions behind
our back, and each fired rule would cost a Python callback. Facts are asserted
(not posted as events) so every matching rule sees them, and retracted once the
fired rules are read; all calls are serialised because the engine's state is
process-global. Each ruleset keeps one session for good: a new session per
evaluation (and ``delete_state`` after it) cost about 0.6 µs per rule of the ruleset,
whether it matched or not (durable_rules sizes a session's state by the rules),
which made 400 rules cost 280 µs against 8 µs with the session kept.

Measured here (durable_rules 2.0.28): ``delete_state`` after an assert that matched
no rule corrupts the heap (segfault or ``free(): invalid pointer``, depending on
what else the process has allocated). Every ruleset therefore has a sentinel rule
that matches every fact, so an assertion always takes the path that was sound
(120,000 assert/retract cycles on one session, resident memory flat). The session's state
object is matched against the rules too, so a condition like ``{"$nex": …}``
would hold for it: every condition also requires the sentinel key of our facts.
Its fixed tables fail past their size (error 303 for more than 64 tests holding at
once, after which the heap is corrupt; a loop for ever at 512 tests below one node),
so rules are packed into rulesets within the bounds rules/capacity.py works out.

A jurisdiction's rules are compiled once, for all of time: each piece (a rule over
the span of days its lowered condition holds for, rules/segments.py) is guarded by
its first and last day, tested on the ``licit_day`` every fact carries. Each rule's
tests are ordered so that rules share the nodes of their first tests and most rules
are cut at one cheap, shared test (the days come last: a node per distinct date at
the front would be tested for every rule). Rulesets are
shared by content while some engine uses them and deleted when none does (created
and deleted 30,000 times with assertions in between, resident memory flat).
"""
from __future__ import annotations

import hashlib
import itertools
import threading
import uuid
import weakref
from typing import Any

import durable_rules_engine

from engine.compile import conjuncts, to_durable, to_json
from engine.errors import EngineError
from engine.shapes import MAX_FACT_KEYS, Shapes
from rules.capacity import condition_size, pack, size_problem
from rules.conditions import Scope
from rules.ir import FACT, And, Compare, Condition, Const, Lit, Or, Present, Ref
from rules.model import Period
from rules.segments import CompiledJurisdiction

__all__ = ["DurableError", "DurableMatcher", "DurableRuleset", "MAX_RULES_PER_RULESET", "live_rulesets", "to_json"]

_LOCK = threading.Lock()
_SESSIONS = itertools.count(1)
_FACTS = itertools.count(1)
_SENTINEL = "licit_sentinel"
_SENTINEL_CONDITION = {"$ex": {"licit_session": 1}}
_DAY = "licit_day"
MAX_RULES_PER_RULESET = 200  # rules/capacity.py's limits bind first; the beta list of one node holds 256
_SHAPES_KEPT = 16  # shapes of flow whose rulesets a jurisdiction keeps


class DurableError(Exception):
    """durable_rules refused a ruleset or failed while matching a fact."""


_SHARED: "weakref.WeakValueDictionary[str, DurableRuleset]" = weakref.WeakValueDictionary()
_LIVE: set[int] = set()  # handles of the rulesets durable_rules holds
_RETIRED: list[tuple[int, list]] = []  # rulesets no engine uses any more (handle, session), deleted under the lock


def _delete_retired() -> None:
    """Delete the rulesets retired since the last call, each with its session's state (which deleting the
    ruleset alone leaves behind: 330 KB each); the caller holds the lock."""
    while _RETIRED:
        handle, (session, used) = _RETIRED.pop()
        if used:
            try:
                durable_rules_engine.delete_state(handle, str(session))
            except durable_rules_engine.error:
                pass  # the ruleset goes anyway
        durable_rules_engine.delete_ruleset(handle)
        _LIVE.discard(handle)


def live_rulesets() -> int:
    """How many rulesets durable_rules holds in this process (for tests and the reload benchmark)."""
    with _LOCK:
        _delete_retired()
        return len(_LIVE)


def _shared_ruleset(label: str, rules: dict[str, list[dict]]) -> "DurableRuleset":
    """The process's ruleset for these rules, compiled unless an engine already uses the same."""
    key = hashlib.sha256(to_json(rules).encode("utf-8")).hexdigest()
    with _LOCK:
        ruleset = _SHARED.get(key)
    if ruleset is None:
        ruleset = DurableRuleset(label, rules)
        with _LOCK:
            ruleset = _SHARED.setdefault(key, ruleset)
    return ruleset


class DurableRuleset:
    """Named rules, each a list of tests that must all hold, compiled into one durable_rules ruleset."""

    def __init__(self, label: str, rules: dict[str, list[dict]]):
        self.name = f"licit-{label}-{uuid.uuid4().hex[:12]}"
        if _SENTINEL in rules:
            raise DurableError(f"rule name {_SENTINEL} is reserved")
        # the session's own state object is matched too: a bare {"$nex": …} holds for it, so every
        # condition also requires the key only our facts carry
        definition = {rule_name: {"all": [{"m": {"$and": [_SENTINEL_CONDITION, *tests]}}]}
                      for rule_name, tests in rules.items()}
        definition[_SENTINEL] = {"all": [{"m": _SENTINEL_CONDITION}]}
        with _LOCK:
            _delete_retired()
            try:
                self._handle = durable_rules_engine.create_ruleset(self.name, to_json(definition))
            except durable_rules_engine.error as error:
                raise DurableError(f"durable_rules refused ruleset {label}: {error}") from None
            _LIVE.add(self._handle)
        self._session = [next(_SESSIONS), False]  # its id, and whether a fact was ever asserted in it
        weakref.finalize(self, _RETIRED.append, (self._handle, self._session))

    def matches(self, fact_json: str, day: int = 0) -> list[str]:
        """Names of the rules that hold for the fact (a JSON object) on ``day`` (a date's ordinal)."""
        fired: list[str] = []
        with _LOCK:
            fact = (f'{{"sid":"{self._session[0]}","id":"{next(_FACTS)}","licit_session":1,"{_DAY}":{day:d},'
                    f'{fact_json[1:]}')
            self._session[1] = True
            try:
                _, state = durable_rules_engine.assert_fact(self._handle, fact)
                action = durable_rules_engine.start_action_for_state(self._handle, state)
                message = action[1] if action else None
                while message:
                    # the message is {"<rule name>": {...the fact...}}: read the name, skip parsing the fact
                    fired.append(message[2:message.index('"', 2)])
                    message = durable_rules_engine.complete_and_start_action(self._handle, state)
            except durable_rules_engine.error as error:
                failure = error
            else:
                failure = None
            try:
                durable_rules_engine.retract_fact(self._handle, fact)
            except durable_rules_engine.error as error:
                failure = failure or error  # the first failure is the one that explains
            if failure is not None:
                self._session[:] = [next(_SESSIONS), False]  # what is left of that session is never used again
                raise DurableError(f"durable_rules failed on ruleset {self.name}: {failure}")
        # a rule whose $or holds on several branches fires once per branch: report it once
        return [name for name in dict.fromkeys(fired) if name != _SENTINEL]


def _cost(part: Condition) -> int:
    """Which tests of a rule go first: durable_rules shares a node among the rules that start alike and
    tests the rest of a rule only if the first holds, so equality with a value (shared by many rules,
    rarely true, a string compare) leads, and quantifiers, which parse the list anew, come last."""
    if isinstance(part, Compare):
        return (0 if isinstance(part.right, Lit) else 1) if part.op == "==" else 3
    if isinstance(part, Present):
        return 2
    return 4 if isinstance(part, (And, Or)) else 5


def _ordered(condition: Condition, period: Period) -> Condition:
    """The condition's tests in the order they are best matched, then the days it is in force."""
    if condition == Const(True):
        condition = Present(Ref(FACT, "flow_id"), True)  # every flow has one
    parts = sorted(condition.children if isinstance(condition, And) else (condition,), key=_cost)
    day = Ref(FACT, _DAY)
    parts += [Compare(">=", day, Lit(period.start.toordinal()))] if period.start is not None else []
    parts += [Compare("<=", day, Lit(period.end.toordinal()))] if period.end is not None else []
    return And(tuple(parts)) if len(parts) > 1 else parts[0]


def _pack(label: str, rules: list[tuple[int, Condition, Period]]) -> list[DurableRuleset]:
    """Rules (piece number, lowered condition, days in force) packed into rulesets within durable_rules'
    tables (rules/capacity.py), those that start with the same test side by side (they share its node)."""
    ordered = [(f"p{number}", _ordered(condition, period)) for number, condition, period in rules
               if condition != Const(False)]
    ordered.sort(key=lambda rule: (_cost(_first(rule[1])), repr(_first(rule[1]))))
    conditions = dict(ordered)
    packs = pack({name: condition_size(condition) for name, condition in ordered}, MAX_RULES_PER_RULESET)
    return [_shared_ruleset(f"{label}-{index}", {name: conjuncts(to_durable(conditions[name])) for name in names})
            for index, names in enumerate(packs)]


def _first(condition: Condition) -> Condition:
    return condition.children[0] if isinstance(condition, And) else condition


class DurableMatcher:
    """A jurisdiction's pieces in durable_rules, for all of time (each rule guarded by its days where other
    rules are in force), unrolled for each shape of flow decided (engine/shapes.py) and compiled on first use.

    durable_rules takes about 11 KB per rule compiled, so a jurisdiction keeps at most 16 shapes and at most
    twice its rules (plus 512) compiled for them; a flow of another shape, or one that does not unroll, is
    matched with the conditions as lowered, compiled when first needed. They are compiled once when the
    engine is built too, so that a pack durable_rules refuses is refused then, and freed until needed."""

    name = "durable"

    def __init__(self, compiled: CompiledJurisdiction, scope: Scope):
        self._code = compiled.code
        days_with_rules = [period for period, count in compiled.spans() if count]
        first = days_with_rules[0].start if days_with_rules else None
        last = days_with_rules[-1].end if days_with_rules else None
        # a rule needs no guard on a side where no other rule is ever in force: those flows are refused anyway
        self._pieces = [(number, piece.condition, Period(
            piece.period.start if piece.period.start and (first is None or piece.period.start > first) else None,
            piece.period.end if piece.period.end and (last is None or piece.period.end < last) else None))
            for number, piece in enumerate(compiled.pieces)]
        try:
            _pack(compiled.code, self._lowered_rules())
        except DurableError as error:
            raise DurableError(f"{compiled.code}: {error}") from None
        self._lowered: list[DurableRuleset] | None = None
        self._shapes = Shapes(scope, [condition for _, condition, _ in self._pieces])
        self._by_shape: dict[tuple[int, ...], list[DurableRuleset] | None] = {}
        self._budget = 2 * len(self._pieces) + 512  # rules compiled for shapes
        self._lock = threading.Lock()

    def _lowered_rules(self) -> list[tuple[int, Condition, Period]]:
        return list(self._pieces)

    def _as_lowered(self) -> list[DurableRuleset]:
        if self._lowered is None:
            rulesets = _pack(self._code, self._lowered_rules())
            with self._lock:
                self._lowered = self._lowered or rulesets
        return self._lowered

    def _for_shape(self, shape: tuple[int, ...]) -> list[DurableRuleset] | None:
        """The rulesets for flows of this shape, or None to match the conditions as lowered (a condition that
        does not unroll or unrolls beyond durable_rules' limits, or no room for another shape)."""
        with self._lock:
            if shape in self._by_shape:
                return self._by_shape[shape]
            if len(self._by_shape) >= _SHAPES_KEPT or self._budget < len(self._pieces):
                return None
        rules: list[tuple[int, Condition, Period]] | None = []
        for number, lowered, period in self._pieces:
            unrolled = self._shapes.unroll(lowered, shape)
            if unrolled is None or size_problem(_ordered(unrolled, period)):
                rules = None
                break
            rules.append((number, unrolled, period))
        try:
            rulesets = None if rules is None else _pack(f"{self._code}-{'x'.join(map(str, shape))}", rules)
        except DurableError:
            rulesets = None
        with self._lock:
            if shape not in self._by_shape:
                self._by_shape[shape] = rulesets
                self._budget -= len(rules or ())
            return self._by_shape[shape]

    def fired(self, facts: dict[str, Any], segment: int, day: int) -> list[int]:
        """The pieces (indices into the jurisdiction's pieces) whose condition holds for ``facts`` on ``day``."""
        rulesets, fact = None, facts
        if self._shapes.object_lists or self._shapes.unrolls_flags:
            flat = self._shapes.flat_fact(facts)
            rulesets = self._for_shape(self._shapes.shape(facts)) if len(flat) <= MAX_FACT_KEYS else None
            fact = flat if rulesets is not None else facts
        try:
            rulesets = rulesets if rulesets is not None else self._as_lowered()
            fact_json = to_json(fact)
            return [int(name[1:]) for ruleset in rulesets for name in ruleset.matches(fact_json, day)]
        except DurableError as error:
            raise EngineError(str(error)) from None
