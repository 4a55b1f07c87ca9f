"""Licit's engine: decide enrollment flows against jurisdiction rule packs.

    >>> from engine import Engine
    >>> decision = Engine(rules_dir="jurisdictions").evaluate(flow)   # dict, JSON text or Flow
"""
from __future__ import annotations

import threading

from engine.core import ENGINE_VERSION, DecisionSink, Engine
from engine.decision import Decision, Finding, Obligation
from engine.errors import EngineError, FieldError, FlowValidationError, LicitError
from engine.flow import Flow
from rules import RuleSetError

__all__ = [
    "Decision", "DecisionSink", "Engine", "EngineError", "FieldError", "Finding", "Flow", "FlowValidationError",
    "LicitError", "Obligation", "RuleSetError", "default_engine", "evaluate", "__version__",
]
__version__ = ENGINE_VERSION

_default: Engine | None = None
_default_lock = threading.Lock()


def default_engine() -> Engine:
    """The engine behind :func:`evaluate`: rules from LICIT_RULES, ./jurisdictions, or the shipped packs."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Engine()
        return _default


def evaluate(flow: Flow | dict | str | bytes) -> Decision:
    """Decide a flow on the default engine."""
    return default_engine().evaluate(flow)
