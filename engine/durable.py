"""The one module that talks to durable_rules.

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
Rulesets are shared by content for the life of the process and never deleted:
a test run that built and deleted thousands of rulesets once saw ``create_ruleset``
fail (error 102) on a definition that compiles everywhere else, and engines that
load the same packs (a reload, a replay) reuse what is already compiled.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import uuid
from typing import Any

import durable_rules_engine

__all__ = ["DurableError", "DurableRuleset", "MAX_RULES_PER_RULESET", "shared_ruleset", "to_json"]

# durable_rules fails to compile one ruleset of a few hundred rules (error 303); stay well below
MAX_RULES_PER_RULESET = 64
_LOCK = threading.Lock()
_SESSIONS = itertools.count(1)
_SENTINEL = "licit_sentinel"
_SENTINEL_CONDITION = {"$ex": {"licit_session": 1}}


_EXPONENT = re.compile(r"\d[eE][+-]?\d")
# a JSON string, or a number written with an exponent (which durable_rules' parser refuses: error 204)
_STRING_OR_EXPONENT = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?[eE][+-]?\d+')


def _positional(match: re.Match) -> str:
    token = match.group()
    if token.startswith('"'):
        return token
    return format(float(token), ".17f").rstrip("0").rstrip(".") or "0"


def to_json(value: Any) -> str:
    """JSON for durable_rules: compact, UTF-8, and numbers never in exponent notation."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # fast path: numbers lie between the quotes; "true"/"false" are never followed by - or +
    if '\\"' not in text and not any("e-" in part or "e+" in part for part in text.split('"')[::2]):
        return text
    if not _EXPONENT.search(text):
        return text
    return _STRING_OR_EXPONENT.sub(_positional, text)


class DurableError(Exception):
    """durable_rules refused a ruleset or failed while matching a fact."""


_SHARED: dict[str, "DurableRuleset"] = {}


def shared_ruleset(label: str, conditions: dict[str, dict]) -> "DurableRuleset":
    """The process's ruleset for these conditions, compiled on first use."""
    key = hashlib.sha256(to_json(conditions).encode("utf-8")).hexdigest()
    with _LOCK:
        ruleset = _SHARED.get(key)
    if ruleset is None:
        ruleset = DurableRuleset(label, conditions)
        with _LOCK:
            ruleset = _SHARED.setdefault(key, ruleset)
    return ruleset


class DurableRuleset:
    """A set of named conditions compiled into one durable_rules ruleset."""

    def __init__(self, label: str, conditions: dict[str, dict]):
        self.name = f"licit-{label}-{uuid.uuid4().hex[:12]}"
        if _SENTINEL in conditions:
            raise DurableError(f"rule name {_SENTINEL} is reserved")
        # the session's own state object is matched too: a bare {"$nex": …} holds for it, so every
        # condition also requires the key only our facts carry
        definition = {rule_name: {"all": [{"m": {"$and": [_SENTINEL_CONDITION, condition]}}]}
                      for rule_name, condition in conditions.items()}
        definition[_SENTINEL] = {"all": [{"m": _SENTINEL_CONDITION}]}
        with _LOCK:
            try:
                self._handle = durable_rules_engine.create_ruleset(self.name, to_json(definition))
            except durable_rules_engine.error as error:
                raise DurableError(f"durable_rules refused ruleset {label}: {error}") from None

    def matches(self, fact_json: str) -> list[str]:
        """Names of the conditions that hold for the fact (a JSON object with a unique ``sid``)."""
        fired: list[str] = []
        with _LOCK:
            session = str(next(_SESSIONS))
            payload = '{"sid":"' + session + '","licit_session":1,' + fact_json[1:]
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
