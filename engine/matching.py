"""Matchers: what decides which of a jurisdiction's rules hold for a flow.

Two implementations run the same lowered conditions (rules/ir.py): ``durable`` (durable_rules'
Rete network, engine/durable.py), the default wherever durable_rules imports, and ``python`` (the
built-in matcher, engine/pymatch.py), which runs everywhere, including Python 3.13 where
durable_rules cannot be built. ``Engine(matcher=...)``, then ``LICIT_MATCHER``, choose one.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from engine.errors import EngineError, MatcherError

if TYPE_CHECKING:  # types only: the CLI imports this module to name the matchers, without the rule compiler
    from rules.segments import CompiledJurisdiction
    from rules.types import Vocabulary

__all__ = ["BATCH_MATCHER", "MATCHERS", "JurisdictionMatcher", "available_matchers", "default_matcher", "matcher_for",
           "matchers_text", "resolve_matcher"]

MATCHERS = ("durable", "python")
ENVIRONMENT = "LICIT_MATCHER"
# replay and impact decide a whole log: the built-in matcher takes about two thirds of durable_rules' CPU per
# replayed decision, and the differential tests hold the two to the same decisions
# (docs/replay-and-impact.md#which-matcher)
BATCH_MATCHER = "python"


class JurisdictionMatcher(Protocol):
    """A jurisdiction's rules (its pieces: a rule over the days one lowered condition holds for), compiled."""

    name: str

    def fired(self, facts: dict[str, Any], segment: int, day: int) -> list[int]:
        """Indices into ``compiled.pieces`` of the rules in force in ``segment`` (the segment holding the
        day whose ordinal is ``day``) whose condition holds for ``facts``."""
        ...


@lru_cache(maxsize=None)
def _durable_problem() -> str | None:
    """Why durable_rules cannot be used here, or None."""
    try:
        import engine.durable  # noqa: F401
    except ImportError as error:
        return str(error).split("\n")[0]
    return None


def available_matchers() -> list[str]:
    return [name for name in MATCHERS if name != "durable" or _durable_problem() is None]


def default_matcher() -> str:
    return available_matchers()[0]


def resolve_matcher(name: str | None = None, default: str | None = None) -> str:
    """The matcher to use: ``name``, else $LICIT_MATCHER, else ``default``, else the default here. Asking
    for durable_rules where it cannot be imported is an error (not a silent fallback): the caller named a matcher."""
    chosen = name or os.environ.get(ENVIRONMENT) or default or default_matcher()
    if chosen not in MATCHERS:
        source = "matcher" if name else ENVIRONMENT
        raise MatcherError(f"{source} {chosen!r} is not a matcher; choose one of: {', '.join(MATCHERS)}")
    if chosen == "durable" and _durable_problem() is not None:
        raise MatcherError(f"the durable matcher needs durable_rules, which cannot be imported here "
                          f"({_durable_problem()}); use the built-in matcher: matcher='python', "
                          f"{ENVIRONMENT}=python or --matcher python")
    return chosen


def matchers_text() -> str:
    """What ``licit --version`` says about matchers: those available here, and the one commands use."""
    lines = [f"matchers: {', '.join(available_matchers())} (default: {default_matcher()})"]
    if _durable_problem() is not None:
        lines.append(f"durable unavailable: durable_rules does not import here ({_durable_problem()})")
    chosen = os.environ.get(ENVIRONMENT)
    if chosen:
        try:
            lines.append(f"{ENVIRONMENT}={chosen}: commands use {resolve_matcher()}")
        except MatcherError as error:
            lines.append(f"{ENVIRONMENT}: {error}")
    return "\n".join(lines)


def matcher_for(name: str, compiled: CompiledJurisdiction, vocabulary: Vocabulary) -> JurisdictionMatcher:
    """Compile a jurisdiction's pieces for the matcher ``name`` (see :func:`resolve_matcher`)."""
    if name == "durable":
        from engine.durable import DurableError, DurableMatcher
        from rules.conditions import flow_scope

        try:
            return DurableMatcher(compiled, flow_scope(vocabulary))
        except DurableError as error:
            raise EngineError(str(error)) from None
    from engine.pymatch import PythonMatcher

    return PythonMatcher(compiled)
