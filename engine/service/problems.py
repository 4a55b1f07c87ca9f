"""Every error the service answers has one JSON shape (RFC 9457 problem details, with Licit's
``code`` and ``errors``), whatever went wrong: a client can handle all of them with one parser."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from engine.errors import FieldError

__all__ = ["FieldProblem", "Problem", "ServiceProblem", "PROBLEM_MEDIA_TYPE"]

PROBLEM_MEDIA_TYPE = "application/problem+json"


class FieldProblem(BaseModel):
    """One field error: the same path and message as ``licit evaluate`` prints (``payments[1].apr: …``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str = Field(examples=["payments[0].apr"])
    message: str


class Problem(BaseModel):
    """What every error response holds (media type application/problem+json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    status: int = Field(description="the HTTP status, repeated")
    code: str = Field(description="stable, for programs: invalid_flow, payload_too_large, not_found, "
                                  "method_not_allowed, unauthorized, forbidden, log_unavailable, rules_refused, "
                                  "engine_error, internal_error, …")
    title: str = Field(description="one line for a person")
    errors: list[FieldProblem] = Field(default=[], description="every field error, for invalid input")


class ServiceProblem(Exception):
    """Raised inside a handler to answer with a problem; nothing else is answered for the request."""

    def __init__(self, status: int, code: str, title: str, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(title)
        self.problem = Problem(status=status, code=code, title=title,
                               errors=[FieldProblem(path=error.path, message=error.message) for error in errors or []])
        self.headers = headers or {}
