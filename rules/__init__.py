"""The rule language: rule files, conditions, jurisdiction packs and their effective rule sets."""
from rules.lazy import lazy_exports

_EXPORTS = {
    "CompiledJurisdiction": "rules.tree", "EffectiveRule": "rules.model", "Jurisdiction": "rules.model",
    "LicitError": "rules.errors", "Location": "rules.model", "Override": "rules.model", "Period": "rules.model",
    "Rule": "rules.model",
    "RuleError": "rules.errors", "RuleSetError": "rules.errors", "RuleTree": "rules.tree", "Segment": "rules.model",
    "Version": "rules.model", "Vocabulary": "rules.types", "evaluate_condition": "rules.ir:evaluate",
    "load_rules": "rules.loader",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
