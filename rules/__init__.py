"""The rule language: rule files, conditions, jurisdiction packs and their effective rule sets."""
from rules.errors import RuleError, RuleSetError
from rules.ir import evaluate as evaluate_condition
from rules.loader import load_rules
from rules.model import EffectiveRule, Jurisdiction, Location, Override, Period, Rule, Segment, Version
from rules.tree import CompiledJurisdiction, RuleTree
from rules.types import Vocabulary

__all__ = [
    "CompiledJurisdiction", "EffectiveRule", "Jurisdiction", "Location", "Override", "Period", "Rule",
    "RuleError", "RuleSetError", "RuleTree", "Segment", "Version", "Vocabulary", "evaluate_condition",
    "load_rules",
]
