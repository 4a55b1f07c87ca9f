"""A logged decision as a scenario-test case (the format `licit rules test` runs), so that a real case
is pinned before a rule changes: the logged, redacted flow as the case's base, and the decision's
outcome, fired rules and obligations as what it must get."""
from __future__ import annotations

import datetime as dt
import os

import yaml

from audit import AuditError, get_decision

__all__ = ["scenario_from_decision"]


def scenario_from_decision(db: str | os.PathLike, decision_id: str, *, name: str | None = None) -> str:
    """The text of a scenario file holding one case: the flow of logged decision `decision_id` and the
    decision it got. A record whose chain link does not verify is refused (AuditError): what it says
    now may not be what was decided."""
    stored = get_decision(db, decision_id)
    if not stored["chain_link_verified"]:
        raise AuditError(f"decision {decision_id} does not verify in the log ({stored['chain_link_problem']}); "
                         "not pinned as a test (run `licit audit verify`)")
    decision, flow = stored["decision"], stored["flow"]
    name = name if name is not None else f"logged decision {decision_id} ({decision['flow_id']})"
    if not name.strip():
        raise AuditError("a scenario case needs a name that is not blank")
    case: dict = {"name": name, "base": flow}
    if _instant(decision["as_of"]) != _instant(flow["requested_at"]):
        case["as_of"] = decision["as_of"]  # decided under the rules of another instant than its request's
    expect: dict = {"outcome": decision["outcome"]}
    fired = [finding["rule_id"] for finding in decision["findings"]]
    actions = list(dict.fromkeys(obligation["action"] for obligation in decision["obligations"]))
    if fired:
        expect["fires"] = fired
    if actions:
        expect["obligations"] = actions
    case["expect"] = expect
    code = decision["jurisdiction"]
    header = (
        f"# Pinned from decision {decision_id} in {os.fspath(db)}: flow {decision['flow_id']} in {code},\n"
        f"# decided {decision['evaluated_at']} under rule set {stored['ruleset_digest']}.\n"
        "# The applicant's identifiers are the log's keyed hashes: rules never read them.\n"
        f"# Save this file under {code}/tests/ of the rule tree (a case runs in the jurisdiction of its\n"
        f"# folder), then: licit rules test -j {code}\n"
    )
    body = yaml.safe_dump({"cases": [case]}, allow_unicode=True, sort_keys=False, width=120, default_flow_style=None)
    return header + body


def _instant(text: str) -> dt.datetime | str:
    try:
        return dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return text
