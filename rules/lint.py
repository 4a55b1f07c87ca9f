"""Lint: what the authors of a rule tree should fix or know, beyond what stops it from loading.

Errors are the loader's (the tree does not load), restated with a precise code where
lint has one. Warnings come from two passes: one over the raw YAML of every rule file
that parses (so they are reported even when the tree does not load), and one over the
effective rule sets of a tree that loads, working on the lowered conditions (IR) the
engine runs — conditions that can never be true, values a field can never take, and
rules that duplicate each other.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rules.conditions import canonical, flow_scope, impossible_values, never_true
from rules.errors import RuleError, RuleSetError
from rules.loader import JURISDICTION_CODE, display_path, load_rules, rule_files
from rules.lower import LowerError, lower
from rules.model import EffectiveRule, Period
from rules.parser import ParseError, parse
from rules.scenarios import TESTS_FOLDER, load_scenarios, scenario_files
from rules.syntax import Attribute, Binary, Call, Expr, ListLiteral, Name, Quantifier, Unary
from rules.tree import RuleTree
from rules.treefiles import TreeFiles
from rules.types import Vocabulary
from rules.wording import counted
from rules.yamlsource import UNREAD, SourceFile, load_yaml

__all__ = ["LINT_CODES", "LintReport", "lint_rules", "lint_text"]

# code -> (severity, what it means), as the table of lint codes in docs/writing-rules.md lists them
LINT_CODES = {
    "missing_citation": ("error", "a rule or rule version has no citation"),
    "missing_message_language": ("error", "a rule's message lacks its Chinese (zh) or English (en) text"),
    "missing_reason": ("error", "a replacement, exception or disable gives no reason"),
    "illustrative_citation": ("warning", "a rule or parameter value cites an illustrative source: replace it"),
    "no_parent_jurisdiction": ("warning", "a folder's code has no parent folder (CN-ZJ-HZ without CN-ZJ)"),
    "no_rule_files": ("warning", "a folder has scenario tests but no rule file, so no rule pack"),
    "ignored_file": ("warning", "a YAML file in a jurisdiction folder that is neither a rule file nor a scenario file"),
    "unused_parameter": ("warning", "a parameter set here is read by no rule that can see it"),
    "never_true": ("warning", "a rule's condition can never be true (contradictory bounds, values)"),
    "impossible_value": ("warning", "a condition compares a field with a value it can never take"),
    "duplicate_condition": ("warning", "two rules have the same condition and effect"),
    "expired_rule": ("warning", "a rule's last day in force is before every date a scenario uses"),
    "redundant_override": ("warning", "a disable or exception that changes nothing: the rule is already disabled, "
                                      "or has the same exception"),
}
# a lint error restates the loader's generic schema error at the same place about the same key
_RESTATES = {"missing_citation": "citation", "missing_message_language": "message", "missing_reason": "reason"}


@dataclass
class LintReport:
    errors: list[RuleError] = field(default_factory=list)
    warnings: list[RuleError] = field(default_factory=list)
    tree_loaded: bool = True


def lint_rules(directory: str | Path, vocabulary: Vocabulary) -> LintReport:
    """Every error and warning about the rule tree under ``directory``."""
    root = Path(directory)
    report = LintReport()
    raw = _RawPass(root)
    raw.run()
    try:
        tree = load_rules(root, vocabulary)
    except RuleSetError as error:
        report.tree_loaded = False
        lint_errors = [finding for finding in raw.findings if finding.code in _RESTATES]
        report.errors = sorted(set(lint_errors) | {load_error for load_error in error.errors
                                                    if not _restated(load_error, lint_errors)})
        tree = None
    findings = [finding for finding in raw.findings if finding.code not in _RESTATES]
    if tree is not None:
        findings += _TreePass(tree).run()
    report.warnings = sorted(set(findings))
    return report


def _restated(load_error: RuleError, lint_errors: list[RuleError]) -> bool:
    return any((error.file, error.line, error.col) == (load_error.file, load_error.line, load_error.col)
               and _RESTATES[error.code] in load_error.message for error in lint_errors)


def lint_text(report: LintReport) -> str:
    lines = [str(error) for error in report.errors] + [str(warning) for warning in report.warnings]
    summary = f"{counted(len(report.errors), 'error')}, {counted(len(report.warnings), 'warning')}"
    if not report.tree_loaded:
        summary += " (the rule tree does not load: checks of effective rule sets were skipped)"
    return "\n".join(lines + [summary])


# raw YAML ---------------------------------------------------------------------------------------------
class _RawPass:
    """Checks that need only the YAML text, so they run on every file that parses."""

    def __init__(self, root: Path):
        self.root = root
        self.findings: list[RuleError] = []
        self.parameters_read: dict[str, set[str]] = {}  # folder -> names read by its conditions
        self.parameters_set: dict[str, list[tuple[SourceFile, str]]] = {}  # folder -> where each is set

    def run(self) -> None:
        if not self.root.is_dir():
            return
        folders = [path for path in TreeFiles(self.root).folders()[0] if JURISDICTION_CODE.fullmatch(path.name)]
        with_rules = {folder.name for folder in folders if rule_files(self.root, folder)}
        for folder in folders:
            self.ignored_files(folder)
            self.folder(folder, with_rules)
        self.unused_parameters(with_rules)

    def folder(self, folder: Path, with_rules: set[str]) -> None:
        code, where = folder.name, display_path(self.root, folder)
        if code not in with_rules:
            if scenario_files(self.root, folder):
                self.findings.append(RuleError(where, 1, 1, "no_rule_files",
                                               f"{code} has scenario tests but no rule file, so there is no rule pack "
                                               f"for it: add a rule file (it may hold only the jurisdiction's name)"))
            return
        parent = "-".join(code.split("-")[:-1])
        if parent and parent not in with_rules:
            inherits = _chain_of(code, with_rules)[:-1]
            self.findings.append(RuleError(where, 1, 1, "no_parent_jurisdiction",
                                           f"{code} has no parent folder {parent}; it inherits from "
                                           f"{' → '.join(inherits) or 'no jurisdiction at all'}"))
        self.parameters_read[code], self.parameters_set[code] = set(), []
        for path in rule_files(self.root, folder):
            source, errors = load_yaml(path, display_path(self.root, path))
            if any(error.code in UNREAD for error in errors) or not isinstance(source.data, dict):
                continue
            self.rule_file(code, source)

    def ignored_files(self, folder: Path) -> None:
        """YAML files nothing reads: rule files sit directly in the folder, scenario files in its tests/."""
        read = set(rule_files(self.root, folder)) | set(scenario_files(self.root, folder))
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder)
            hidden = any(part.startswith(".") for part in relative.parts)  # editors' and tools' own folders
            if path.suffix.lower() in (".yaml", ".yml") and path.is_file() and path not in read and not hidden:
                self.findings.append(RuleError(
                    display_path(self.root, path), 1, 1, "ignored_file",
                    f"{folder.name}/{relative.as_posix()} is never read: rule files sit directly in {folder.name}/, "
                    f"scenario tests in {folder.name}/{TESTS_FOLDER}/"))

    def rule_file(self, code: str, source: SourceFile) -> None:
        data = source.data
        for index, rule in _items(data.get("rules")):
            path = ("rules", index)
            rule_id = rule.get("id", f"rule #{index + 1}")
            versions = list(_items(rule.get("versions"))) or [(None, rule)]
            for number, version in versions:
                version_path = path if number is None else path + ("versions", number)
                self.citation(source, version_path, version.get("citation"), str(rule_id))
                self.read_parameters(code, version.get("when"))
            self.message(source, path, rule.get("message"), str(rule_id))
            if isinstance(rule.get("replaces"), dict):
                self.reason(source, path + ("replaces",), rule["replaces"], f"{rule_id} replaces a rule")
        for key, kind in (("exceptions", "exception"), ("disabled", "disable")):
            for index, item in _items(data.get(key)):
                self.reason(source, (key, index), item, f"the {kind} of {item.get('rule', 'a rule')}")
                self.read_parameters(code, item.get("when"))
        parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
        for name, parameter in parameters.items():
            self.parameters_set[code].append((source, name))
            for index, value in _items(parameter.get("values") if isinstance(parameter, dict) else None):
                citation = value.get("citation")
                if isinstance(citation, dict) and citation.get("status") == "illustrative":
                    self.findings.append(source.error(
                        ("parameters", name, "values", index, "citation"), "illustrative_citation",
                        f"parameter {name} from {value.get('from')}: illustrative citation "
                        f"({_source_of(citation)}); replace it with a verified source"))

    def citation(self, source: SourceFile, path: tuple, citation: Any, rule_id: str) -> None:
        if not isinstance(citation, dict) or not citation.get("source"):
            self.findings.append(source.error(path + ("citation",), "missing_citation",
                                              f"{rule_id} has no citation: give its legal source and status"))
        elif citation.get("status") == "illustrative":
            self.findings.append(source.error(path + ("citation",), "illustrative_citation",
                                              f"{rule_id}: illustrative citation ({_source_of(citation)}); "
                                              f"replace it with a verified source"))

    def message(self, source: SourceFile, path: tuple, message: Any, rule_id: str) -> None:
        texts = message if isinstance(message, dict) else {}
        for language in ("zh", "en"):
            if not isinstance(texts.get(language), str) or not texts[language].strip():
                self.findings.append(source.error(path + ("message", language), "missing_message_language",
                                                  f"{rule_id} has no {language} message"))

    def reason(self, source: SourceFile, path: tuple, item: dict, what: str) -> None:
        if not isinstance(item.get("reason"), str) or not item["reason"].strip():
            self.findings.append(source.error(path + ("reason",), "missing_reason", f"{what} without a reason"))

    def read_parameters(self, code: str, condition: Any) -> None:
        if isinstance(condition, str):
            try:
                self.parameters_read[code].update(_parameters_in(parse(condition)))
            except ParseError:
                pass  # the loader reports it

    def unused_parameters(self, with_rules: set[str]) -> None:
        for code, settings in self.parameters_set.items():
            # a value set in `code` is seen in it and below; the rules run there come from their whole chains
            below = [member for member in with_rules if member == code or member.startswith(code + "-")]
            readers = {reader for member in below for reader in _chain_of(member, with_rules)}
            read = set().union(*(self.parameters_read.get(reader, set()) for reader in readers))
            for source, name in settings:
                if name not in read:
                    self.findings.append(source.error(("parameters", name), "unused_parameter",
                                                      f"parameter {name} set in {code} is read by no rule or exception "
                                                      f"of {code}, its parents or its children", key=True))


def _chain_of(code: str, codes: set[str]) -> list[str]:
    """RuleTree.chain worked out from folder names alone, because the tree may not load."""
    parts = code.split("-")
    return [prefix for prefix in ("-".join(parts[:size]) for size in range(1, len(parts) + 1))
            if prefix in codes or prefix == code]


def _items(value: Any) -> Iterator[tuple[int, dict]]:
    if isinstance(value, list):
        yield from ((index, item) for index, item in enumerate(value) if isinstance(item, dict))


def _source_of(citation: dict) -> str:
    return " ".join(str(citation[key]) for key in ("source", "article") if citation.get(key)).strip()


def _parameters_in(expr: Expr) -> Iterator[str]:
    pending = [expr]  # a stack, not recursion: an and/or chain is as long as the condition
    while pending:
        expr = pending.pop()
        if isinstance(expr, Attribute) and isinstance(expr.base, Name) and expr.base.name == "params":
            yield expr.name
        elif isinstance(expr, Attribute):
            pending.append(expr.base)
        elif isinstance(expr, (Call, ListLiteral)):
            pending += expr.args if isinstance(expr, Call) else expr.items
        elif isinstance(expr, Unary):
            pending.append(expr.operand)
        elif isinstance(expr, Binary):
            pending += (expr.left, expr.right)
        elif isinstance(expr, Quantifier):
            pending += (expr.collection, expr.body)


# effective rule sets ------------------------------------------------------------------------------------
class _TreePass:
    """Checks of the effective rule sets of a tree that loads (rules.conditions does the analysis)."""

    def __init__(self, tree: RuleTree):
        self.tree = tree
        self.scope = flow_scope(tree.vocabulary)
        self.findings: list[RuleError] = []

    def run(self) -> list[RuleError]:
        unsatisfiable: dict[tuple, dict[str, list[Period]]] = {}
        for code, compiled in sorted(self.tree.compiled.items()):
            seen: dict[tuple, str] = {}
            for segment in compiled.segments:
                for effective in segment.rules:
                    rule, version = effective.rule, effective.version
                    reason = never_true(effective.condition, self.scope)
                    if reason is not None:
                        key = (rule.id, version.location, reason)
                        unsatisfiable.setdefault(key, {}).setdefault(code, []).append(segment.period)
                    self.compared_values(effective, segment.parameters)
                    self.duplicate(effective, seen)
        for (rule_id, location, reason), where in unsatisfiable.items():
            places = ", ".join(f"{code} {_merged(periods)}" for code, periods in where.items())
            self.findings.append(_at(location, "never_true",
                                     f"{rule_id}: its condition can never be true: {reason} (in {places})"))
        self.expired_rules()
        return self.findings + self.tree.redundant_overrides()

    def compared_values(self, effective: EffectiveRule, parameters: dict) -> None:
        parts = [(effective.rule.id, effective.version.typed, effective.version.location)]
        parts += [(f"the exception to {effective.rule.id} in {exception.jurisdiction}", exception.typed,
                   exception.location) for exception in effective.exceptions]
        for what, typed, location in parts:
            try:
                condition = lower(typed, parameters, self.tree.vocabulary)
            except LowerError:
                continue  # the loader reports it
            for field_label, value, values in impossible_values(condition, self.scope):
                self.findings.append(_at(location, "impossible_value",
                                         f"{what} compares {field_label} with {value!r}, a value it never takes "
                                         f"(it takes {', '.join(values)})"))

    def duplicate(self, effective: EffectiveRule, seen: dict[tuple, str]) -> None:
        spec = effective.rule.spec
        key = (spec.effect, spec.action, canonical(effective.condition))
        first = seen.setdefault(key, effective.rule.id)
        if first != effective.rule.id:
            other = self.tree.rule(first)
            self.findings.append(_at(effective.rule.location, "duplicate_condition",
                                     f"{effective.rule.id} has the same condition and effect as {first} "
                                     f"({other.location})"))

    def expired_rules(self) -> None:
        days: dict[str, list[dt.date]] = {}
        for case in load_scenarios(self.tree).cases:
            if case.day is not None and case.jurisdiction in self.tree.compiled:
                days.setdefault(case.jurisdiction, []).append(case.day)
        for jurisdiction in self.tree.jurisdictions.values():
            for rule in jurisdiction.rules:
                ends = [version.period.end for version in rule.versions]
                if None in ends:
                    continue
                used = [day for code, case_days in days.items() if rule.jurisdiction in self.tree.chain(code)
                        for day in case_days]
                if used and max(ends) < min(used):
                    self.findings.append(_at(rule.location, "expired_rule",
                                             f"{rule.id} was last in force on {max(ends)}, before every scenario date "
                                             f"(the earliest is {min(used)}): retire it, or test its period"))


def _at(location, code: str, message: str) -> RuleError:
    return RuleError(location.file, location.line, location.col, code, message)


def _merged(periods: list[Period]) -> str:
    # the span from the first to the last period: close enough to point a reader at the dates
    start, end = periods[0].start, periods[-1].end
    if start is None and end is None:
        return "at all times"
    return f"from {start or 'the start'}" + (f" to {end}" if end else "")
