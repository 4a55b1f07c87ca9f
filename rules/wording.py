"""How Licit's text for people reads: counts ("1 error", "2 errors"), values, and the languages of messages."""
from __future__ import annotations

import json

__all__ = ["LANGUAGES", "counted", "shown"]

# Every message a rule writes is in Chinese and English (rules.schema.LocalizedText); text output shows
# both, in this order, unless a command's --lang asks for one.
LANGUAGES = ("zh", "en")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and ``noun``, plural unless the number is 1 (``plural`` where adding an s is wrong)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def shown(value: object) -> str:
    """A value as rule files write it, not as Python does: ["a", "b"], true, 0.24, "2026-01-01"."""
    return json.dumps(value, ensure_ascii=False, default=str)
