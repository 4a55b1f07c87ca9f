"""Licit's decision log: tamper-evident, append-only, queryable by auditors.

The engine writes through DecisionLog; auditors read through the query, verify
and checkpoint functions (and `licit audit`, in audit.cli). `audit` depends on
neither `engine` nor the rule language: from `rules` it takes only the base of
every Licit error, `rules.errors.LicitError`.
"""

from audit.canonical import ruleset_digest
from audit.chain import Problem
from audit.errors import AuditError, AuditInputError, AuditWriteError
from audit.log import DecisionLog, default_db_path
from audit.queries import decision_stats, export_log, find_decisions, get_decision, load_ruleset
from audit.verify import VerifyReport, read_checkpoint, verify_log, write_checkpoint

__all__ = [
    "AuditError",
    "AuditInputError",
    "AuditWriteError",
    "DecisionLog",
    "Problem",
    "VerifyReport",
    "decision_stats",
    "default_db_path",
    "export_log",
    "find_decisions",
    "get_decision",
    "load_ruleset",
    "read_checkpoint",
    "ruleset_digest",
    "verify_log",
    "write_checkpoint",
]
