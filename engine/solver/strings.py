"""Strings as a finite domain: every string a query can tell apart, numbered.

Conditions only test strings for equality (and jurisdiction codes through ``province``), so a string field
is exactly modelled by which of a finite set of strings it holds: the enum values, the strings rules and
parameters name, the flow's own, the jurisdiction codes of the tree with their provinces, and enough fresh
strings that any pattern of equalities between fields remains possible. Fresh codes come with fresh
provinces, and fresh cities in every province, so that ``province`` can agree or differ as freely as it
can on real codes.
"""
from __future__ import annotations

import re
from typing import Iterable

from engine.facts import province

__all__ = ["StringTable", "CODE", "TEXT"]

CODE, TEXT = "code", "text"
_CODE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,6}){0,3}$")  # engine.flow.Code
_TEXT_MAX = 200  # engine.flow.Text


def _is_text(value: str) -> bool:
    return 1 <= len(value) <= _TEXT_MAX and value.isprintable()


class StringTable:
    """``index(value)`` numbers a string; ``domain(kind)`` the indices a field of that kind (an enum's name, CODE
    or TEXT) may hold; ``province`` maps each code's index to its province's."""

    def __init__(self, enums: dict[str, tuple[str, ...]], named: Iterable[str], fresh_texts: int = 0,
                 fresh_codes: int = 0):
        self.values: list[str] = []
        self._index: dict[str, int] = {}
        self._domains: dict[str, list[int]] = {}
        for name, values in enums.items():
            self._domains[name] = [self.index(value) for value in values]
        named = sorted(set(named))
        codes = {value for value in named if _CODE.match(value)}
        codes |= {province(code) for code in codes}
        provinces = sorted({province(code) for code in codes})
        fresh_provinces = [f"ZZ-Q{number}" for number in range(1, fresh_codes + 1)]
        for place in provinces + fresh_provinces:
            codes.add(place)
            codes |= {f"{place}-Z{number}" for number in range(1, fresh_codes + 1)}
        for value in sorted(codes) + named + [f"~{number}" for number in range(1, fresh_texts + 1)]:
            self.index(value)
        self._domains[CODE] = sorted(self._index[code] for code in codes)
        self._domains[TEXT] = [index for index, value in enumerate(self.values) if _is_text(value)]
        self.province = {self._index[code]: self.index(province(code)) for code in codes}

    def index(self, value: str) -> int:
        found = self._index.get(value)
        if found is None:
            found = self._index[value] = len(self.values)
            self.values.append(value)
        return found

    def domain(self, kind: str) -> list[int]:
        return self._domains[kind]
