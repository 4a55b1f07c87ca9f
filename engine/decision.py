"""The decision (output contract v1)."""
from __future__ import annotations

import datetime as dt
import os
import threading
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict

from rules.schema import Citation, Effect, LocalizedText

__all__ = ["Decision", "Finding", "Obligation", "Outcome", "RulesetRef", "outcome_of", "new_decision_id",
           "EFFECT_ORDER", "OUTCOME_OF_EFFECT"]

Outcome = Literal["deny", "review", "conditional", "allow"]
EFFECT_ORDER = {"deny": 0, "review": 1, "require": 2, "warn": 3}
OUTCOME_OF_EFFECT = {"deny": "deny", "review": "review", "require": "conditional", "warn": "allow"}


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
    return OUTCOME_OF_EFFECT[min((finding.effect for finding in findings), key=EFFECT_ORDER.__getitem__)]


_RANDOM_BITS = 80
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_last_id = 0
_id_lock = threading.Lock()


def new_decision_id(at: dt.datetime | None = None) -> str:
    """48 bits of milliseconds (of ``at``, else of now) then 80 random bits, as 32 hex digits: ids sort by time.

    Within a process each id is greater than the one before: in the same millisecond (or
    if the clock steps back) the previous id plus one, so ids made in one millisecond
    still sort in the order they were made."""
    global _last_id
    millis = time.time_ns() // 1_000_000 if at is None else (at - _EPOCH) // dt.timedelta(milliseconds=1)
    fresh = millis << _RANDOM_BITS | int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big")
    with _id_lock:
        same_or_earlier_ms = fresh >> _RANDOM_BITS <= _last_id >> _RANDOM_BITS
        _last_id = _last_id + 1 if same_or_earlier_ms else fresh
        return f"{_last_id:032x}"
