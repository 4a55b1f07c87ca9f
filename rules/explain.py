"""Explain one rule: what it says, where it is written, its versions, and what becomes of it in each jurisdiction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from rules.checker import suggest
from rules.model import Override, Rule
from rules.tree import RuleTree
from rules.typed import params_used
from rules.wording import LANGUAGES, shown

__all__ = ["JurisdictionStatus", "RuleExplanation", "UnknownRuleError", "explain_rule", "explanation_text"]


class UnknownRuleError(LookupError):
    """No rule of the tree has this id; the message suggests the nearest one."""


@dataclass(frozen=True)
class JurisdictionStatus:
    code: str
    status: str  # applies | excepted | replaced | disabled | not in force | not inherited
    detail: str


@dataclass
class RuleExplanation:
    rule: Rule
    day: dt.date
    overrides: list[Override]  # every replacement, disable and exception naming the rule, whatever their dates
    statuses: list[JurisdictionStatus]


def explain_rule(tree: RuleTree, rule_id: str, when: dt.date | dt.datetime) -> RuleExplanation:
    """The rule and its status in every jurisdiction on a day (an instant: its day where the rule is defined)."""
    rule = tree.rule(rule_id)
    if rule is None:
        known = [rule.id for jurisdiction in tree.jurisdictions.values() for rule in jurisdiction.rules]
        raise UnknownRuleError(f"no rule {rule_id} in {tree.root}{suggest(rule_id, known)}")
    day = tree.compiled[rule.jurisdiction].day_of(when)
    overrides = [override for jurisdiction in tree.jurisdictions.values() for override in jurisdiction.overrides
                 if override.target == rule.id]
    statuses = [_status(tree, rule, code, day) for code in sorted(tree.jurisdictions)]
    return RuleExplanation(rule, day, overrides, statuses)


def _status(tree: RuleTree, rule: Rule, code: str, day: dt.date) -> JurisdictionStatus:
    if rule.jurisdiction not in tree.chain(code):
        return JurisdictionStatus(code, "not inherited", f"{code} does not inherit from {rule.jurisdiction}")
    segment = tree.compiled[code].segment_on(day)
    effective = next((item for item in segment.rules if item.rule.id == rule.id), None)
    if effective is not None:
        names = sorted({parameter.name for parameter in params_used(effective.version.typed)})
        values = ", ".join(f"{name} = {shown(segment.parameters[name])} from {_setter(tree, code, name, day)}"
                           for name in names)
        detail = f"with {values}" if values else ""
        if effective.exceptions:
            excepted = "; ".join(f"does not fire when {_one_line(exception.condition)} ({exception.jurisdiction}: "
                                 f"{_one_line(exception.reason)})" for exception in effective.exceptions)
            return JurisdictionStatus(code, "excepted", excepted + (f"; {detail}" if detail else ""))
        return JurisdictionStatus(code, "applies", detail)
    if rule.version_on(day) is None:
        periods = ", ".join(str(version.period) for version in rule.versions)
        return JurisdictionStatus(code, "not in force", f"in force {periods}")
    override = next(item for item in tree.overrides_on(code, rule, day) if item.kind in ("replacement", "disable"))
    if override.kind == "replacement":
        return JurisdictionStatus(code, "replaced", f"by {override.by_rule} in {override.jurisdiction}: "
                                                    f"{_one_line(override.reason)}")
    return JurisdictionStatus(code, "disabled", f"in {override.jurisdiction}: {_one_line(override.reason)}")


def _setter(tree: RuleTree, code: str, name: str, day: dt.date) -> str:
    """The jurisdiction whose value of parameter ``name`` is in force in ``code`` on ``day``."""
    return next(member for member in reversed(tree.chain(code))
                if any(value.start <= day for value in tree.jurisdictions[member].parameter_values.get(name, [])))


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def explanation_text(explanation: RuleExplanation, languages: tuple[str, ...] = LANGUAGES) -> str:
    """The explanation for a person; the rule's message in each of ``languages``."""
    rule, spec, day = explanation.rule, explanation.rule.spec, explanation.day
    effect = f"{spec.effect} {spec.action}" if spec.action else spec.effect
    lines = [f"{rule.id} — {spec.title}",
             f"  effect: {effect}; defined in {rule.jurisdiction} at {rule.location}",
             *(f"  message ({language}): {_one_line(getattr(spec.message, language))}" for language in languages),
             f"  remedy: {_one_line(spec.remedy)}"]
    if spec.replaces is not None:
        lines.append(f"  replaces {spec.replaces.rule}: {_one_line(spec.replaces.reason)}")
    lines.append(f"  versions (* in force on {day}):")
    for version in rule.versions:
        citation = version.citation
        lines += [f"  {'*' if version.period.contains(day) else ' '} {version.period}  {version.location}",
                  f"      when: {_one_line(version.condition)}",
                  f"      citation: {' '.join(filter(None, (citation.source, citation.article)))} [{citation.status}]"
                  + (f" {citation.url}" if citation.url else "")]
        if citation.note:
            lines.append(f"      note: {_one_line(citation.note)}")
    if explanation.overrides:
        lines.append("  overridden:")
        for override in explanation.overrides:
            what = {"replacement": f"replaced by {override.by_rule}", "disable": "disabled",
                    "exception": f"except when {_one_line(override.condition)}"}[override.kind]
            period = override.period if override.period.start or override.period.end else "at all times"
            lines.append(f"    in {override.jurisdiction} {period}: {what}: {_one_line(override.reason)} "
                         f"({override.location})")
    lines.append(f"  on {day}, by jurisdiction:")
    width = max(len(status.code) for status in explanation.statuses)
    lines += [f"    {status.code:<{width}}  {status.status}" + (f": {status.detail}" if status.detail else "")
              for status in explanation.statuses]
    return "\n".join(lines)
