"""Text renderings for people: a decision someone can act on, a rule set someone can review."""
from __future__ import annotations

import datetime as dt

from engine.decision import Decision
from rules import RuleTree
from rules.display import printable

__all__ = ["decision_text", "rule_list_text"]

_MARK = {"deny": "✗ DENY  ", "review": "? REVIEW", "require": "! REQUIRE", "warn": "· WARN  "}


def decision_text(decision: Decision) -> str:
    """The decision for a person: each line one line, whatever its texts hold (a decision may be built by hand,
    or read back from a log)."""
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
    return "\n".join(map(printable, lines))


def rule_list_text(tree: RuleTree, code: str, day: dt.date) -> str:
    compiled = tree.compiled[code]
    segment = compiled.segment_on(day)
    lines = [f"{code} ({' → '.join(compiled.chain)}) on {day}: {len(segment.rules)} rules in force, "
             f"rule set {compiled.digest}"]
    for effective in segment.rules:
        rule, version = effective.rule, effective.version
        origin = "own rule" if rule.jurisdiction == code else f"inherited from {rule.jurisdiction}"
        lines.append(f"  {rule.id:<42} {rule.spec.effect:<8} {origin:<24} {version.period}  "
                     f"[{version.citation.status}]  {version.location}")
        if rule.replaces:
            lines.append(f"      replaces {rule.replaces}: {rule.spec.replaces.reason}")
        for exception in effective.exceptions:
            lines.append(f"      except when {exception.condition} ({exception.jurisdiction}: {exception.reason})")
    for member in compiled.chain:
        for override in tree.jurisdictions[member].overrides:
            if override.kind != "exception" and override.period.contains(day):
                verb = "replaced by " + override.by_rule if override.kind == "replacement" else "disabled"
                lines.append(f"  {override.target:<42} {verb} in {member}: {override.reason}")
    sources = tree.parameter_sources(code, day)
    if sources:
        lines.append("  parameters:")
        for name, (value, source) in sorted(sources.items()):
            lines.append(f"    {name} = {value!r} (from {source})")
    return "\n".join(map(printable, lines))
