"""The service's request and response bodies beyond the contract's Flow and Decision.
/openapi.json is generated from these and from the contract's own models."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.decision import Decision
from engine.flow import Flow
from engine.service.problems import FieldProblem, Problem

__all__ = ["BatchRequest", "BatchItem", "BatchResponse", "OpaRequest", "OpaResponse", "ReloadResult",
           "Readiness", "Health", "StoredDecision"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BatchRequest(_Body):
    flows: list[Flow] = Field(description="flows to decide, each on its own: a bad flow is that item's error")


class BatchItem(_Body):
    """One flow's answer: its status as if it had been sent alone, and its decision or its problem."""

    status: int
    decision: Decision | None = None
    error: Problem | None = None


class BatchResponse(_Body):
    results: list[BatchItem] = Field(description="in the order of the flows sent")


class OpaRequest(_Body):
    input: Flow


class OpaResponse(_Body):
    """As OPA's Data API answers: the decision is the result; decision_id as OPA adds it with decision logs on."""

    decision_id: str
    result: Decision


class ReloadResult(_Body):
    reloaded: bool = Field(description="false: the tree was refused and the last good one stays in force")
    loaded_at: str = Field(description="when the rule sets in force were loaded")
    digests: dict[str, str] = Field(description="rule set in force per jurisdiction")
    errors: list[FieldProblem] = Field(default=[], description="why the tree was refused: path is file:line:col")


class Readiness(_Body):
    ready: bool
    reasons: list[str] = []


class Health(_Body):
    status: Literal["ok"]


class StoredDecision(_Body):
    """A logged decision with its place in the hash chain (``licit audit show``'s record)."""

    seq: int
    decision_id: str
    recorded_at: str
    evaluated_at: str
    duration_s: float
    ruleset_digest: str
    decision: Decision
    flow: dict[str, Any] = Field(description="the flow as logged: the applicant's identifiers are keyed hashes")
    prev_hash: str
    hash: str
    chain_link_verified: bool
    chain_link_problem: str | None
