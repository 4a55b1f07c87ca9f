"""The one module that talks to durable_rules.

We drive the C engine (``durable_rules_engine``) directly rather than through
``durable.lang``: its ``Host`` starts timer threads that dispatch actions behind
our back, and each fired rule would cost a Python callback. Facts are asserted
(not posted as events) so every matching rule sees them; each evaluation runs in
its own session, deleted in ``finally`` (live sessions are never freed
otherwise); all calls are serialised because the engine's state is process-global.
"""
from __future__ import annotations

import itertools
import json
import threading
import uuid

import durable_rules_engine

__all__ = ["DurableError", "DurableRuleset", "MAX_RULES_PER_RULESET"]

# durable_rules fails to compile one ruleset of a few hundred rules (error 303); stay well below
MAX_RULES_PER_RULESET = 64
_LOCK = threading.Lock()
_SESSIONS = itertools.count(1)
_NOT_HANDLED = 1


class DurableError(Exception):
    """durable_rules refused a ruleset or failed while matching a fact."""


class DurableRuleset:
    """A set of named conditions compiled into one durable_rules ruleset."""

    def __init__(self, label: str, conditions: dict[str, dict]):
        self.name = f"licit-{label}-{uuid.uuid4().hex[:12]}"
        definition = {rule_name: {"all": [{"m": condition}]} for rule_name, condition in conditions.items()}
        with _LOCK:
            try:
                self._handle = durable_rules_engine.create_ruleset(self.name, json.dumps(definition))
            except durable_rules_engine.error as error:
                raise DurableError(f"durable_rules refused ruleset {label}: {error}") from None

    def matches(self, fact_json: str) -> list[str]:
        """Names of the conditions that hold for the fact (a JSON object with a unique ``sid``)."""
        fired: list[str] = []
        with _LOCK:
            session = str(next(_SESSIONS))
            payload = '{"sid":"' + session + '",' + fact_json[1:]
            try:
                status, state = durable_rules_engine.assert_fact(self._handle, payload)
                if status != _NOT_HANDLED:
                    action = durable_rules_engine.start_action_for_state(self._handle, state)
                    message = action[1] if action else None
                    while message:
                        # the message is {"<rule name>": {...the fact...}}: read the name, skip parsing the fact
                        fired.append(message[2:message.index('"', 2)])
                        message = durable_rules_engine.complete_and_start_action(self._handle, state)
            except durable_rules_engine.error as error:
                raise DurableError(f"durable_rules failed on ruleset {self.name}: {error}") from None
            finally:
                durable_rules_engine.delete_state(self._handle, session)
        return fired

    def close(self) -> None:
        with _LOCK:
            if self._handle is not None:
                durable_rules_engine.delete_ruleset(self._handle)
                self._handle = None
