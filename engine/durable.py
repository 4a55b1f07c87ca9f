"""The durable_rules matcher: the one module that talks to durable_rules (importing it fails where it is absent).

We drive the C engine (``durable_rules_engine``) directly rather than through
``durable.lang``: its ``Host`` starts timer threads that dispatch actions behind
our back, and each fired rule would cost a Python callback. Facts are asserted
(not posted as events) so every matching rule sees them; each evaluation runs in
its own session, deleted in ``finally`` (live sessions are never freed
otherwise); all calls are serialised because the engine's state is process-global.

Measured here (durable_rules 2.0.28): ``delete_state`` after an assert that matched
no rule corrupts the heap (segfault or ``free(): invalid pointer``, depending on
what else the process has allocated). Every ruleset therefore has a sentinel rule
that matches every fact, so a session always ends on the path that was sound
(200,000 evaluations in one process, resident memory flat). The session's state
object is matched against the rules too, so a condition like ``{"$nex": …}``
would hold for it: every condition also requires the sentinel key of our facts.
More than 64 alpha nodes pending at once fails the assertion (error 303) and the
heap is corrupt after it, so rules are packed into rulesets by the width
``engine.compile.stack_width`` bounds, never by count.

A jurisdiction's rules are compiled once, for all of time: each piece (a rule over
the span of days its lowered condition holds for, rules/segments.py) is guarded by
its first and last day, tested on the ``licit_day`` every fact carries. Rulesets are
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

from engine.compile import MAX_STACK, conjuncts, stack_width, to_durable, to_json
from engine.errors import EngineError
from rules.segments import CompiledJurisdiction

__all__ = ["DurableError", "DurableMatcher", "DurableRuleset", "live_rulesets"]

_LOCK = threading.Lock()
_SESSIONS = itertools.count(1)
_SENTINEL = "licit_sentinel"
_SENTINEL_CONDITION = {"$ex": {"licit_session": 1}}
_DAY = "licit_day"
_BUDGET = MAX_STACK - 4  # of pending alpha nodes per ruleset, with a margin


class DurableError(Exception):
    """durable_rules refused a ruleset or failed while matching a fact."""


_SHARED: "weakref.WeakValueDictionary[str, DurableRuleset]" = weakref.WeakValueDictionary()
_LIVE: set[int] = set()  # handles of the rulesets durable_rules holds
_RETIRED: list[int] = []  # handles of rulesets no engine uses any more, deleted under the lock


def _delete_retired() -> None:
    """Delete the rulesets retired since the last call; the caller holds the lock."""
    while _RETIRED:
        handle = _RETIRED.pop()
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
        weakref.finalize(self, _RETIRED.append, self._handle)

    def matches(self, fact_json: str, day: int = 0) -> list[str]:
        """Names of the rules that hold for the fact (a JSON object) on ``day`` (a date's ordinal)."""
        fired: list[str] = []
        with _LOCK:
            session = str(next(_SESSIONS))
            payload = f'{{"sid":"{session}","licit_session":1,"{_DAY}":{day:d},{fact_json[1:]}'
            try:
                _, state = durable_rules_engine.assert_fact(self._handle, payload)
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
                durable_rules_engine.delete_state(self._handle, session)
            except durable_rules_engine.error as error:
                failure = failure or error  # the first failure is the one that explains
            if failure is not None:
                raise DurableError(f"durable_rules failed on ruleset {self.name}: {failure}")
        # a rule whose $or holds on several branches fires once per branch: report it once
        return [name for name in dict.fromkeys(fired) if name != _SENTINEL]


def _guards(piece_period) -> list[dict]:
    guards = []
    if piece_period.start is not None:
        guards.append({"$gte": {_DAY: piece_period.start.toordinal()}})
    if piece_period.end is not None:
        guards.append({"$lte": {_DAY: piece_period.end.toordinal()}})
    return guards


class DurableMatcher:
    """A jurisdiction's pieces in durable_rules, for all of time: each rule guarded by its days."""

    name = "durable"

    def __init__(self, compiled: CompiledJurisdiction):
        rulesets: list[dict[str, list[dict]]] = [{}]
        width = 0
        for number, piece in enumerate(compiled.pieces):
            condition = to_durable(piece.condition)
            if condition is None:
                continue  # never holds
            tests = [*_guards(piece.period), *conjuncts(condition)]
            needed = stack_width({"$and": tests})
            if width + needed > _BUDGET and rulesets[-1]:
                rulesets.append({})
                width = 0
            rulesets[-1][f"p{number}"] = tests
            width += needed
        try:
            self._rulesets = [_shared_ruleset(f"{compiled.code}-{index}", rules)
                              for index, rules in enumerate(rulesets) if rules]
        except DurableError as error:
            raise DurableError(f"{compiled.code}: {error}") from None

    def fired(self, facts: dict[str, Any], segment: int, day: int) -> list[int]:
        """The pieces (indices into the jurisdiction's pieces) whose condition holds for ``facts`` on ``day``."""
        fact_json = to_json(facts)
        try:
            return [int(name[1:]) for ruleset in self._rulesets for name in ruleset.matches(fact_json, day)]
        except DurableError as error:
            raise EngineError(str(error)) from None

