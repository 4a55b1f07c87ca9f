"""What changed between two rule trees, per jurisdiction: rules added, removed and changed, parameter values,
and the exceptions and disables of parent rules.

Both trees are compared as loaded (so formatting and comments do not count), rule by rule id.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from rules.model import Jurisdiction, Override, Rule
from rules.tree import RuleTree

__all__ = ["JurisdictionDiff", "RuleChange", "diff_json", "diff_text", "diff_trees"]


@dataclass
class RuleChange:
    rule_id: str
    aspects: dict[str, tuple[Any, Any]]  # condition | effect | dates | citation | wording | replaces -> (old, new)


@dataclass
class JurisdictionDiff:
    code: str
    status: str  # added | removed | changed
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[RuleChange] = field(default_factory=list)
    parameters: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (old values, new values)
    overrides: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # "exception to X" -> (old, new)


def diff_trees(old: RuleTree, new: RuleTree) -> list[JurisdictionDiff]:
    """Only the jurisdictions that differ, in code order."""
    diffs = []
    for code in sorted(set(old.jurisdictions) | set(new.jurisdictions)):
        before, after = old.jurisdictions.get(code), new.jurisdictions.get(code)
        status = "added" if before is None else "removed" if after is None else "changed"
        diff = JurisdictionDiff(code, status)
        old_rules, new_rules = _rules(before), _rules(after)
        diff.added = [rule_id for rule_id in new_rules if rule_id not in old_rules]
        diff.removed = [rule_id for rule_id in old_rules if rule_id not in new_rules]
        for rule_id in (rule_id for rule_id in new_rules if rule_id in old_rules):
            was, now = _aspects(old_rules[rule_id]), _aspects(new_rules[rule_id])
            aspects = {name: (was[name], now[name]) for name in now if was[name] != now[name]}
            if aspects:
                diff.changed.append(RuleChange(rule_id, aspects))
        diff.parameters = _changed(_parameters(before), _parameters(after))
        diff.overrides = _changed(_overrides(before), _overrides(after))
        if status != "changed" or diff.added or diff.removed or diff.changed or diff.parameters or diff.overrides:
            diffs.append(diff)
    return diffs


def _rules(jurisdiction: Jurisdiction | None) -> dict[str, Rule]:
    return {rule.id: rule for rule in jurisdiction.rules} if jurisdiction else {}


def _aspects(rule: Rule) -> dict[str, Any]:
    spec = rule.spec
    return {
        "effect": f"{spec.effect} {spec.action}" if spec.action else spec.effect,
        "condition": [" ".join(version.condition.split()) for version in rule.versions],
        "dates": [str(version.period) for version in rule.versions],
        "citation": [version.citation.model_dump(mode="json", exclude_none=True) for version in rule.versions],
        "wording": {"title": spec.title, "message": spec.message.model_dump(), "remedy": spec.remedy},
        "replaces": spec.replaces.model_dump() if spec.replaces else None,
    }


def _parameters(jurisdiction: Jurisdiction | None) -> dict[str, Any]:
    if jurisdiction is None:
        return {}
    return {name: [{"from": value.start.isoformat(), "value": value.value} for value in values]
            for name, values in jurisdiction.parameter_values.items()}


def _overrides(jurisdiction: Jurisdiction | None) -> dict[str, Any]:
    # replacements are rules of their own and show up as rule changes
    overrides: dict[str, Any] = {}
    for override in (jurisdiction.overrides if jurisdiction else []):
        if override.kind != "replacement":
            overrides.setdefault(f"{override.kind} of {override.target}", []).append(_override(override))
    return overrides


def _override(override: Override) -> dict[str, Any]:
    described = {"period": str(override.period), "reason": " ".join(override.reason.split())}
    if override.condition is not None:
        described["when"] = " ".join(override.condition.split())
    return described


def _changed(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {name: (old.get(name), new.get(name)) for name in sorted(set(old) | set(new))
            if old.get(name) != new.get(name)}


def diff_json(diffs: list[JurisdictionDiff]) -> dict:
    def pair(values: tuple[Any, Any]) -> dict:
        return {"old": values[0], "new": values[1]}

    return {"jurisdictions": {diff.code: {
        "status": diff.status,
        "rules": {"added": diff.added, "removed": diff.removed,
                  "changed": {change.rule_id: {name: pair(values) for name, values in change.aspects.items()}
                              for change in diff.changed}},
        "parameters": {name: pair(values) for name, values in diff.parameters.items()},
        "overrides": {name: pair(values) for name, values in diff.overrides.items()},
    } for diff in diffs}}


def diff_text(diffs: list[JurisdictionDiff]) -> str:
    if not diffs:
        return "No differences."
    lines = []
    for diff in diffs:
        lines.append(diff.code + ("" if diff.status == "changed" else f" (jurisdiction {diff.status})"))
        lines += [f"  + {rule_id}" for rule_id in diff.added]
        lines += [f"  - {rule_id}" for rule_id in diff.removed]
        for change in diff.changed:
            lines.append(f"  ~ {change.rule_id}")
            lines += [f"      {name}: {_show(old)} → {_show(new)}" for name, (old, new) in change.aspects.items()]
        lines += [f"  parameter {name}: {_show(old)} → {_show(new)}" for name, (old, new) in diff.parameters.items()]
        lines += [f"  {name}: {_show(old)} → {_show(new)}" for name, (old, new) in diff.overrides.items()]
    return "\n".join(lines)


def _show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
