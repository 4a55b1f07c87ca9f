"""How Licit's text for people reads: counts ("1 error", "2 errors"), values, the languages of messages,
and untrusted text on one line.

Flow ids, file names, JSON keys, rule texts and what a log holds come from whoever wrote them. Printed
raw, a newline in one forges a line of output (a decision line, a table row, an error) and an escape
sequence drives the reader's terminal; a 4 MB value in an error message buries the message.
"""
from __future__ import annotations

import json

__all__ = ["LANGUAGES", "brief", "counted", "printable", "shown"]

# Every message a rule writes is in Chinese and English (rules.schema.LocalizedText); text output shows
# both, in this order, unless a command's --lang asks for one.
LANGUAGES = ("zh", "en")


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """``number`` and ``noun``, plural unless the number is 1 (``plural`` where adding an s is wrong)."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def shown(value: object) -> str:
    """A value as rule files write it, not as Python does: ["a", "b"], true, 0.24, "2026-01-01"."""
    return json.dumps(value, ensure_ascii=False, default=str)


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` on one line: every character that is not printable (control characters, line and paragraph
    separators, bidirectional overrides, unassigned code points) written as a Python escape, as repr does."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def brief(value: object, limit: int = 60) -> str:
    """A value someone sent, quoted in an error message: its repr (strings quoted), printable, at most
    ``limit`` characters. An integer too long to print (Python refuses past 4,300 digits) is described."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 300:
        return f"a number of about {int(value.bit_length() * 0.30103) + 1} digits"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # a huge integer deep inside, or a structure too deep to repr
        return f"a {type(value).__name__}"
    text = printable(text)  # repr escapes a string's characters already, not those of other objects
    return text if len(text) <= limit else text[:limit - 3] + "..."
