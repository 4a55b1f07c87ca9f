"""Errors the engine raises. None of them ever stands for a decision: the caller must not proceed."""
from __future__ import annotations

from dataclasses import dataclass

from rules.wording import printable
from rules.errors import LicitError

__all__ = ["EngineError", "FieldError", "FlowValidationError", "LicitError"]


@dataclass(frozen=True)
class FieldError:
    path: str  # e.g. payments[1].apr, or (input) for the document itself
    message: str

    def __str__(self) -> str:
        return printable(f"{self.path}: {self.message}")  # one line, whatever a caller's key or value holds


class FlowValidationError(LicitError, ValueError):
    """The flow is not valid input; ``errors`` holds every field error found."""

    def __init__(self, errors: list[FieldError], source: str | None = None):
        self.errors = errors
        self.source = source
        prefix = f"{source}: " if source else ""
        super().__init__("; ".join(prefix + str(error) for error in errors))


class EngineError(LicitError):
    """The flow could not be decided (the rule engine failed); never treat this as allow."""
