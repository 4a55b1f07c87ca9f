"""Text renderings for people: a decision someone can act on, a rule set someone can review."""
from __future__ import annotations

import datetime as dt

from engine.decision import Decision
from engine.ruleview import effective_rule_set
from rules import RuleTree

__all__ = ["decision_text", "rule_list_text"]

_MARK = {"deny": "✗ DENY  ", "review": "? REVIEW", "require": "! REQUIRE", "warn": "· WARN  "}


def decision_text(decision: Decision) -> str:
    lines = [f"{decision.outcome.upper()} — flow {decision.flow_id} (decision {decision.decision_id})",
             f"  jurisdiction {decision.jurisdiction} ({' → '.join(decision.jurisdiction_chain)}), "
             f"rules in force on {decision.as_of}",
             f"  rule set {decision.ruleset.digest}, engine {decision.engine_version}"]
    if not decision.findings:
        lines.append("  No rule fired: the flow may proceed.")
    for finding in decision.findings:
        citation = finding.citation
        source = " ".join(part for part in (citation.source, citation.article) if part)
        lines += ["", f"{_MARK[finding.effect]} {finding.rule_id} — {finding.title}",
                  f"  {finding.message.en}", f"  {finding.message.zh}",
                  f"  Source: {source} [{citation.status}]" + (f" {citation.url}" if citation.url else "")]
        if citation.note:
            lines.append(f"  Note: {citation.note}")
        lines.append(f"  Remedy: {finding.remedy}")
    if decision.obligations:
        lines += ["", "Obligations (the flow is allowed only if each is carried out):"]
        lines += [f"  - {obligation.action} ({obligation.rule_id}): {obligation.message.en}"
                  for obligation in decision.obligations]
    return "\n".join(lines)


def rule_list_text(tree: RuleTree, code: str, day: dt.date) -> str:
    view = effective_rule_set(tree, code, day)
    lines = [f"{code} ({' → '.join(view.jurisdiction_chain)}) on {day}: {len(view.rules)} rules in force, "
             f"rule set {view.digest}"]
    for rule in view.rules:
        origin = "own rule" if rule.jurisdiction == code else f"inherited from {rule.jurisdiction}"
        period = f"{rule.in_force.start or '…'} – {rule.in_force.end or '…'}"
        lines.append(f"  {rule.rule_id:<42} {rule.effect:<8} {origin:<24} {period}  "
                     f"[{rule.citation.status}]  {rule.source}")
        if rule.replaces:
            lines.append(f"      replaces {rule.replaces.rule_id}: {rule.replaces.reason}")
        for exception in rule.exceptions:
            lines.append(f"      except when {exception.condition} ({exception.jurisdiction}: {exception.reason})")
    for override in view.overrides:
        verb = "replaced by " + override.by_rule if override.kind == "replacement" else "disabled"
        lines.append(f"  {override.rule_id:<42} {verb} in {override.jurisdiction}: {override.reason}")
    if view.parameters:
        lines.append("  parameters:")
        for parameter in view.parameters:
            lines.append(f"    {parameter.name} = {parameter.value!r} (from {parameter.jurisdiction})")
    return "\n".join(lines)
