"""Text renderings of what the log holds, for an auditor reading a terminal: one stored record
(``licit audit show``) and one replay (``licit audit replay``). A field the record lacks is left
out, never printed as ``None``; lists are written out, never as Python's ``['a', 'b']``."""
from __future__ import annotations

from collections.abc import Iterable

from rules.wording import LANGUAGES, printable

__all__ = ["record_text", "replay_text"]


def record_text(record: dict, languages: tuple[str, ...] = LANGUAGES) -> str:
    """A record from audit.get_decision: the decision's header, then its findings (messages in ``languages``)
    and obligations."""
    decision = record["decision"]
    link = "verified" if record["chain_link_verified"] else f"BROKEN: {record['chain_link_problem']}"
    chain = " > ".join(decision.get("jurisdiction_chain") or [])
    fields = [
        ("decision", record["decision_id"]),
        ("seq", f"{record['seq']} (chain link {link})"),
        ("flow", decision.get("flow_id")),
        ("jurisdiction", _joined(decision.get("jurisdiction"), chain and f"(chain {chain})")),
        ("outcome", decision.get("outcome")),
        ("evaluated at", _joined(record["evaluated_at"],
                                 decision.get("as_of") and f"(rules as of {decision['as_of']})")),
        ("recorded at", f"{record['recorded_at']}, took {record['duration_s'] * 1000:.1f} ms"),
        ("rule set", record["ruleset_digest"]),
        ("engine", decision.get("engine_version")),
        ("hash", record["hash"]),
        ("prev hash", record["prev_hash"]),
    ]
    lines = [f"{name:<14}{value}" for name, value in fields if value not in (None, "")]
    findings, obligations = decision.get("findings") or [], decision.get("obligations") or []
    lines += ["", f"findings ({len(findings)})"]
    for number, finding in enumerate(findings, 1):
        lines += _finding(number, finding, languages)
    lines.append(f"obligations ({len(obligations)})")
    for obligation in obligations:
        lines.append(f"  - {_joined(obligation.get('rule_id'), obligation.get('action'), sep=': ')}")
        lines += [f"    {text}" for text in _messages(obligation.get("message"), languages)]
    return "\n".join(map(printable, lines))  # each line one line, whatever the log holds


def _finding(number: int, finding: dict, languages: tuple[str, ...]) -> list[str]:
    kind = ", ".join(part for part in (finding.get("effect"), finding.get("jurisdiction")) if part)
    lines = [f"  {number}. " + _joined(finding.get("rule_id"), kind and f"[{kind}]", finding.get("title"))]
    lines += [f"     {text}" for text in _messages(finding.get("message"), languages)]
    citation = finding.get("citation") or {}
    cited = _joined(citation.get("source"), citation.get("article"), f"({citation.get('status') or 'unstated'})",
                    citation.get("url"))
    lines.append(f"     cited: {cited}")
    if finding.get("remedy"):
        lines.append(f"     remedy: {finding['remedy']}")
    return lines


def _messages(message: object, languages: tuple[str, ...]) -> list[str]:
    """The message in each language asked for that it has (a logged message is what the engine wrote)."""
    if not isinstance(message, dict):
        return [str(message)] if message else []
    return [f"{language}: {message[language]}" for language in languages if message.get(language)]


def _joined(*parts: object, sep: str = " ") -> str:
    return sep.join(str(part) for part in parts if part not in (None, ""))


def replay_text(result: dict) -> str:
    """One line: what was logged, what the replay decided, under which rule set, and whether they are the same."""
    def summary(side: dict) -> str:
        return f"{side['outcome']} ({_rule_list(side['rule_ids'])})"

    verdict = "identical" if result["identical"] else "DIFFERENT"
    return (f"{result['decision_id']}: logged {summary(result['logged'])}, replayed {summary(result['replayed'])} "
            f"under {result['ruleset_digest']} — {verdict}")


def _rule_list(rule_ids: Iterable[str]) -> str:
    return ", ".join(rule_ids) or "no rule fired"
