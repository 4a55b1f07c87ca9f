"""YAML files read with ``yaml.SafeLoader`` keeping the line and column of every value.

``yaml.safe_load`` forgets where a value came from; the compiler needs it to point a
compliance officer at the character that is wrong. We compose the node tree with the
safe loader and build plain Python values from it, recording each path's position.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rules.errors import RuleError

__all__ = ["SourceFile", "Position", "load_yaml"]

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
    """The safe loader, refusing anchors and aliases where they are written: a few lines of aliases
    expand to billions of values (a "billion laughs"), and rule files have no use for them."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(None, None, "anchors and aliases (&name, *name) are not supported "
                                                          "in rule files; write the value out", event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(path: Path, name: str) -> tuple[SourceFile, list[RuleError]]:
    """Parse one YAML file; return it with every error found (syntax, duplicate keys, tags)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return SourceFile(name, ""), [RuleError(name, 1, 1, "encoding_error", f"not UTF-8 text: {exc.reason}")]
    source = SourceFile(name, text)
    loader, node = _composed_by_libyaml(text)
    if loader is None:
        loader = _PlainLoader(text)
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


def _composed_by_libyaml(text: str) -> tuple[Any, Any]:
    """The loader and node tree libyaml composes (the same nodes and marks as the Python loader, about ten
    times faster: a pack of 10,000 rules loads in seconds), or (None, None). Text holding an anchor, alias or
    tag character, or that libyaml finds an error in, is left to the Python loader: its refusals and
    messages are the ones reported."""
    if not getattr(yaml, "__with_libyaml__", False) or any(mark in text for mark in "&*!"):
        return None, None
    loader = yaml.CSafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except yaml.YAMLError:
        return None, None
    finally:
        loader.dispose()


def _syntax_error(name: str, text: str, exc: yaml.MarkedYAMLError) -> RuleError:
    """Where the YAML breaks. PyYAML notices an unclosed quote only where the text stops making sense,
    often lines later: point at the quote instead when it can be found."""
    problem = exc.problem or exc.context or "invalid YAML"
    if exc.context == "while scanning a quoted scalar" and exc.context_mark:
        return RuleError(name, exc.context_mark.line + 1, exc.context_mark.column + 1, "yaml_syntax_error",
                         f"this quoted text is never closed ({problem})")
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        return RuleError(name, 1, 1, "yaml_syntax_error", problem)
    start = exc.context_mark.line if exc.context_mark else 0
    for number, line in enumerate(text.splitlines()[start:mark.line], start + 1):
        if line.replace('\\"', "").count('"') % 2:
            return RuleError(name, number, line.index('"') + 1, "yaml_syntax_error",
                             f"this quote looks unclosed (at {mark.line + 1}:{mark.column + 1}: {problem})")
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
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        errors.append(RuleError(source.name, *_mark(node), "yaml_value_error", problem))
        return None
