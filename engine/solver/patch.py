"""JSON Patch (RFC 6902): the operations a remedy is made of, written and applied.

A remedy's patch lists replacements first (at the items' original positions), then removals from the
last item back, then additions at the end of their list, so that every subset of its operations is
itself a patch that applies: a remedy is checked by dropping each operation in turn.
"""
from __future__ import annotations

import copy
from typing import Any

__all__ = ["PatchError", "apply_patch", "pointer"]


class PatchError(ValueError):
    """An operation names a path the document does not have."""


def pointer(path: tuple) -> str:
    """``("payments", 1, "apr")`` → ``/payments/1/apr``; a trailing ``-`` is the end of a list."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in path)


def _parts(path: str) -> list[str]:
    if not path.startswith("/"):
        raise PatchError(f"{path!r} is not a JSON pointer")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _container(document: Any, parts: list[str]) -> Any:
    for part in parts:
        try:
            document = document[int(part)] if isinstance(document, list) else document[part]
        except (KeyError, IndexError, ValueError, TypeError):
            raise PatchError(f"no {part!r} in the document") from None
    return document


def apply_patch(document: Any, patch: list[dict]) -> Any:
    """The document with the patch applied (add, remove and replace; the document itself is left alone)."""
    result = copy.deepcopy(document)
    for operation in patch:
        *where, last = _parts(operation["path"])
        container = _container(result, where)
        op = operation["op"]
        if isinstance(container, list):
            index = len(container) if last == "-" and op == "add" else _index(last, container, op)
            if op == "add":
                container.insert(index, copy.deepcopy(operation["value"]))
            elif op == "remove":
                del container[index]
            else:
                container[index] = copy.deepcopy(operation["value"])
        elif isinstance(container, dict):
            if op != "add" and last not in container:
                raise PatchError(f"no {last!r} in the document")
            if op == "remove":
                del container[last]
            else:
                container[last] = copy.deepcopy(operation["value"])
        else:
            raise PatchError(f"{operation['path']} is inside a {type(container).__name__}")
    return result


def _index(part: str, container: list, op: str) -> int:
    if not part.isdigit() or int(part) >= len(container) + (op == "add"):
        raise PatchError(f"no item {part!r} in a list of {len(container)}")
    return int(part)
