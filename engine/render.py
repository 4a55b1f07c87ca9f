"""Text renderings for people: a decision someone can act on, a rule set someone can review."""
from __future__ import annotations

import datetime as dt

from engine.decision import Decision
from engine.ruleview import effective_rule_set
from rules import RuleTree
from rules.wording import LANGUAGES, counted, printable, shown

__all__ = ["RULE_LIST_HEADER", "decision_text", "rule_list"]

_MARK = {"deny": "✗ DENY  ", "review": "? REVIEW", "require": "! REQUIRE", "warn": "· WARN  "}


def decision_text(decision: Decision, languages: tuple[str, ...] = LANGUAGES) -> str:
    """The decision for a person; each message in ``languages``. Each line is one line, whatever its texts
    hold (a decision may be built by hand, or read back from a log)."""
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
                  *(f"  {getattr(finding.message, language)}" for language in languages),
                  f"  Source: {source} [{citation.status}]" + (f" {citation.url}" if citation.url else "")]
        if citation.note:
            lines.append(f"  Note: {citation.note}")
        lines.append(f"  Remedy: {finding.remedy}")
    if decision.obligations:
        lines += ["", "Obligations (the flow is allowed only if each is carried out):"]
        for obligation in decision.obligations:
            lines.append(f"  - {obligation.action} ({obligation.rule_id})")
            lines += [f"    {getattr(obligation.message, language)}" for language in languages]
    return "\n".join(map(printable, lines))


RULE_LIST_HEADER = ("rule", "effect", "origin", "in force", "citation", "written at")


def rule_list(tree: RuleTree, code: str, day: dt.date) -> tuple[str, list[tuple], list[str]]:
    """The effective rule set of ``code`` on ``day`` (the view GET /v1/rules answers too): a title, a row per
    rule in force (RULE_LIST_HEADER), and the lines to show after them: what replaces, excepts or disables
    which rule, and the parameter values with the jurisdiction that set each."""
    view = effective_rule_set(tree, code, day)
    title = (f"{code} ({' → '.join(view.jurisdiction_chain)}) on {day}: {counted(len(view.rules), 'rule')} "
             f"in force, rule set {view.digest}")
    rows, notes = [], []
    for rule in view.rules:
        origin = "own rule" if rule.jurisdiction == code else f"inherited from {rule.jurisdiction}"
        period = f"{rule.in_force.start or '…'} – {rule.in_force.end or '…'}"
        rows.append((rule.rule_id, rule.effect, origin, period, rule.citation.status, rule.source))
        if rule.replaces:
            notes.append(f"{rule.rule_id} replaces {rule.replaces.rule_id}: {rule.replaces.reason}")
        notes += [f"{rule.rule_id} except when {exception.condition} ({exception.jurisdiction}: {exception.reason})"
                  for exception in rule.exceptions]
    for override in view.overrides:
        verb = "replaced by " + override.by_rule if override.kind == "replacement" else "disabled"
        notes.append(f"{override.rule_id} {verb} in {override.jurisdiction}: {override.reason}")
    notes += [f"parameter {parameter.name} = {shown(parameter.value)} (from {parameter.jurisdiction})"
              for parameter in view.parameters]
    return printable(title), rows, [printable(note) for note in notes]  # a condition may be written on lines
