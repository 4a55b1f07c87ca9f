"""What durable_rules 2.0.28 can compile and match, worked out from a lowered condition.

Its C engine has fixed-size tables, and past them it does not always say so:

- a rule holds at most 31 expressions; each ``$and``/``$or`` takes two (error 113), and the
  engine wraps every condition in one ``$and`` of its own: at most ``MAX_GROUPS`` per rule;
- a test node keeps at most 511 tests below it: one more and ``create_ruleset`` loops forever;
- matching a fact walks the tests with a stack of 64 pending nodes: more tests holding at once
  below one node fail the evaluation (error 303), as do 65 rules of one ruleset whose first
  tests all hold.

So the loader refuses a rule whose condition would break a limit alone (a located error, with
either matcher, so a tree that loads always starts an engine), and the engine packs rules into
rulesets that stay within them together (``pack``). The model follows ``engine.compile`` (which
turns the IR into durable_rules' JSON) and rete.c/events.c: the tests of an ``and`` hang one below
the other, an ``or``'s branches all below the node before it, each ending in one shared node below
which the rest of the condition continues; a quantifier is one node whose own tests are matched
apart, per list item. The pending stack is counted as if every test held, except that equality
tests of one field against different constants (``x in [...]``) never hold together.
"""
from __future__ import annotations

from dataclasses import dataclass

from rules.ir import ITEM, And, Compare, Condition, Const, Lit, Or, Present, Quant, Ref

__all__ = ["MAX_GROUPS", "MAX_PENDING", "MAX_TESTS_BELOW", "Size", "condition_size", "pack", "quantifier_body",
           "size_problem"]

MAX_GROUPS = 14
MAX_PENDING = 64
MAX_TESTS_BELOW = 500  # below 511, where create_ruleset stops returning
# no item of any list has this field, so "it is absent" holds for every item, an object or a value
EVERY_ITEM = Present(Ref(ITEM, "licit_no_such_field"), False)


@dataclass(frozen=True)
class _Nodes:
    """A list of test nodes hung below one parent: how many may be pending at once (``pushed``), how many
    there are, the deepest stack needed below any of them, and the most nodes below any one node within."""

    pushed: int = 0
    count: int = 0
    below: int = 0
    fan: int = 0

    @property
    def stack(self) -> int:
        return self.pushed - 1 + max(1, self.below) if self.count else 0

    def __add__(self, other: "_Nodes") -> "_Nodes":
        return _Nodes(self.pushed + other.pushed, self.count + other.count, max(self.below, other.below),
                      max(self.fan, other.fan))


_NOTHING = _Nodes()


@dataclass(frozen=True)
class Size:
    """What one rule's condition takes of a ruleset."""

    groups: int
    first: _Nodes  # its tests below the engine's own first test, which every rule shares

    @property
    def stack(self) -> int:
        return self.first.stack

    @property
    def fan(self) -> int:
        return max(self.first.count, self.first.fan)


def condition_size(condition: Condition) -> Size:
    return Size(_groups(condition), _nodes(condition, _NOTHING))


def size_problem(condition: Condition) -> str | None:
    """Why durable_rules cannot compile or match this condition as one rule, or None."""
    size = condition_size(condition)
    if size.groups > MAX_GROUPS:
        return (f"this condition compiles to {size.groups} and/or groups; the engine matches at most {MAX_GROUPS} "
                f"in one rule: split the rule, or write alternatives of one field with 'in'")
    if size.fan > MAX_TESTS_BELOW:
        return (f"this condition compiles to {size.fan} tests side by side; the engine holds at most "
                f"{MAX_TESTS_BELOW}: shorten the list it compares with, or split the rule")
    if size.stack > MAX_PENDING:
        return (f"this condition compiles to {size.stack} tests that may hold at once; the engine matches at most "
                f"{MAX_PENDING}: split the rule")
    return None


def pack(sizes: dict[str, Size], max_rules: int) -> list[list[str]]:
    """The rules (in order) packed into rulesets that durable_rules compiles and matches: each rule fits
    alone (``size_problem``), so each ruleset gets at least one."""
    packs: list[list[str]] = []
    together = _NOTHING
    for name, size in sizes.items():
        joined = together + size.first
        if not packs or len(packs[-1]) >= max_rules or joined.stack > MAX_PENDING or \
                joined.count > MAX_TESTS_BELOW:
            packs.append([])
            joined = size.first
        packs[-1].append(name)
        together = joined
    return packs


def quantifier_body(quant: Quant) -> Condition:
    """The quantifier's body as durable_rules is given it: one ending in an ``or`` ends in ``EVERY_ITEM`` too."""
    body = quant.body
    if not _ends_in_or(body):
        return body
    return And((*body.children, EVERY_ITEM) if isinstance(body, And) else (body, EVERY_ITEM))


def _ends_in_or(condition: Condition) -> bool:
    """Whether the condition's last test is an ``or`` (an ``every`` that may range over an empty list is one)."""
    if isinstance(condition, And):
        return _ends_in_or(condition.children[-1])
    return isinstance(condition, Or) or _or_empty(condition)


def _or_empty(condition: Condition) -> bool:
    """An ``every`` that may range over an empty list: compiled as ``count == 0 or every``."""
    return isinstance(condition, Quant) and condition.kind == "all" and not condition.non_empty


def _groups(condition: Condition) -> int:
    if isinstance(condition, (And, Or)):
        return 1 + sum(map(_groups, condition.children))
    if isinstance(condition, Quant):
        return int(_or_empty(condition)) + _groups(quantifier_body(condition))
    return 0


def _nodes(condition: Condition, then: _Nodes) -> _Nodes:
    """The nodes ``condition`` hangs below its parent, with ``then`` (the rest of the rule) below its end."""
    if isinstance(condition, And):
        for child in reversed(condition.children):
            then = _nodes(child, then)
        return then
    if isinstance(condition, Or):
        joined = _Nodes(1, 1, then.stack, max(then.count, then.fan))  # the node every branch ends in
        branches = [_nodes(child, joined) for child in condition.children]
        total = sum(branches, _NOTHING)
        return _Nodes(1, total.count, total.below, total.fan) if _exclusive(condition) else total
    if isinstance(condition, Quant):
        inner = _nodes(quantifier_body(condition), _NOTHING)
        node = _Nodes(1, 1, then.stack, max(then.count, then.fan, inner.count, inner.fan))
        if _or_empty(condition):
            return node + _Nodes(1, 1, then.stack, max(then.count, then.fan))  # or the list is empty
        return node
    if isinstance(condition, Const) and not condition.value:
        return _NOTHING  # never compiled
    return _Nodes(1, 1, then.stack, max(then.count, then.fan))


def _exclusive(condition: Or) -> bool:
    """An ``or`` of equality tests of one field with different constants: at most one branch holds."""
    tests = condition.children
    return all(isinstance(test, Compare) and test.op == "==" and isinstance(test.right, Lit)
               and test.left == tests[0].left for test in tests) and \
        len({_constant(test.right.value) for test in tests}) == len(tests)


def _constant(value: object) -> tuple:
    """A constant as durable_rules compares it: 1 and 1.0 are one number, true is not 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return type(value).__name__, repr(value)
    return "number", float(value)
