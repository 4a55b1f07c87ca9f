"""Scenario tests beside the rules: finding their files and turning their cases into flows.

Each jurisdiction folder may hold YAML test files in ``tests/`` (rule loading
ignores subfolders). A file names a base flow, then lists cases, each a few
changes to the base written as field paths and what the decision must be::

    base: compliant                      # a flow named under `flows:` here or in a parent's tests/
    cases:
      - name: student paying with credit is denied
        set: {applicant.is_student: true}
        expect: {outcome: deny, fires: [CN.CREDIT.STUDENT]}

A case runs in the jurisdiction of its folder unless it sets ``jurisdiction``.
This module knows no flow model (``rules`` does not import ``engine``): it builds
each case's flow as a plain mapping and can locate any later complaint about a
field of that flow at the YAML text that produced it.
"""
from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from rules.checker import suggest
from rules.errors import RuleError
from rules.scenariofile import (
    CaseSpec,
    Expectation,
    ScenarioFile,
    field_container,
    parse_field_path,
    set_field,
    show_field_path,
)
from rules.tree import DEFAULT_UTC_OFFSET, RuleTree, at_local_noon
from rules.treefiles import TreeFiles, display_path
from rules.yamlsource import UNREAD, PathKey, SourceFile, load_yaml

__all__ = ["ScenarioCase", "ScenarioSuite", "TESTS_FOLDER", "load_scenarios", "scenario_files"]

TESTS_FOLDER = "tests"


# loading ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Origin:
    """A part of the flow and the YAML value it was written as."""

    flow_path: tuple
    source: SourceFile
    yaml_path: PathKey


@dataclass
class ScenarioCase:
    """A case ready to run: its flow, its instant, what it expects, and where each part was written."""

    id: str  # CN-SH/tests/apr.yaml::name
    name: str
    folder: str  # the jurisdiction whose tests/ holds it
    source: SourceFile
    path: PathKey
    flow: dict
    as_of: dt.datetime | None
    day: dt.date | None  # the local date rules are selected for (None if the flow has no valid instant)
    expect: Expectation
    base: _Origin
    changes: list[_Origin] = field(default_factory=list)  # what the case itself wrote: set, remove, requested_at

    @property
    def jurisdiction(self) -> str:
        return str(self.flow.get("jurisdiction"))

    def error(self, code: str, message: str, field_path: str | tuple = ()) -> RuleError:
        """A problem with the case, located at the case's own text that wrote ``field_path`` of its flow.

        A field the case did not change is reported at the case (a shared base flow is not the case's
        text), with where the base wrote it.
        """
        if isinstance(field_path, str):
            try:
                field_path = parse_field_path(field_path)
            except ValueError:
                field_path = ()
        writers = [origin for origin in self.changes if field_path[:len(origin.flow_path)] == origin.flow_path]
        inline_base = self.base.source is self.source and self.base.yaml_path[:len(self.path)] == self.path
        if writers or (field_path and inline_base):
            origin = max(writers, key=lambda item: len(item.flow_path)) if writers else self.base
            line, col = origin.source.position(origin.yaml_path + tuple(field_path[len(origin.flow_path):]))
            return RuleError(origin.source.name, line, col, code, f"{self.name}: {message}")
        line, col = self.source.position(self.path + ("name",))
        if field_path:
            base_line, base_col = self.base.source.position(self.base.yaml_path + tuple(field_path))
            message += f" (the base flow writes it at {self.base.source.name}:{base_line}:{base_col})"
        return RuleError(self.source.name, line, col, code, f"{self.name}: {message}")


@dataclass
class ScenarioSuite:
    cases: list[ScenarioCase]
    errors: list[RuleError]
    unloaded: list[str] = field(default_factory=list)  # ids of the cases written that a located error left out


def scenario_files(root: Path, folder: Path) -> list[Path]:
    """The scenario files of the jurisdiction folder ``folder`` of the tree ``root`` that the tree may hold;
    load_scenarios reports the entries it may not."""
    return TreeFiles(root).yaml_files(folder / TESTS_FOLDER)[0]


def load_scenarios(tree: RuleTree, jurisdictions: Iterable[str] | None = None) -> ScenarioSuite:
    """Read the scenario files of ``jurisdictions`` (default: every folder with tests) under the tree's root.

    Files of their parents are read too, for the flows they name. Every problem is a located error;
    a case with a problem is left out.
    """
    entries = TreeFiles(tree.root)
    # a folder whose tests/ holds only refused entries is read too, so that its errors are reported
    folders = sorted(path.name for path in entries.folders()[0]
                     if any(found for found in entries.yaml_files(path / TESTS_FOLDER)))
    wanted = None if jurisdictions is None else set(jurisdictions)
    selected = [code for code in folders if wanted is None or code in wanted]
    return _SuiteLoader(tree, folders).load(selected)


class _SuiteLoader:
    def __init__(self, tree: RuleTree, folders: list[str]):
        self.tree = tree
        self.folders = folders
        self.errors: list[RuleError] = []
        self.files: dict[str, list[tuple[SourceFile, ScenarioFile]]] = {}
        self.sources: dict[str, list[SourceFile]] = {}  # every file read, valid or not
        self.flows: dict[str, dict[str, tuple[SourceFile, PathKey, dict]]] = {}

    def load(self, selected: list[str]) -> ScenarioSuite:
        cases = []
        for code in selected:
            if code not in self.tree.jurisdictions:
                folder = self.tree.root / code
                self.errors.append(RuleError(str(folder), 1, 1, "unknown_jurisdiction",
                                             f"folder {code} has tests but no rule files, so there is no rule pack "
                                             f"to test: add a rule file (it may hold only a jurisdiction name)"))
                continue
            for source, scenario_file in self.read(code):
                names: set[str] = set()
                for index, spec in enumerate(scenario_file.cases):
                    if spec is None:
                        continue
                    if spec.name in names:
                        self.errors.append(source.error(("cases", index, "name"), "duplicate_case",
                                                        f"another case of this file is named {spec.name!r}"))
                        continue
                    names.add(spec.name)
                    case = self.case(code, source, scenario_file, index, spec)
                    if case is not None:
                        cases.append(case)
        built = {(case.source.name, case.path) for case in cases}
        unloaded = [_case_id(code, source, name) for code in selected for source in self.sources.get(code, [])
                    for index, name in _case_names(source.data) if (source.name, ("cases", index)) not in built]
        return ScenarioSuite(cases, sorted(set(self.errors)), unloaded)

    def read(self, code: str) -> list[tuple[SourceFile, ScenarioFile]]:
        if code in self.files:
            return self.files[code]
        self.files[code], self.flows[code], self.sources[code] = [], {}, []
        paths, refused = TreeFiles(self.tree.root).yaml_files(self.tree.root / code / TESTS_FOLDER)
        self.errors.extend(refused)
        for path in paths:
            source, errors = load_yaml(path, display_path(self.tree.root, path))
            self.sources[code].append(source)
            self.errors.extend(errors)
            if any(error.code in UNREAD for error in errors):
                continue
            scenario_file = self.validate(source, {(error.line, error.col) for error in errors})
            if scenario_file is None:
                continue
            self.files[code].append((source, scenario_file))
            for name, flow in scenario_file.flows.items():
                if name in self.flows[code]:
                    first = self.flows[code][name][0].name
                    self.errors.append(source.error(("flows", name), "duplicate_flow",
                                                    f"flow {name!r} is already named in {first}", key=True))
                    continue
                self.flows[code][name] = (source, ("flows", name), flow)
        return self.files[code]

    def validate(self, source: SourceFile, reported: set[tuple[int, int]]) -> ScenarioFile | None:
        """Validate against the schema; ``reported`` are places whose value YAML already refused."""
        if source.data is None:
            return ScenarioFile()
        if not isinstance(source.data, dict):
            kind = type(source.data).__name__
            self.errors.append(source.error((), "schema_error", f"a scenario file is a mapping with keys base, flows "
                                                                f"and cases; this one is a {kind}"))
            return None
        try:
            scenario_file = ScenarioFile.model_validate(source.data)
        except ValidationError as exc:
            errors = [_schema_error(source, error) for error in exc.errors()]
            self.errors.extend(error for error in errors if (error.line, error.col) not in reported)
            scenario_file = _valid_parts(source.data)
        # a value YAML refused reads as null: leave out what holds it rather than run it without the value
        refused = {path for path, place in source.values.items() if place in reported}
        if scenario_file is None or any(path[:1] != ("cases",) for path in refused):
            return None
        broken = {path[1] for path in refused if len(path) > 1}
        return scenario_file.model_copy(update={"cases": [None if index in broken else case
                                                          for index, case in enumerate(scenario_file.cases)]})

    def named_flow(self, code: str, name: str) -> tuple[SourceFile, PathKey, dict] | None:
        """The flow called ``name`` in this folder's tests, else in the nearest parent's."""
        for member in reversed(self.tree.chain(code)):
            if member in self.folders:
                self.read(member)
                if name in self.flows.get(member, {}):
                    return self.flows[member][name]
        return None

    def case(self, code: str, source: SourceFile, scenario_file: ScenarioFile, index: int,
             spec: CaseSpec) -> ScenarioCase | None:
        path: PathKey = ("cases", index)
        base, base_path = (spec.base, path + ("base",)) if spec.base is not None else (scenario_file.base, ("base",))
        if base is None:
            self.errors.append(source.error(path, "missing_base", f"{spec.name}: no base flow: give the file or "
                                                                  f"the case a base (a flow name or a full flow)"))
            return None
        base_source = source
        if isinstance(base, str):
            found = self.named_flow(code, base)
            if found is None:
                chain = self.tree.chain(code)
                known = [name for member in chain for name in self.flows.get(member, {})]
                self.errors.append(source.error(base_path, "unknown_flow", f"no flow named {base!r} in the tests of "
                                                                           f"{' → '.join(chain)}{suggest(base, known)}"))
                return None
            base_source, base_path, base = found
        flow = copy.deepcopy(base)
        if "jurisdiction" in flow:
            flow["jurisdiction"] = code  # a case runs where its file lives unless it sets jurisdiction
        problems = len(self.errors)
        changes = self.set(flow, source, path, spec.set) + self.remove(flow, source, path, spec.remove)
        self.expected_rules(source, path, spec.expect)
        if len(self.errors) > problems:
            return None
        offset = self.utc_offset(flow.get("jurisdiction"))
        if spec.requested_at is not None:
            flow["requested_at"] = at_local_noon(spec.requested_at, offset).isoformat()
            changes.append(_Origin(("requested_at",), source, path + ("requested_at",)))
        as_of = at_local_noon(spec.as_of, offset) if spec.as_of is not None else None
        return ScenarioCase(_case_id(code, source, spec.name), spec.name, code, source,
                            path, flow, as_of, self.day(flow, as_of), spec.expect,
                            _Origin((), base_source, base_path), changes)

    def set(self, flow: dict, source: SourceFile, path: PathKey, changes: dict[str, Any]) -> list[_Origin]:
        origins = []
        for key, value in changes.items():
            yaml_path = path + ("set", key)
            try:
                target = parse_field_path(key)
                set_field(flow, target, copy.deepcopy(value))
            except ValueError as problem:
                self.errors.append(source.error(yaml_path, "bad_field_path", f"{key}: {problem}", key=True))
                continue
            origins.append(_Origin(target, source, yaml_path))
        return origins

    def remove(self, flow: dict, source: SourceFile, path: PathKey, removals: list[str]) -> list[_Origin]:
        origins: list[_Origin] = []
        targets = {}
        for number, key in enumerate(removals):
            yaml_path = path + ("remove", number)
            try:
                target = parse_field_path(key)
                container, step = field_container(flow, target, growing=False)
                if not isinstance(step, int):
                    raise ValueError("remove takes a list item, like products[1]")
            except ValueError as problem:
                self.errors.append(source.error(yaml_path, "bad_field_path", f"{key}: {problem}"))
                continue
            targets[(id(container), step)] = (container, step)
            origins.append(_Origin(target[:-1], source, yaml_path))
        # every path names an item of the flow as set: drop from the end so earlier indexes stay valid
        for container, step in sorted(targets.values(), key=lambda item: item[1], reverse=True):
            del container[step]
        return origins

    def expected_rules(self, source: SourceFile, path: PathKey, expect: Expectation) -> None:
        for key in ("fires", "not_fires"):
            for number, rule_id in enumerate(getattr(expect, key)):
                if self.tree.rule(rule_id) is None:
                    known = [rule.id for member in self.tree.jurisdictions.values() for rule in member.rules]
                    self.errors.append(source.error(path + ("expect", key, number), "unknown_rule",
                                                    f"no rule {rule_id} in this rule tree{suggest(rule_id, known)}"))

    def utc_offset(self, code: Any) -> str:
        compiled = self.tree.compiled.get(code) if isinstance(code, str) else None
        return compiled.utc_offset if compiled else DEFAULT_UTC_OFFSET

    def day(self, flow: dict, as_of: dt.datetime | None) -> dt.date | None:
        compiled = self.tree.compiled.get(flow.get("jurisdiction"))
        instant = as_of or flow.get("requested_at")
        if isinstance(instant, str):
            try:
                instant = dt.datetime.fromisoformat(instant)
            except ValueError:
                return None
        if compiled is None or not isinstance(instant, dt.datetime) or instant.tzinfo is None:
            return None
        return compiled.local_date(instant)


def _case_id(code: str, source: SourceFile, name: str) -> str:
    return f"{code}/{TESTS_FOLDER}/{Path(source.name).name}::{name}"


def _case_names(data: Any) -> Iterable[tuple[int, str]]:
    """Each case written in a scenario file, valid or not, by index and name (or number, if it has none)."""
    cases = data.get("cases") if isinstance(data, dict) else None
    for index, case in enumerate(cases if isinstance(cases, list) else []):
        name = case.get("name") if isinstance(case, dict) else None
        yield index, name if isinstance(name, str) else f"case #{index + 1}"


def _valid_parts(data: dict) -> ScenarioFile | None:
    """The valid cases of an invalid file, so one broken case does not hide the others' results."""
    try:
        head = ScenarioFile.model_validate({key: value for key, value in data.items() if key != "cases"})
    except ValidationError:
        return None  # without its base and flows no case of the file can run

    def valid(case: Any) -> CaseSpec | None:
        try:
            return CaseSpec.model_validate(case)
        except ValidationError:
            return None

    cases = data["cases"] if isinstance(data.get("cases"), list) else []
    # invalid cases stay as None so the valid ones keep the index that locates them
    return head.model_copy(update={"cases": [valid(case) for case in cases]})


def _schema_error(source: SourceFile, error: dict) -> RuleError:
    location = tuple(error["loc"])
    is_key = bool(location) and location[-1] == "[key]"
    location = tuple(part for part in location if part != "[key]")
    where = show_field_path(location)
    if error["type"] == "extra_forbidden":
        known = {name for model in (ScenarioFile, CaseSpec, Expectation) for name in model.model_fields}
        return source.error(location, "unknown_key",
                            f"unknown key {location[-1]!r}{suggest(str(location[-1]), known)}", key=True)
    message = error["msg"].removeprefix("Value error, ")
    if is_key and location[-2] == "set":
        return source.error(location, "bad_field_path",
                            f"{location[-1]!r} is not a field path like applicant.age or payments[1].apr", key=True)
    if is_key:
        message = "a flow name is made of lowercase letters, digits, - and _"
    code = "missing_key" if error["type"] == "missing" else "schema_error"
    return source.error(location, code, f"{where}: {message}", key=is_key)
