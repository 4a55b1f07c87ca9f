"""The applicant's identifiers may appear only in ``applicant``.

Elsewhere they would reach the decision log in clear (only ``applicant`` is redacted),
and the log refuses such a record; refusing the flow as input says which field to fix,
with or without a log. The comparison is the log's own (audit.redaction.appears_in): an
identifier is found whatever its case or width (``123x`` in ``F-123X``), as its hash does not
tell ``x`` from ``X``, so a flow this check accepts is never refused by the log for what it holds.

Which fields are searched, and from what length, keeps ordinary flows from being refused:

- ``id_number`` and ``phone`` (6 characters or more, as the log's own check): every value
  outside applicant, ids, codes, enum values, numbers and dates alike, as the log writes them.
- ``name``: only the free-text ids (FREE_TEXT), never the codes or enum values (a name like ``Li``
  or ``Ma`` is no rarer than ``CN``). A name in CJK characters counts from 2 characters,
  the length of most Chinese names, anywhere in the text (CJK has no word boundaries, and
  ids are written in Latin letters, so 张三 in one is the name). A name in other scripts
  counts from 2 characters only as a whole word, so that ``Li`` is found in ``F-Li-0001``
  but not in ``Lianhe-pc``.
"""
from __future__ import annotations

import json
import re

from audit.redaction import MIN_IDENTIFIER_CHARS, appears_in, folded, identifier_text
from engine.errors import FieldError
from engine.flow import Flow

__all__ = ["FREE_TEXT", "identifier_errors", "values_outside_applicant"]

MIN_NAME_LENGTH = 2
FREE_TEXT = ("flow_id", "channel.platform_id", "channel.pilot_id", "insurer.id", "payments[].provider")
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_INDEX = re.compile(r"\[\d+\]")
_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')  # the characters JSON text writes escaped


def identifier_errors(flow: Flow) -> list[FieldError]:
    """One error per field outside applicant that contains the applicant's name, id number or phone."""
    applicant = flow.applicant
    numbers = [(field, text) for field in ("id_number", "phone")
               for text in [identifier_text(field, getattr(applicant, field))] if len(text) >= MIN_IDENTIFIER_CHARS]
    name = identifier_text("name", applicant.name)
    if not _may_appear([name, *(value for _, value in numbers)], flow):
        return []  # the usual case, decided in one pass over the flow's JSON text
    errors = []
    for path, text in values_outside_applicant(flow):
        found = ["name"] if _INDEX.sub("[]", path) in FREE_TEXT and _has_name(name, text) else []
        found += [field for field, value in numbers if appears_in(value, text)]
        errors += [FieldError(path, f"contains the applicant's {field}; personal identifiers may appear only "
                                    f"in applicant.{field}") for field in found]
    return errors


def _may_appear(identifiers: list[str], flow: Flow) -> bool:
    """Whether one of ``identifiers`` may appear in a value outside applicant: a search of the flow's JSON text,
    which holds each value as it is but for the characters JSON escapes (with those, the values are searched)."""
    if any(_JSON_ESCAPED.search(identifier) for identifier in identifiers):
        return True
    text = folded(flow.model_dump_json(exclude={"applicant"}))
    return any(folded(identifier) in text for identifier in identifiers)


def values_outside_applicant(flow: Flow) -> list[tuple[str, str]]:
    """Every value of the flow outside applicant as (path, text), the text as the log writes it: strings as
    they are, numbers, booleans and dates as JSON. Walked from the model, so a field added to the contract is
    searched too."""
    found, pending = [], [("", flow.model_dump(mode="json", by_alias=True, exclude={"applicant"}))]
    while pending:
        path, node = pending.pop()
        if isinstance(node, dict):
            pending += [(f"{path}.{key}" if path else key, value) for key, value in node.items()]
        elif isinstance(node, list):
            pending += [(f"{path}[{index}]", value) for index, value in enumerate(node)]
        elif node is not None:
            found.append((path, node if isinstance(node, str) else json.dumps(node)))
    return sorted(found)


def _has_name(name: str, text: str) -> bool:
    if len(name) < MIN_NAME_LENGTH or not appears_in(name, text):
        return False
    if _CJK.search(name):
        return True
    word = re.escape(folded(name))
    return bool(re.search(rf"(?<![^\W\d_]){word}(?![^\W\d_])", folded(text)))  # not inside a longer word
