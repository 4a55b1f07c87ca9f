"""Licit's decision log: tamper-evident, append-only, queryable by auditors.

The engine writes through DecisionLog; auditors read through the query, verify
and checkpoint functions (and `licit audit`, in engine/cli/audit.py). `audit` depends on
neither `engine` nor the rule language: from `rules` it takes only the base of
every Licit error, `rules.errors.LicitError`, and the lazy exports below (rules.lazy).
"""

from rules.lazy import lazy_exports

# Loaded on first use: `licit audit query` needs the queries, not the writer or verify.
_EXPORTS = {
    "AuditError": "audit.errors", "AuditInputError": "audit.errors", "AuditWriteError": "audit.errors",
    "RecordRefused": "audit.errors", "CheckpointPolicy": "audit.checkpoints", "DecisionNotFound": "audit.errors",
    "DecisionLog": "audit.log", "Problem": "audit.problems", "VerifyReport": "audit.verify",
    "decision_stats": "audit.queries", "default_db_path": "audit.schema", "export_log": "audit.queries",
    "find_decisions": "audit.queries", "get_decision": "audit.queries", "load_ruleset": "audit.queries",
    "generate_keys": "audit.signing", "read_checkpoint": "audit.checkpoints", "ruleset_digest": "audit.canonical",
    "verify_log": "audit.verify", "write_checkpoint": "audit.checkpoints",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
