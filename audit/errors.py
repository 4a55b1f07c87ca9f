"""Errors raised by the decision log: one clear line each, naming the file and the cause."""

from rules.errors import LicitError

__all__ = ["AuditError", "AuditInputError", "AuditWriteError", "DecisionNotFound", "RecordRefused"]


class AuditError(LicitError):
    """The decision log cannot be used as asked (missing, not a Licit log, bad input)."""


class AuditInputError(AuditError):
    """What the caller asked for is wrong (a date, a checkpoint file, an output path);
    nothing was read or written because of it. The CLI exits 2 for these."""


class AuditWriteError(AuditError):
    """A decision could not be durably logged; nothing of it was written."""


class RecordRefused(AuditWriteError):
    """The log refused these records themselves (a decision id it already holds, say),
    not the write: other callers' records may still be committed."""


class DecisionNotFound(AuditError):
    """The log holds no decision with the id asked for."""
