"""The applicant's identifiers may appear only in ``applicant``.

Elsewhere they would reach the decision log in clear (only ``applicant`` is redacted),
and the log refuses such a record; refusing the flow as input says which field to fix,
with or without a log.

Which strings are checked, and from what length, keeps ordinary flows from being refused:

- ``id_number`` and ``phone`` (6 characters or more, as the log's own check): every string
  field outside applicant, ids and jurisdiction codes alike (enum values cannot hold them).
- ``name``: only the free-text ids (``FREE_TEXT_FIELDS``), never the codes (a name like ``Li``
  or ``Ma`` is no rarer than ``CN``). A name in CJK characters counts from 2 characters,
  the length of most Chinese names, anywhere in the text (CJK has no word boundaries, and
  ids are written in Latin letters, so 张三 in one is the name). A name in other scripts
  counts from 2 characters only as a whole word, so that ``Li`` is found in ``F-Li-0001``
  but not in ``Lianhe-pc``.
"""
from __future__ import annotations

import re
from typing import Iterator

from engine.errors import FieldError
from engine.flow import CODE_FIELDS, FREE_TEXT_FIELDS, Flow

__all__ = ["identifier_errors"]

MIN_NUMBER_LENGTH = 6
MIN_NAME_LENGTH = 2
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def identifier_errors(flow: Flow) -> list[FieldError]:
    """One error per field outside applicant that contains the applicant's name, id number or phone."""
    applicant = flow.applicant
    numbers = [(field, value) for field, value in (("id_number", applicant.id_number), ("phone", applicant.phone))
               if len(value) >= MIN_NUMBER_LENGTH]
    name = _name_pattern(applicant.name)
    errors = []
    for spec in FREE_TEXT_FIELDS + CODE_FIELDS:
        for path, text in _values(flow, spec):
            found = [field for field, value in numbers if value in text]
            if name is not None and spec in FREE_TEXT_FIELDS and name.search(text):
                found.insert(0, "name")
            errors += [FieldError(path, f"contains the applicant's {field}; personal identifiers may appear only "
                                        f"in applicant.{field}") for field in found]
    return errors


def _name_pattern(name: str) -> re.Pattern | None:
    if len(name) < MIN_NAME_LENGTH:
        return None
    if _CJK.search(name):
        return re.compile(re.escape(name))
    return re.compile(rf"(?<![^\W\d_]){re.escape(name)}(?![^\W\d_])")  # [^\W\d_]: a letter


def _values(flow: Flow, spec: str) -> Iterator[tuple[str, str]]:
    """The string values at a path like ``payments[].provider``, each with its concrete path."""
    nodes = [("", flow)]
    for part in spec.split("."):
        name, each = part.removesuffix("[]"), part.endswith("[]")
        nodes = [(f"{path}.{name}" if path else name, getattr(node, name)) for path, node in nodes]
        if each:
            nodes = [(f"{path}[{index}]", item) for path, items in nodes for index, item in enumerate(items)]
    return ((path, value) for path, value in nodes if isinstance(value, str))
