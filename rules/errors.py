"""Located rule errors: every problem in a rule tree as ``file:line:col: code: message``."""
from __future__ import annotations

from dataclasses import dataclass

from rules.wording import printable

__all__ = ["LicitError", "RuleError", "RuleSetError"]


class LicitError(Exception):
    """Base of every error Licit raises on purpose (rules, engine, decision log); its message is one line a person
    can act on, or for a rule set one located line per error."""


@dataclass(frozen=True, order=True)
class RuleError:
    """One problem in a rule file; line and column are 1-based, as editors show them."""

    file: str
    line: int
    col: int
    code: str
    message: str

    def __str__(self) -> str:
        # a file name comes from a folder listing and a message may quote the file: one line, whatever they hold
        return printable(f"{self.file}:{self.line}:{self.col}: {self.code}: {self.message}")


class RuleSetError(LicitError):
    """A rule tree that does not load. Carries every error found, sorted by place."""

    def __init__(self, errors: list[RuleError]):
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(error) for error in self.errors))
