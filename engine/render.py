"""Text renderings for people: a decision someone can act on, a rule set someone can review."""
from __future__ import annotations

import datetime as dt

from engine.decision import Decision
from rules import RuleTree
from rules.wording import LANGUAGES, counted, shown

__all__ = ["RULE_LIST_HEADER", "decision_text", "rule_list"]

_MARK = {"deny": "✗ DENY  ", "review": "? REVIEW", "require": "! REQUIRE", "warn": "· WARN  "}


def decision_text(decision: Decision, languages: tuple[str, ...] = LANGUAGES) -> str:
    """The decision for a person; each message in ``languages``."""
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
    return "\n".join(lines)


RULE_LIST_HEADER = ("rule", "effect", "origin", "in force", "citation", "written at")


def rule_list(tree: RuleTree, code: str, day: dt.date) -> tuple[str, list[tuple], list[str]]:
    """The effective rule set of ``code`` on ``day``: a title, a row per rule in force (RULE_LIST_HEADER), and
    the lines to show after them: what replaces, excepts or disables which rule, and the parameter values
    with the jurisdiction that set each."""
    compiled = tree.compiled[code]
    segment = compiled.segment_on(day)
    title = (f"{code} ({' → '.join(compiled.chain)}) on {day}: {counted(len(segment.rules), 'rule')} in force, "
             f"rule set {compiled.digest}")
    rows, notes = [], []
    for effective in segment.rules:
        rule, version = effective.rule, effective.version
        origin = "own rule" if rule.jurisdiction == code else f"inherited from {rule.jurisdiction}"
        rows.append((rule.id, rule.spec.effect, origin, str(version.period), version.citation.status,
                     str(version.location)))
        if rule.replaces:
            notes.append(f"{rule.id} replaces {rule.replaces}: {rule.spec.replaces.reason}")
        notes += [f"{rule.id} except when {exception.condition} ({exception.jurisdiction}: {exception.reason})"
                  for exception in effective.exceptions]
    for member in compiled.chain:
        for override in tree.jurisdictions[member].overrides:
            if override.kind != "exception" and override.period.contains(day):
                verb = "replaced by " + override.by_rule if override.kind == "replacement" else "disabled"
                notes.append(f"{override.target} {verb} in {member}: {override.reason}")
    notes += [f"parameter {name} = {shown(value)} (from {source})"
              for name, (value, source) in sorted(tree.parameter_sources(code, day).items())]
    return title, rows, notes
