"""The applicant's identifiers may appear only in ``applicant``.

Elsewhere they would reach the decision log in clear (only ``applicant`` is redacted),
and the log refuses such a record; refusing the flow as input says which field to fix,
with or without a log.

Which strings are checked, and from what length, keeps ordinary flows from being refused:

- ``id_number`` and ``phone`` (6 characters or more, as the log's own check): every string
  field outside applicant, ids and jurisdiction codes alike (enum values cannot hold them).
- ``name``: only the free-text ids, never the codes (a name like ``Li``
  or ``Ma`` is no rarer than ``CN``). A name in CJK characters counts from 2 characters,
  the length of most Chinese names, anywhere in the text (CJK has no word boundaries, and
  ids are written in Latin letters, so 张三 in one is the name). A name in other scripts
  counts from 2 characters only as a whole word, so that ``Li`` is found in ``F-Li-0001``
  but not in ``Lianhe-pc``.
"""
from __future__ import annotations

import re

from engine.errors import FieldError
from engine.flow import Flow

__all__ = ["identifier_errors", "string_fields"]

MIN_NUMBER_LENGTH = 6
MIN_NAME_LENGTH = 2
_CJK = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def identifier_errors(flow: Flow) -> list[FieldError]:
    """One error per field outside applicant that contains the applicant's name, id number or phone."""
    applicant = flow.applicant
    numbers = [(field, value) for field, value in (("id_number", applicant.id_number), ("phone", applicant.phone))
               if len(value) >= MIN_NUMBER_LENGTH]
    fields = string_fields(flow)
    everything = "\n".join(text for _, text, _ in fields)
    if not any(value in everything for _, value in numbers) and applicant.name not in everything:
        return []  # the usual case, decided in one pass
    errors = []
    for path, text, free in fields:
        found = ["name"] if free and _has_name(applicant.name, text) else []
        found += [field for field, value in numbers if value in text]
        errors += [FieldError(path, f"contains the applicant's {field}; personal identifiers may appear only "
                                    f"in applicant.{field}") for field in found]
    return errors


def string_fields(flow: Flow) -> list[tuple[str, str, bool]]:
    """Every string field outside applicant that the caller composes, as (path, value, free text?).

    The others are enum values, dates and numbers. Free text: the ids and slugs; not free:
    jurisdiction codes. A field added to the contract must be added here (a test checks)."""
    fields = [("flow_id", flow.flow_id, True), ("jurisdiction", flow.jurisdiction, False),
              ("channel.platform_id", flow.channel.platform_id, True),
              ("channel.pilot_id", flow.channel.pilot_id, True), ("insurer.id", flow.insurer.id, True),
              ("insurer.branch_jurisdiction", flow.insurer.branch_jurisdiction, False),
              ("vehicle.registration_jurisdiction", flow.vehicle.registration_jurisdiction, False)]
    fields += [(f"payments[{index}].provider", payment.provider, True) for index, payment in enumerate(flow.payments)]
    return [field for field in fields if field[1] is not None]


def _has_name(name: str, text: str) -> bool:
    if len(name) < MIN_NAME_LENGTH or name not in text:
        return False
    return bool(_CJK.search(name) or re.search(rf"(?<![^\W\d_]){re.escape(name)}(?![^\W\d_])", text))  # a letter
