"""YAML files read with ``yaml.SafeLoader`` keeping the line and column of every value.

``yaml.safe_load`` forgets where a value came from; the compiler needs it to point a
compliance officer at the character that is wrong. We compose the node tree with the
safe loader and build plain Python values from it, recording each path's position.

Rule and scenario files use a plain subset of YAML: no anchors or aliases, no tags
(``!!python/object``, ``!!str``, ``!name``: a tag would change what a value is without
the schema seeing it), at most ``MAX_DEPTH`` levels of nesting, and no plain value that
YAML 1.1 (PyYAML) and YAML 1.2 read differently (``012``, ``1:30``, ``1_000``, ``yes``):
each is a located error rather than a number or a boolean nobody meant.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rules.errors import RuleError
from rules.treefiles import read_text

__all__ = ["MAX_DEPTH", "SourceFile", "Position", "UNREAD", "load_yaml"]

MAX_DEPTH = 32  # rule files nest 7 levels, scenario files 9
# errors after which a file's content is unknown (the loader then ignores names it may have declared)
UNREAD = frozenset({"yaml_syntax_error", "unreadable_file", "file_too_large", "encoding_error", "outside_tree",
                    "misplaced_file"})

Position = tuple[int, int]  # 1-based line and column
PathKey = tuple[Any, ...]


@dataclass
class SourceFile:
    """A parsed YAML file: its data, its text and where each value and key stands."""

    name: str
    text: str
    data: Any = None
    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)
    scalars: dict[PathKey, tuple[int, int]] = field(default_factory=dict)  # raw text span

    def position(self, path: PathKey, *, key: bool = False) -> Position:
        """Where ``path`` (or the nearest enclosing value that exists) starts."""
        path = tuple(path)
        if key and path in self.keys:
            return self.keys[path]
        while path:
            if path in self.values:
                return self.values[path]
            path = path[:-1]
        return self.values.get((), (1, 1))

    def error(self, path: PathKey, code: str, message: str, *, key: bool = False) -> RuleError:
        line, col = self.position(path, key=key)
        return RuleError(self.name, line, col, code, message)

    def offset_position(self, path: PathKey, offset: int) -> Position:
        """Position of character ``offset`` of the string at ``path``.

        YAML folds line breaks and indentation out of scalars, so the value's
        characters are matched, non-blank by non-blank, against the raw text.
        """
        span = self.scalars.get(tuple(path))
        value = _get(self.data, path)
        if span is None or not isinstance(value, str):
            return self.position(path)
        raw_index, raw_end = span
        for index, char in enumerate(value):
            if not char.isspace():
                while raw_index < raw_end and self.text[raw_index] != char:
                    raw_index += 1
            if index == offset:
                break
            if not char.isspace():
                raw_index += 1
        return _line_col(self.text, min(raw_index, raw_end))


def _get(data: Any, path: PathKey) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _line_col(text: str, index: int) -> Position:
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


class _PlainLoader(yaml.SafeLoader):
    """The safe loader, refusing where they are written: anchors and aliases (a few lines of aliases expand
    to billions of values, a "billion laughs", and rule files have no use for them), tags, and nesting deeper
    than MAX_DEPTH (composing recurses: 400 nested brackets would exhaust Python's stack)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not supported "
                                                          "in rule files; write the value out", event.start_mark)
        if getattr(event, "tag", None) is not None:
            tag = event.tag.replace(_TAG, "!!")
            raise yaml.composer.ComposerError(None, None, f"tags ({tag}) are not supported in rule files; "
                                                          f"write the plain value", event.start_mark)
        if self.depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(None, None, f"values nest deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load_yaml(path: Path, name: str) -> tuple[SourceFile, list[RuleError]]:
    """Parse one YAML file; return it with every error found (reading, syntax, duplicate keys, tags)."""
    text, refused = read_text(path, name)
    if refused is not None:
        return SourceFile(name, ""), [refused]
    source = SourceFile(name, text)
    try:
        loader = _PlainLoader(text)  # its reader refuses control characters (\x1f, …) before parsing anything
    except yaml.reader.ReaderError as exc:
        return source, [RuleError(name, *_line_col(text, exc.position), "yaml_syntax_error",
                                  f"the character {chr(exc.character)!r} is not allowed in YAML")]
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        return source, [_syntax_error(name, text, exc)]
    except yaml.YAMLError as exc:
        return source, [RuleError(name, 1, 1, "yaml_syntax_error", str(exc).splitlines()[0])]
    finally:
        loader.dispose()
    errors: list[RuleError] = []
    if node is not None:
        source.data = _build(node, (), source, loader, errors)
    return source, errors


_OPENERS = {"while scanning a quoted scalar": "this quoted text", "while parsing a flow sequence": "this '['",
            "while parsing a flow mapping": "this '{'"}


def _syntax_error(name: str, text: str, exc: yaml.MarkedYAMLError) -> RuleError:
    """Where the YAML breaks, with both ends when PyYAML knows them: it notices an unclosed quote or
    bracket only where the text stops making sense, often lines later. An unclosed construct is reported
    where it opened, naming where the parser gave up; any other error where it was noticed, naming where
    the construct it was reading began. An unclosed quote inside a block value is found by its line."""
    problem = exc.problem or exc.context or "invalid YAML"
    mark, opened = exc.problem_mark or exc.context_mark, exc.context_mark
    if mark is None:
        return RuleError(name, 1, 1, "yaml_syntax_error", problem)
    noticed = f"{mark.line + 1}:{mark.column + 1}"
    if exc.context in _OPENERS and opened is not None:
        return RuleError(name, opened.line + 1, opened.column + 1, "yaml_syntax_error",
                         f"{_OPENERS[exc.context]} is never closed (noticed at {noticed}: {problem})")
    start = opened.line if opened else 0
    for number, line in enumerate(text.splitlines()[start:mark.line], start + 1):
        if line.replace('\\"', "").count('"') % 2:
            return RuleError(name, number, line.index('"') + 1, "yaml_syntax_error",
                             f"this quote looks unclosed (noticed at {noticed}: {problem})")
    if opened is not None and (opened.line, opened.column) != (mark.line, mark.column) and exc.context:
        construct = exc.context.removeprefix("while ").replace("parsing ", "").replace("scanning ", "")
        problem += f" ({construct} that starts at {opened.line + 1}:{opened.column + 1})"
    return RuleError(name, mark.line + 1, mark.column + 1, "yaml_syntax_error", problem)


def _mark(node: yaml.Node) -> Position:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _build(node: yaml.Node, path: PathKey, source: SourceFile, loader: yaml.SafeLoader,
           errors: list[RuleError]) -> Any:
    source.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                errors.append(RuleError(source.name, *_mark(key_node), "yaml_key_error", "a key must be a plain name"))
                continue
            key = _scalar(key_node, source, loader, errors)
            if key == "<<":
                errors.append(RuleError(source.name, *_mark(key_node), "yaml_key_error",
                                        "merge keys (<<) are not supported in rule files"))
                continue
            if key in result:
                errors.append(RuleError(source.name, *_mark(key_node), "duplicate_key",
                                        f"key {key!r} appears twice in this mapping"))
                continue
            source.keys[path + (key,)] = _mark(key_node)
            result[key] = _build(value_node, path + (key,), source, loader, errors)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, path + (index,), source, loader, errors) for index, item in enumerate(node.value)]
    source.scalars[path] = (node.start_mark.index, node.end_mark.index)
    return _scalar(node, source, loader, errors)


def _scalar(node: yaml.ScalarNode, source: SourceFile, loader: yaml.SafeLoader, errors: list[RuleError]) -> Any:
    try:
        value = loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        errors.append(RuleError(source.name, *_mark(node), "yaml_value_error", problem))
        return None
    ambiguity = _ambiguity(node, value)
    if ambiguity is not None:
        errors.append(RuleError(source.name, *_mark(node), "ambiguous_value", ambiguity))
        return None
    return value


_TAG = "tag:yaml.org,2002:"
_YAML_11_ONLY = {  # resolved type -> plain forms YAML 1.2 reads otherwise
    "bool": re.compile(r"yes|no|on|off", re.IGNORECASE),
    "int": re.compile(r"[-+]?(0[0-9_]+|0b[01_]+|[0-9][0-9_]*(:[0-5]?[0-9])+|[0-9]+(_[0-9_]*)+)"),
    "float": re.compile(r"[-+]?(0[0-9_][0-9_.]*([eE][-+][0-9]+)?|[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*|.*_.*)"),
}


def _ambiguity(node: yaml.ScalarNode, value: Any) -> str | None:
    """Why a plain value is ambiguous: YAML 1.1 makes ``012`` 10 (octal), ``1:30`` 90 (base 60), ``1_000``
    1000 and ``no`` false, where YAML 1.2 and most other tools read 12, or text."""
    kind = node.tag.removeprefix(_TAG)
    pattern = _YAML_11_ONLY.get(kind)
    if node.style is not None or pattern is None or not pattern.fullmatch(node.value):
        return None
    plain = str(value).lower() if kind == "bool" else repr(value)
    return (f"{node.value!r} is {plain} to YAML 1.1 but not to YAML 1.2: write {plain} if you mean that, "
            f"or quote it ('{node.value}') for text")
