"""The effective rule set of a jurisdiction on a day, as data: what `licit rules list` prints and
`GET /v1/rules` answers, so that both say the same."""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from rules import RuleTree
from rules.schema import Citation, Effect, LocalizedText

__all__ = ["EffectiveRuleSet", "effective_rule_set"]


class _View(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InForce(_View):
    """Days in force, both inclusive; null is open-ended."""

    start: dt.date | None
    end: dt.date | None


class Replacement(_View):
    rule_id: str
    reason: str


class RuleException(_View):
    """A child jurisdiction's condition under which the rule does not fire."""

    condition: str
    jurisdiction: str
    reason: str


class RuleInForce(_View):
    rule_id: str
    jurisdiction: str
    effect: Effect
    action: str | None
    title: str
    message: LocalizedText
    remedy: str
    condition: str
    citation: Citation
    in_force: InForce
    source: str  # file:line:col of the rule version in force
    replaces: Replacement | None
    exceptions: list[RuleException]


class OverrideInForce(_View):
    """A parent rule replaced or disabled in a jurisdiction of the chain."""

    kind: str  # "replacement" or "disable"
    rule_id: str
    jurisdiction: str
    by_rule: str | None
    reason: str


class ParameterInForce(_View):
    name: str
    value: Any
    jurisdiction: str


class EffectiveRuleSet(_View):
    jurisdiction: str
    jurisdiction_chain: list[str]
    day: dt.date
    digest: str
    rules: list[RuleInForce]
    overrides: list[OverrideInForce]
    parameters: list[ParameterInForce]


def effective_rule_set(tree: RuleTree, code: str, day: dt.date) -> EffectiveRuleSet:
    """The rules of ``code`` in force on ``day`` (``code`` must be in ``tree.compiled``)."""
    compiled = tree.compiled[code]
    rules = []
    for effective in compiled.segment_on(day).rules:
        rule, version, spec = effective.rule, effective.version, effective.rule.spec
        rules.append(RuleInForce(
            rule_id=rule.id, jurisdiction=rule.jurisdiction, effect=spec.effect, action=spec.action,
            title=spec.title, message=spec.message, remedy=spec.remedy, condition=version.condition,
            citation=version.citation, in_force=InForce(start=version.period.start, end=version.period.end),
            source=str(version.location),
            replaces=Replacement(rule_id=rule.replaces, reason=spec.replaces.reason) if rule.replaces else None,
            exceptions=[RuleException(condition=exception.condition, jurisdiction=exception.jurisdiction,
                                      reason=exception.reason) for exception in effective.exceptions]))
    overrides = [OverrideInForce(kind=override.kind, rule_id=override.target, jurisdiction=member,
                                 by_rule=override.by_rule, reason=override.reason)
                 for member in compiled.chain for override in tree.jurisdictions[member].overrides
                 if override.kind != "exception" and override.period.contains(day)]
    parameters = [ParameterInForce(name=name, value=value, jurisdiction=source)
                  for name, (value, source) in sorted(tree.parameter_sources(code, day).items())]
    return EffectiveRuleSet(jurisdiction=code, jurisdiction_chain=compiled.chain, day=day, digest=compiled.digest,
                            rules=rules, overrides=overrides, parameters=parameters)
