"""Flow documents as JSON text, read without silent guesses.

The json module keeps the last of two equal keys (``"payee": "platform_account",
"payee": "insurer_account"`` reads as the second) and rounds every number to a
float (``950.000000000000000001`` reads as 950.0). Here a repeated key is an error
with its field path, decimals stay exact (:class:`~decimal.Decimal`, checked by the
flow model against each field's precision), and an integer too long to be any
field's value is an error with its path instead of Python's digit-limit failure, and so
is a number whose exponent no decimal can hold (``1e1000000000000000000``).
"""
from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal, InvalidOperation

from engine.errors import FieldError

__all__ = ["load_json", "MAX_INTEGER_DIGITS"]

MAX_INTEGER_DIGITS = 100  # far beyond any field's range; Python will not even read more than 4300


class _RepeatedKeys(dict):
    """An object whose text gave some key more than once."""

    def __init__(self, pairs: list[tuple[str, object]]):
        super().__init__(pairs)
        counts = Counter(key for key, _ in pairs)
        self.repeated = [key for key, count in counts.items() if count > 1]


class _OutOfRange:
    """Stands in for a number no field can hold: an integer of more than MAX_INTEGER_DIGITS digits,
    or a decimal whose exponent is past what Decimal holds."""

    def __init__(self, text: str, integer: bool):
        digits = len(text.lstrip("-"))
        self.problem = (f"a number of {digits} digits is out of range" if integer else
                        f"the number {text[:20] + '...' if len(text) > 20 else text} is out of range")


def load_json(text: str | bytes) -> tuple[object, list[FieldError]]:
    """The document, and the repeated keys and overlong integers in it with their field paths.

    Raises what ``json.loads`` raises for text that is not JSON."""
    flawed: list[object] = []

    def make_object(pairs: list[tuple[str, object]]) -> dict:
        if len({key for key, _ in pairs}) == len(pairs):
            return dict(pairs)
        flawed.append(_RepeatedKeys(pairs))
        return flawed[-1]

    def make_integer(literal: str) -> object:
        if len(literal) <= MAX_INTEGER_DIGITS:
            return int(literal)
        flawed.append(_OutOfRange(literal, integer=True))
        return flawed[-1]

    def make_decimal(literal: str) -> object:
        try:
            return Decimal(literal)
        except InvalidOperation:  # an exponent past Decimal's (10**18): it raises instead of overflowing
            flawed.append(_OutOfRange(literal, integer=False))
            return flawed[-1]

    document = json.loads(text, object_pairs_hook=make_object, parse_int=make_integer, parse_float=make_decimal)
    return document, (_locate(document) if flawed else [])


def _locate(document: object) -> list[FieldError]:
    """Walk the document (iteratively: it may be as deep as json allows) and name each flaw's path."""
    errors, pending = [], [("", document)]
    while pending:
        path, node = pending.pop()
        if isinstance(node, _RepeatedKeys):
            errors += [FieldError(_child(path, key), "appears more than once in its object; give each field once")
                       for key in node.repeated]
        elif isinstance(node, _OutOfRange):
            errors.append(FieldError(path or "(flow)", node.problem))
        if isinstance(node, dict):
            pending += [(_child(path, key), value) for key, value in node.items()]
        elif isinstance(node, list):
            pending += [(f"{path}[{index}]", value) for index, value in enumerate(node)]
    return sorted(errors, key=lambda error: error.path)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
