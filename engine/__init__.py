"""Licit's engine: decide enrollment flows against jurisdiction rule packs.

    >>> from engine import Engine
    >>> decision = Engine(rules_dir="jurisdictions").evaluate(flow)   # dict, JSON text or Flow

Names are imported on first use, so that ``licit audit …`` starts without loading
the rule language or durable_rules.
"""
from __future__ import annotations

import threading

from rules.lazy import lazy_exports

_EXPORTS = {
    "Decided": "engine.core", "DecisionSink": "engine.core", "Engine": "engine.core",
    "__version__": "engine.core:ENGINE_VERSION",
    "Decision": "engine.decision", "Finding": "engine.decision", "Obligation": "engine.decision",
    "EngineError": "engine.errors", "FieldError": "engine.errors", "FlowValidationError": "engine.errors",
    "LicitError": "engine.errors", "Flow": "engine.flow", "RuleSetError": "rules.errors",
}
__all__ = sorted([*_EXPORTS, "default_engine", "evaluate"])
__getattr__ = lazy_exports(__name__, _EXPORTS)

_default = None
_default_lock = threading.Lock()


def default_engine():
    """The engine behind :func:`evaluate`: rules from LICIT_RULES, ./jurisdictions, or the shipped packs;
    every decision logged, as by ``licit evaluate``, to LICIT_AUDIT_DB, else ./licit-audit.db."""
    from audit.schema import default_db_path
    from engine.core import Engine

    global _default
    with _default_lock:
        if _default is None:
            _default = Engine(audit_db=default_db_path())
        return _default


def evaluate(flow):
    """Decide a flow (a Flow, dict, or JSON text or bytes) on the default engine and log it; returns its Decision."""
    return default_engine().evaluate(flow)
