"""The built-in matcher: the lowered conditions (rules/ir.py) compiled to Python closures, no eval.

It decides exactly as ``rules.ir.evaluate`` (the reference) does: a comparison with a missing value
is false, arithmetic with a missing value or a division by zero is missing, an empty list satisfies
every ``every`` and no ``some``. Each piece (a rule over the span of days its lowered condition holds
for) is compiled once when the engine is built. A segment's pieces are indexed by a guard each (a
test their condition implies: a field equal to a value, a list item with one, a threshold) the first
time a flow is decided in it, and a bounded number of segments is kept; deciding a flow looks the
fact up in the index and tests in full only the pieces whose guard holds, as a Rete network's alpha
memories do.
"""
from __future__ import annotations

import bisect
from functools import lru_cache
from typing import Any, Callable

from rules.ir import ARITH, COMPARE, FACT, And, Compare, Condition, Const, Lit, Operand, Or, Present, Quant, Ref
from rules.segments import CompiledJurisdiction

__all__ = ["PythonMatcher", "compile_condition"]

Test = Callable[[dict, Any], bool]  # (fact, current item) -> holds
Value = Callable[[dict, Any], Any]
_CACHED_PLANS = 256  # segments whose list of pieces in force is kept, per jurisdiction
_INDEXED_FROM = 40  # pieces in force: measured, 20 tests run in 7.5 µs, their index in 11 µs


def _read(ref: Ref) -> Value:
    key = ref.key
    if ref.scope == FACT:
        return lambda fact, item: fact.get(key)
    if key == "":
        return lambda fact, item: item
    return lambda fact, item: item.get(key)


def _operand(operand: Operand) -> Value:
    if isinstance(operand, Lit):
        value = operand.value
        return lambda fact, item: value
    if isinstance(operand, Ref):
        return _read(operand)
    left, right, apply, dividing = _operand(operand.left), _operand(operand.right), ARITH[operand.op], operand.op == "/"

    def arithmetic(fact: dict, item: Any) -> Any:
        first, second = left(fact, item), right(fact, item)
        if first is None or second is None or (dividing and second == 0):
            return None
        return apply(first, second)
    return arithmetic


def _compare(condition: Compare) -> Test:
    test = COMPARE[condition.op]
    if isinstance(condition.right, Lit):
        constant, key = condition.right.value, condition.left.key
        if constant is None:
            return lambda fact, item: False
        equal = condition.op == "=="  # None == constant is already False: no test for a missing value
        on_fact = condition.left.scope == FACT
        if key == "" and not on_fact:
            if equal:
                return lambda fact, item: item == constant
            return lambda fact, item: item is not None and test(item, constant)
        if equal:
            if on_fact:
                return lambda fact, item: fact.get(key) == constant
            return lambda fact, item: item.get(key) == constant

        def keyed_test(fact: dict, item: Any) -> bool:
            value = (fact if on_fact else item).get(key)
            return value is not None and test(value, constant)
        return keyed_test
    left, right = _read(condition.left), _operand(condition.right)

    def compare(fact: dict, item: Any) -> bool:
        first, second = left(fact, item), right(fact, item)
        return first is not None and second is not None and test(first, second)
    return compare


def _connective(tests: list[Test], some: bool) -> Test:
    """``or`` (``some``: one test holds) or ``and`` (every test holds), stopping at the first that decides."""
    if len(tests) == 2:
        first, second = tests
        if some:
            return lambda fact, item: first(fact, item) or second(fact, item)
        return lambda fact, item: first(fact, item) and second(fact, item)

    def connective(fact: dict, item: Any) -> bool:
        for test in tests:
            if test(fact, item) == some:
                return some
        return not some
    return connective


def _quantifier(condition: Quant) -> Test:
    items, body, some = _read(condition.ref), compile_condition(condition.body), condition.kind == "any"

    def quantified(fact: dict, item: Any) -> bool:
        for element in items(fact, item) or ():
            if body(fact, element) == some:
                return some
        return not some
    return quantified


def compile_condition(condition: Condition) -> Test:
    """A function of (fact, item) that holds exactly when ``rules.ir.evaluate(condition, fact, item)`` does."""
    if isinstance(condition, Compare):
        return _compare(condition)
    if isinstance(condition, Present):
        read, present = _read(condition.ref), condition.present
        return lambda fact, item: (read(fact, item) is not None) == present
    if isinstance(condition, (And, Or)):
        return _connective([compile_condition(child) for child in condition.children], isinstance(condition, Or))
    if isinstance(condition, Const):
        value = condition.value
        return lambda fact, item: value
    if isinstance(condition, Quant):
        return _quantifier(condition)
    raise TypeError(f"cannot compile {condition!r}")


Guard = tuple  # ("equal", key, value) | ("item", list key, item key, value) | ("range", key, op, value) | …
_RANGES = {">": (bisect.bisect_left, False), ">=": (bisect.bisect_right, False),
           "<": (bisect.bisect_right, True), "<=": (bisect.bisect_left, True)}  # (search, the rules after it?)
# some item is above a value when the largest is, below it when the smallest is
_EXTREME = {">": max, ">=": max, "<": min, "<=": min}


def _hashable_literal(operand: Any) -> bool:
    return isinstance(operand, Lit) and isinstance(operand.value, (str, int, float, bool))


def _atom_guards(condition: Condition) -> list[Guard]:
    """Tests that hold whenever ``condition`` does and that an index finds cheaply (none if it has none)."""
    if isinstance(condition, Compare) and condition.left.scope == FACT and _hashable_literal(condition.right):
        if condition.op == "==":
            return [("equal", condition.left.key, condition.right.value)]
        if condition.op == "!=":
            return [("unequal", condition.left.key, condition.right.value)]
        return [("range", condition.left.key, condition.op, condition.right.value)]
    if isinstance(condition, Present) and condition.ref.scope == FACT:
        return [("present", condition.ref.key, condition.present)]
    if isinstance(condition, Quant) and condition.kind == "any" and condition.ref.scope == FACT:
        parts = condition.body.children if isinstance(condition.body, And) else (condition.body,)
        # some item passes every part: so for each test of the item against a value, some item passes it
        return [("item", condition.ref.key, part.left.key, part.right.value) if part.op == "==" else
                ("item range", condition.ref.key, part.left.key, part.op, part.right.value) for part in parts
                if isinstance(part, Compare) and part.left.scope != FACT and _hashable_literal(part.right)
                and (part.op == "==" or (part.op in _RANGES and part.left.key))]
    if isinstance(condition, And):
        return [guard for child in condition.children for guard in _atom_guards(child)]
    return []


def _branches(condition: Condition) -> list[list[Guard]] | None:
    """For each branch of an ``or`` (or the condition itself), the guards that all hold when it does;
    None when some branch has none, so the condition must always be tested."""
    branches = [_atom_guards(branch) for branch in (condition.children if isinstance(condition, Or) else (condition,))]
    return None if any(not guards for guards in branches) else branches


class _Index:
    """The pieces in force in one segment, found through their guards: only the pieces for which every
    guard of some branch holds are tested in full, so a segment of hundreds of rules costs little more
    than one of twenty. Guards are consequences of the condition, so skipping the others is exact."""

    def __init__(self, pieces: list[tuple[int, Condition, Test]]):
        self._numbers = [number for number, _, _ in pieces]
        self._tests = [test for _, _, test in pieces]
        self._always: list[int] = []
        self._branch_slot: list[int] = []  # the piece (slot) of each branch
        self._needed: list[int] = []  # how many guards each branch has
        self._equal: dict[str, dict[Any, list[int]]] = {}
        self._unequal: dict[str, dict[Any, list[int]]] = {}
        self._item: dict[tuple[str, str], dict[Any, list[int]]] = {}
        self._present: dict[tuple[str, bool], list[int]] = {}
        ranges: dict[tuple[str, str], list[tuple[Any, int]]] = {}
        for slot, (_, condition, _) in enumerate(pieces):
            branches = _branches(condition)
            if branches is None:
                self._always.append(slot)
                continue
            for guards in branches:
                branch = len(self._needed)
                self._branch_slot.append(slot)
                self._needed.append(len(set(guards)))
                for guard in set(guards):
                    kind = guard[0]
                    if kind == "equal" or kind == "unequal":
                        table = self._equal if kind == "equal" else self._unequal
                        table.setdefault(guard[1], {}).setdefault(guard[2], []).append(branch)
                    elif kind == "item":
                        self._item.setdefault((guard[1], guard[2]), {}).setdefault(guard[3], []).append(branch)
                    elif kind == "present":
                        self._present.setdefault((guard[1], guard[2]), []).append(branch)
                    else:  # a range over a fact key (None: no item key), or over a key of list items
                        key, item_key = (guard[1], None) if kind == "range" else (guard[1], guard[2])
                        ranges.setdefault((key, item_key, guard[-2]), []).append((guard[-1], branch))
        self._ranges = []
        for (key, item_key, op), entries in ranges.items():
            entries.sort(key=lambda entry: entry[0])
            self._ranges.append((key, item_key, _EXTREME[op], *_RANGES[op], [value for value, _ in entries],
                                 [branch for _, branch in entries]))

    def _held(self, fact: dict) -> list[list[int]]:
        """Lists of branches, one per guard that holds for ``fact`` (an item guard counts once per value)."""
        held = []
        for key, table in self._equal.items():
            found = table.get(fact.get(key))
            if found:
                held.append(found)
        for key, table in self._unequal.items():
            value = fact.get(key)
            if value is not None:
                held += [branches for other, branches in table.items() if other != value]
        for (key, item_key), table in self._item.items():
            values = {element.get(item_key) if item_key else element for element in fact.get(key) or ()}
            held += [table[value] for value in values if value in table]
        for (key, present), branches in self._present.items():
            if (fact.get(key) is not None) == present:
                held.append(branches)
        for key, item_key, extreme, search, after, values, branches in self._ranges:
            if item_key is None:
                value = fact.get(key)
            else:
                found = [value for value in (element.get(item_key) for element in fact.get(key) or ())
                         if value is not None]
                value = extreme(found) if found else None
            if value is not None:
                position = search(values, value)
                held.append(branches[position:] if after else branches[:position])
        return held

    def fired(self, fact: dict) -> list[int]:
        tests, numbers = self._tests, self._numbers
        if len(tests) <= _INDEXED_FROM:  # a few dozen tests run faster than the lookups that would skip them
            return [number for number, test in zip(numbers, tests) if test(fact, None)]
        candidates = set(self._always)
        counts: dict[int, int] = {}
        needed, slot_of = self._needed, self._branch_slot
        for branches in self._held(fact):
            for branch in branches:
                count = counts[branch] = counts.get(branch, 0) + 1
                if count == needed[branch]:
                    candidates.add(slot_of[branch])
        return [numbers[slot] for slot in sorted(candidates) if tests[slot](fact, None)]


class PythonMatcher:
    """A jurisdiction's pieces as Python tests; each segment runs the tests of the pieces in force."""

    name = "python"

    def __init__(self, compiled: CompiledJurisdiction):
        self._compiled = compiled
        self._tests = [None if piece.condition == Const(False) else compile_condition(piece.condition)
                       for piece in compiled.pieces]
        self._plan = lru_cache(maxsize=_CACHED_PLANS)(self._assemble)

    def _assemble(self, segment: int) -> _Index:
        return _Index([(number, self._compiled.pieces[number].condition, self._tests[number])
                       for number in self._compiled.pieces_in_force(segment) if self._tests[number] is not None])

    def fired(self, facts: dict[str, Any], segment: int, day: int) -> list[int]:
        """The pieces (indices into the jurisdiction's pieces) in force in ``segment`` that hold for ``facts``."""
        return self._plan(segment).fired(facts)
