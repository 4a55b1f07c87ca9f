"""Reads a folder of jurisdiction packs into a :class:`RuleTree`, reporting every error at once."""
from __future__ import annotations

import datetime as dt
import re
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from rules.checker import MAX_LIST_ITEMS, check_condition, suggest
from rules.wording import brief
from rules.errors import RuleError, RuleSetError
from rules.ir import finite
from rules.lower import check_matchable
from rules.model import Jurisdiction, Location, Override, ParameterValueDef, Period, Rule, Version
from rules.parser import ParseError, parse
from rules.schema import JURISDICTION_CODE as _CODE
from rules.schema import Parameter, RuleFile
from rules.tree import RuleTree
from rules.treefiles import TreeFiles, display_path
from rules.types import BOOL, DATE, NUMBER, STRING, ListType, Type, Vocabulary
from rules.yamlsource import UNREAD, PathKey, SourceFile, load_yaml

__all__ = ["load_rules", "JURISDICTION_CODE", "display_path", "rule_files"]

JURISDICTION_CODE = re.compile(_CODE)  # use with fullmatch: a folder "CN\n" is no code
# the work of loading grows with this (each dated entry may start a segment of time): a cap, with a located error
MAX_DATED_ENTRIES = 1000  # per jurisdiction folder: rule versions, exceptions, disables, parameter values
_UNRESOLVED = {"unknown_rule", "undefined_parameter", "missing_type"}  # a name another file may declare
_PARAMETER_TYPES: dict[str, Type] = {"number": NUMBER, "string": STRING, "bool": BOOL, "date": DATE,
                                     "list[string]": ListType(STRING), "list[number]": ListType(NUMBER)}


def rule_files(root: Path, folder: Path) -> list[Path]:
    """The rule files of the jurisdiction folder ``folder`` of the tree ``root`` (scenario tests live in its
    tests/ subfolder) that the tree may hold; the loader reports the entries it may not (rules.treefiles)."""
    return TreeFiles(root).yaml_files(folder)[0]


def load_rules(directory: str | Path, vocabulary: Vocabulary) -> RuleTree:
    """Load, validate and type-check every jurisdiction under ``directory``.

    Raises :class:`RuleSetError` with every error found; a tree with any error is refused whole.
    """
    root = Path(directory)
    if not root.is_dir():
        raise RuleSetError([RuleError(str(root), 1, 1, "not_found", "rule directory does not exist")])
    loader = _Loader(root, vocabulary)
    tree = loader.load()
    if loader.errors:
        raise RuleSetError(loader.errors)
    return tree


class _Loader:
    def __init__(self, root: Path, vocabulary: Vocabulary):
        self.root = root
        self.vocabulary = vocabulary
        self.errors: list[RuleError] = []
        self.jurisdiction_blocks: dict[str, Location] = {}  # where each folder's jurisdiction: block is

    def load(self) -> RuleTree:
        jurisdictions: dict[str, Jurisdiction] = {}
        parsed: dict[str, list[tuple[SourceFile, RuleFile]]] = {}
        entries = TreeFiles(self.root)
        folders, refused = entries.folders()
        self.errors.extend(refused)
        for directory in folders:
            files, refused = entries.yaml_files(directory)
            if not files and not refused:
                continue
            self.errors.extend(refused)
            if not JURISDICTION_CODE.fullmatch(directory.name):
                self.errors.append(RuleError(display_path(self.root, directory), 1, 1, "invalid_jurisdiction_code",
                                             f"folder {directory.name!r} is not a jurisdiction code like CN or "
                                             f"CN-GD-SZ (two capital letters, then at most three -PART of 1-6 "
                                             f"capitals or digits)"))
                continue
            jurisdiction = Jurisdiction(directory.name, str(directory))
            jurisdictions[directory.name] = jurisdiction
            parsed[directory.name] = []
            for path in files:
                relative = f"{directory.name}/{path.name}"
                source, errors = load_yaml(path, display_path(self.root, path))
                jurisdiction.files[relative] = source.text
                self.errors.extend(errors)
                if any(error.code in UNREAD for error in errors):
                    continue
                refused = {(error.line, error.col) for error in errors}
                rule_file = self.validate(source, {path[:2] for path, place in source.values.items()
                                                   if place in refused})
                if rule_file is not None:
                    parsed[directory.name].append((source, rule_file))
        if not jurisdictions:
            self.errors.append(RuleError(display_path(self.root, self.root), 1, 1, "no_rules",
                                         "no jurisdiction folder with rule files found here"))
        tree = RuleTree(self.root, jurisdictions, self.vocabulary)
        # declarations first (in chain order, so a parent's parameter types are known), then conditions
        for code in sorted(jurisdictions, key=lambda code: len(tree.chain(code))):
            for source, rule_file in parsed[code]:
                self.declare(tree, jurisdictions[code], source, rule_file)
        self.check_duplicates(parsed)
        for code in jurisdictions:
            for source, rule_file in parsed[code]:
                self.define(tree, jurisdictions[code], source, rule_file)
        self.errors.extend(tree.conflicting_overrides())
        self.errors.extend(_too_many_entries(jurisdiction) for jurisdiction in jurisdictions.values()
                           if _dated_entries(jurisdiction)[MAX_DATED_ENTRIES:])
        broken = {Path(error.file).parent.name for error in self.errors if error.code in UNREAD}
        if broken:
            # what a file that does not parse would have declared is unknown: names it may have held are not errors
            self.errors = [error for error in self.errors if error.code not in _UNRESOLVED or
                           not broken & set(tree.chain(Path(error.file).parent.name))]
        if not self.errors:
            self.errors.extend(tree.compile())
        return tree

    def validate(self, source: SourceFile, refused_items: set[tuple]) -> RuleFile | None:
        """Validate against the schema; items holding a value YAML refused are already reported."""
        if source.data is None:
            return RuleFile()
        if not isinstance(source.data, dict):
            self.errors.append(source.error((), "schema_error",
                                            f"a rule file is a mapping with keys rules, parameters, exceptions, "
                                            f"disabled, jurisdiction; this one is a {type(source.data).__name__}"))
            return None
        try:
            rule_file = RuleFile.model_validate(source.data)
        except ValidationError as exc:
            self.errors.extend(_schema_error(source, error) for error in exc.errors()
                               if tuple(error["loc"])[:2] not in refused_items)
            rule_file = _valid_parts(source.data)
        # a parameter value may be anything to the schema: one YAML refused reads as null, and is no value to check
        return rule_file.model_copy(update={"parameters": {
            name: parameter for name, parameter in rule_file.parameters.items()
            if ("parameters", name) not in refused_items}})

    def declare(self, tree: RuleTree, jurisdiction: Jurisdiction, source: SourceFile, rule_file: RuleFile) -> None:
        if "jurisdiction" in (source.data or {}):
            here = Location(source.name, *source.position(("jurisdiction",), key=True))
            first = self.jurisdiction_blocks.setdefault(jurisdiction.code, here)
            if first.file != source.name:
                self.errors.append(source.error(("jurisdiction",), "duplicate_key",
                                                f"jurisdiction: is already given for {jurisdiction.code} at {first}; "
                                                f"give it once per folder", key=True))
        if rule_file.jurisdiction is not None:
            jurisdiction.name = rule_file.jurisdiction.name or jurisdiction.name
            jurisdiction.utc_offset = rule_file.jurisdiction.utc_offset or jurisdiction.utc_offset
            self.declare_changes(jurisdiction, source, rule_file.jurisdiction.changes)
        inherited = tree.parameter_types(tree.parent(jurisdiction.code)) if tree.parent(jurisdiction.code) else {}
        for name, parameter in rule_file.parameters.items():
            path = ("parameters", name)
            declared = inherited.get(name) or jurisdiction.parameter_types.get(name)
            if name in jurisdiction.parameter_values:
                self.errors.append(source.error(path, "duplicate_parameter",
                                                f"parameter {name!r} is already set in this jurisdiction", key=True))
                continue
            given = _PARAMETER_TYPES[parameter.type] if parameter.type else None
            if declared is None and given is None:
                self.errors.append(source.error(path, "missing_type",
                                                f"parameter {name!r} is new here: declare its type", key=True))
                continue
            if declared is not None and given is not None and declared != given:
                self.errors.append(source.error(path + ("type",), "type_error",
                                                f"parameter {name!r} is declared in a parent with another type"))
                continue
            param_type = declared or given
            jurisdiction.parameter_types[name] = param_type
            jurisdiction.parameter_locations[name] = self.location(source, path)
            values = []
            for index, value in enumerate(sorted(parameter.values, key=lambda item: item.from_)):
                original = parameter.values.index(value)
                problem = _value_problem(value.value, param_type)
                if problem:
                    self.errors.append(source.error(path + ("values", original, "value"), "type_error", problem))
                elif isinstance(value.value, list) and len(value.value) > MAX_LIST_ITEMS:
                    self.errors.append(source.error(path + ("values", original, "value", MAX_LIST_ITEMS),
                                                    "list_too_long", f"a list of {len(value.value):,} values; a list "
                                                                     f"holds at most {MAX_LIST_ITEMS}"))
                if values and values[-1].start == value.from_:
                    self.errors.append(source.error(path + ("values", original, "from"), "overlapping_values",
                                                    f"two values of {name!r} start on {value.from_}"))
                values.append(ParameterValueDef(value.from_, value.value, value.citation,
                                                self.location(source, path + ("values", original))))
            jurisdiction.parameter_values[name] = values

    def declare_changes(self, jurisdiction: Jurisdiction, source: SourceFile, changes: dict[str, Any]) -> None:
        """A pack's remedy costs: each path one the vocabulary declares, never a fact about the person or request."""
        declared = self.vocabulary.changes
        for path, cost in changes.items():
            where = ("jurisdiction", "changes", path)
            if path not in declared:
                self.errors.append(source.error(where, "unknown_change", f"{path!r} is not a field a remedy may "
                                                f"change{suggest(path, list(declared))}", key=True))
            elif declared[path].fact and cost != "fixed":
                self.errors.append(source.error(where, "fact_not_changeable",
                                                f"{path} is a fact about the person or the request: no remedy "
                                                f"changes it ({declared[path].note})"))
            else:
                jurisdiction.changes[path] = None if cost == "fixed" else cost

    def check_duplicates(self, parsed: dict[str, list[tuple[SourceFile, RuleFile]]]) -> None:
        seen: dict[str, Location] = {}
        for code in sorted(parsed):
            for source, index, spec in ((source, index, spec) for source, rule_file in parsed[code]
                                        for index, spec in enumerate(rule_file.rules) if spec is not None):
                path = ("rules", index, "id")
                if spec.id in seen:
                    self.errors.append(source.error(path, "duplicate_rule_id",
                                                    f"rule id {spec.id} is already defined at {seen[spec.id]}"))
                seen.setdefault(spec.id, self.location(source, path))

    def define(self, tree: RuleTree, jurisdiction: Jurisdiction, source: SourceFile, rule_file: RuleFile) -> None:
        code = jurisdiction.code
        parameters = tree.parameter_types(code)
        for index, spec in enumerate(rule_file.rules):
            if spec is None:
                continue
            path: PathKey = ("rules", index)
            if not spec.id.startswith(code + "."):
                self.errors.append(source.error(path + ("id",), "rule_id_prefix",
                                                f"rule id {spec.id} must start with this folder's code {code}."))
            versions = []
            for number, version in enumerate(spec.dated_versions()):
                version_path = path + (("versions", number) if spec.versions is not None else ())
                typed = self.condition(source, version_path + ("when",), version.when, parameters)
                versions.append(Version(Period(version.effective_from, version.effective_until), version.when,
                                        typed, version.citation, self.location(source, version_path)))
            versions.sort(key=lambda version: version.period.start)
            for earlier, later in zip(versions, versions[1:]):
                if earlier.period.end is None or earlier.period.end >= later.period.start:
                    self.errors.append(RuleError(later.location.file, later.location.line, later.location.col,
                                                 "overlapping_versions",
                                                 f"{spec.id}: version from {later.period.start} overlaps the one from "
                                                 f"{earlier.period.start}"))
            rule = Rule(spec.id, code, spec, versions, self.location(source, path))
            jurisdiction.rules.append(rule)
            if spec.replaces is not None:
                self.target(tree, code, source, path + ("replaces", "rule"), spec.replaces.rule, "replaces", spec.id)
                for version in versions:
                    jurisdiction.overrides.append(Override("replacement", spec.replaces.rule, code, spec.replaces.reason,
                                                           version.period, version.location, by_rule=spec.id))
        for kind, items in (("exception", rule_file.exceptions), ("disable", rule_file.disabled)):
            for index, item in enumerate(items):
                if item is None:
                    continue
                path = ("exceptions" if kind == "exception" else "disabled", index)
                self.target(tree, code, source, path + ("rule",), item.rule, kind)
                condition = getattr(item, "when", None)
                typed = self.condition(source, path + ("when",), condition, parameters, negated=True) \
                    if condition else None
                jurisdiction.overrides.append(Override(kind, item.rule, code, item.reason,
                                                       Period(item.effective_from, item.effective_until),
                                                       self.location(source, path), condition, typed))

    def target(self, tree: RuleTree, code: str, source: SourceFile, path: PathKey, target: str, kind: str,
               own_id: str | None = None) -> None:
        if target == own_id:
            self.errors.append(source.error(path, "cyclic_replacement", f"{own_id} replaces itself"))
            return
        ancestors = tree.chain(code)[:-1]
        candidates = [rule.id for ancestor in ancestors for rule in tree.jurisdictions[ancestor].rules]
        if target in candidates:
            return
        if any(rule.id == target for rule in tree.jurisdictions[code].rules):
            self.errors.append(source.error(path, "not_in_parent",
                                            f"{kind} must name a rule of a parent jurisdiction; {target} is defined here"))
            return
        parents = " → ".join(ancestors) or "none"
        self.errors.append(source.error(path, "unknown_rule",
                                        f"{kind} names {target}, which is not a rule of the parent jurisdictions "
                                        f"({parents}){suggest(target, candidates)}"))

    def condition(self, source: SourceFile, path: PathKey, text: str, parameters: dict[str, Type],
                  negated: bool = False):
        """The typed condition; ``negated`` for an exception's, which rules use negated."""
        try:
            typed, problems = check_condition(parse(text), self.vocabulary, parameters)
        except ParseError as error:
            problems, typed = [error], None
        if not problems:
            problems = [problem for problem in [check_matchable(typed, self.vocabulary, negated)] if problem]
        for problem in problems:
            line, col = source.offset_position(path, problem.pos)
            self.errors.append(RuleError(source.name, line, col, problem.code, problem.message))
        return typed

    def location(self, source: SourceFile, path: PathKey) -> Location:
        line, col = source.position(path)
        return Location(source.name, line, col)


def _valid_parts(data: dict) -> RuleFile:
    """The parts of an invalid file that are valid on their own, so their conditions are checked too."""
    def valid(model: type[BaseModel], item: Any) -> bool:
        try:
            model.model_validate(item)
            return True
        except ValidationError:
            return False

    fields = RuleFile.model_fields
    parts: dict[str, Any] = {}
    for key in ("rules", "exceptions", "disabled"):
        model = typing.get_args(fields[key].annotation)[0]
        items = data.get(key) if isinstance(data.get(key), list) else []
        # invalid items stay as None so the valid ones keep their index, which locates their errors
        parts[key] = [model.model_validate(item) if valid(model, item) else None for item in items]
    parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    parts["parameters"] = {name: Parameter.model_validate(item) for name, item in parameters.items()
                           if isinstance(name, str) and valid(Parameter, item)}
    return RuleFile.model_construct(jurisdiction=None, **parts)


def _dated_entries(jurisdiction: Jurisdiction) -> list[Location]:
    """Where each dated entry of a jurisdiction is declared, in file order (a replacement is its rule's version)."""
    places = [version.location for rule in jurisdiction.rules for version in rule.versions]
    places += [override.location for override in jurisdiction.overrides if override.kind != "replacement"]
    places += [value.location for values in jurisdiction.parameter_values.values() for value in values]
    return sorted(places, key=lambda place: (place.file, place.line, place.col))


def _too_many_entries(jurisdiction: Jurisdiction) -> RuleError:
    entries = _dated_entries(jurisdiction)
    first_over = entries[MAX_DATED_ENTRIES]
    return RuleError(first_over.file, first_over.line, first_over.col, "too_many_entries",
                     f"{jurisdiction.code} holds {len(entries):,} rule versions, exceptions, disables and parameter "
                     f"values; a jurisdiction holds at most {MAX_DATED_ENTRIES:,}, and this is the first past them")


def _value_problem(value: Any, param_type: Type) -> str | None:
    def fits(item: Any, item_type: Type) -> bool:
        if item_type == NUMBER:
            return isinstance(item, (int, float)) and not isinstance(item, bool) and finite(item)
        if item_type == STRING:
            return isinstance(item, str)
        if item_type == BOOL:
            return isinstance(item, bool)
        if item_type == DATE:
            return isinstance(item, dt.date) and not isinstance(item, dt.datetime)
        return isinstance(item, list) and all(fits(element, item_type.item) for element in item)

    if fits(value, param_type):
        return None
    items = value if isinstance(value, list) else [value]
    if any(isinstance(item, (int, float)) and not isinstance(item, bool) and not finite(item) for item in items):
        return f"value {brief(value)} is not a finite number within a float's range (±1.8e308)"
    return f"value {brief(value)} is not of the parameter's type"


def _schema_error(source: SourceFile, error: dict) -> RuleError:
    location = tuple(error["loc"])
    where = ".".join(str(part) for part in location)
    if error["type"] == "extra_forbidden":
        known = _schema_keys()
        return source.error(location, "unknown_key",
                            f"unknown key {location[-1]!r}{suggest(str(location[-1]), known)}", key=True)
    message = error["msg"].removeprefix("Value error, ")
    code = "missing_key" if error["type"] == "missing" else "schema_error"
    return source.error(location, code, f"{where}: {message}" if where else message)


def _schema_keys() -> set[str]:
    from rules import schema

    return {field.alias or name for model in vars(schema).values()
            if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == schema.__name__
            for name, field in model.model_fields.items()}
