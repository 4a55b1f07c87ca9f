"""The decision (output contract v1)."""
from __future__ import annotations

import os
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from rules.schema import Citation, Effect, LocalizedText

__all__ = ["Decision", "Finding", "Obligation", "Outcome", "RulesetRef", "outcome_of", "new_decision_id",
           "EFFECT_ORDER"]

Outcome = Literal["deny", "review", "conditional", "allow"]
EFFECT_ORDER = {"deny": 0, "review": 1, "require": 2, "warn": 3}
_OUTCOME_OF_EFFECT = {"deny": "deny", "review": "review", "require": "conditional", "warn": "allow"}


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Finding(_Out):
    """A rule that fired, with its citation and what to do about it."""

    rule_id: str
    jurisdiction: str
    effect: Effect
    title: str
    message: LocalizedText
    citation: Citation
    remedy: str
    action: str | None = None


class Obligation(_Out):
    """What must be carried out for a conditional decision to allow the flow."""

    rule_id: str
    action: str
    message: LocalizedText


class RulesetRef(_Out):
    digest: str


class Decision(_Out):
    decision_id: str
    flow_id: str
    evaluated_at: str
    as_of: str
    jurisdiction: str
    jurisdiction_chain: list[str]
    outcome: Outcome
    findings: list[Finding]
    obligations: list[Obligation]
    ruleset: RulesetRef
    engine_version: str


def outcome_of(findings: list[Finding]) -> Outcome:
    """The strongest effect among the fired rules: deny > review > conditional > allow."""
    if not findings:
        return "allow"
    return _OUTCOME_OF_EFFECT[min((finding.effect for finding in findings), key=EFFECT_ORDER.__getitem__)]


def new_decision_id() -> str:
    """48 bits of milliseconds then 80 random bits, as 32 hex digits: ids sort by time."""
    return (time.time_ns() // 1_000_000).to_bytes(6, "big").hex() + os.urandom(10).hex()
