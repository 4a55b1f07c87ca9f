"""Replay: re-decide a logged decision under exactly the rule files it was made with."""
from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from audit import AuditError, get_decision, load_ruleset
from engine.core import Engine

__all__ = ["replay_decision"]


def _summary(outcome: str, findings: list) -> dict:
    return {"outcome": outcome, "rule_ids": sorted(finding["rule_id"] for finding in findings)}


def replay_decision(db: str | Path, decision_id: str) -> dict:
    """The logged and the replayed outcome and rule ids, and whether they are identical.
    A record or rule set that does not verify is not replayed (AuditError).

    The logged flow carries keyed hashes instead of the applicant's identifiers; rules
    cannot read those fields, so the replay decides exactly as the original did.
    """
    record = get_decision(db, decision_id)
    if not record["chain_link_verified"]:
        # a record that is not as it was logged would replay "identical" to whatever it now says
        raise AuditError(f"decision {decision_id} does not verify in the log ({record['chain_link_problem']}); "
                         "not replayed (run `licit audit verify`)")
    ruleset = load_ruleset(db, record["ruleset_digest"])
    logged = record["decision"]
    with tempfile.TemporaryDirectory(prefix="licit-replay-") as directory:
        for relative, source in ruleset["files"].items():
            path = Path(directory, relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        with Engine(rules_dir=directory) as engine:
            replayed = engine.evaluate(record["flow"], as_of=dt.datetime.fromisoformat(logged["as_of"]))
    logged_summary = _summary(logged["outcome"], logged["findings"])
    replayed_summary = _summary(replayed.outcome, [finding.model_dump() for finding in replayed.findings])
    return {"decision_id": decision_id, "ruleset_digest": record["ruleset_digest"],
            "chain_link_verified": record["chain_link_verified"], "digest_matches": replayed.ruleset.digest ==
            record["ruleset_digest"], "logged": logged_summary, "replayed": replayed_summary,
            "identical": logged_summary == replayed_summary and replayed.ruleset.digest == record["ruleset_digest"]}
