"""The flat fact of a symbolic flow: engine.facts.flow_facts, key for key, as z3 terms.

Nested objects become keys joined by ``__``; every list has a ``__count``; a null field, and every field
of a product the flow lacks, is a value that is not ``defined`` (flow_facts leaves the key out). Derived
facts are functions of the flow: a jurisdiction's province, whether the flow has a product of a kind,
that product, and the payment covering it. A key is built when a condition first reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from engine.facts import _JURISDICTION_FIELDS, SEP
from engine.solver.symbolic import Items, Leaf, Members, Obj, SymbolicFlow
from engine.solver.terms import Term, Value, is_known

__all__ = ["Fact", "FactMap", "ItemFacts", "field_of_fact"]

_DERIVED_FROM = {"has_product": "products.kind", "product": "products", "payment_for": "payments"}
_PROVINCES = {path.replace(".", SEP) + SEP + "province": path for path in _JURISDICTION_FIELDS}


def field_of_fact(key: str) -> str:
    """The flow field (cost key) a top-level fact key is read from: ``payment_for__ctpl__apr`` → payments.apr,
    ``insurer__branch_jurisdiction__province`` → insurer.branch_jurisdiction, ``payments__count`` → payments."""
    parts = key.split(SEP)
    if parts[0] in _DERIVED_FROM:
        return ".".join([_DERIVED_FROM[parts[0]], *parts[2:]])
    if parts[-1] in ("province", "count"):
        parts = parts[:-1]
    return ".".join(parts)


class FactMap:
    """The fact of one object (the flow, or an item of a list), keyed as flow_facts keys it."""

    def __init__(self, flow: SymbolicFlow, obj: Obj, derived: bool = False):
        self.flow, self.derived = flow, derived
        self._parts: dict[str, Leaf | Members | Items] = {}
        _index(obj, "", self._parts)
        self._built: dict[str, Fact | None] = {}

    def get(self, key: str) -> "Fact | None":
        if key not in self._built:
            self._built[key] = self._build(key)
        return self._built[key]

    def _build(self, key: str) -> "Fact | None":
        part = self._parts.get(key)
        if isinstance(part, Leaf):
            return part.value() if part.spec.fact else None
        if isinstance(part, Members):
            return part
        if isinstance(part, Items):
            return ItemFacts(tuple((slot.present, FactMap(self.flow, slot.obj)) for slot in part.slots))
        if key.endswith(SEP + "count") and key[:-len(SEP + "count")] in self._parts:
            counted = self._parts[key[:-len(SEP + "count")]]
            return Value("number", counted.count if isinstance(counted, Items) else
                         self.flow.terms.count(counted.held.values()))
        return self._derived(key) if self.derived else None

    def _derived(self, key: str) -> "Fact | None":
        flow, terms = self.flow, self.flow.terms
        if key in _PROVINCES:
            return Value("string", _province(flow, self._parts[_PROVINCES[key].replace(".", SEP)].raw))
        function, _, rest = key.partition(SEP)
        kind, _, field = rest.partition(SEP)
        if function == "has_product" and not field:
            return Value("bool", flow.has_product(kind))
        if function not in ("product", "payment_for") or not field:
            return None
        if function == "product":
            index = flow.table.index(kind)
            cases = [(terms.all([slot.present, terms.compare("==", slot.obj.fields["kind"].raw, index, "string")]),
                      slot) for slot in flow.root.fields["products"].slots]
        else:
            held = flow.has_product(kind)
            cases = [(terms.all([held, slot.present, slot.obj.fields["covers"].held.get(kind, False)]), slot)
                     for slot in flow.root.fields["payments"].slots]
        return _choose(flow, [(condition, FactMap(flow, slot.obj).get(field)) for condition, slot in cases])


@dataclass(frozen=True)
class ItemFacts:
    """A list of objects: each slot's presence and its own fact."""

    slots: tuple[tuple[Term, FactMap], ...]


Fact = Union[Value, Members, ItemFacts]


def fact_map(flow: SymbolicFlow) -> FactMap:
    return FactMap(flow, flow.root, derived=True)


def _index(obj: Obj, prefix: str, into: dict) -> None:
    for key, part in obj.fields.items():
        if isinstance(part, Obj):
            _index(part, prefix + key + SEP, into)
        else:
            into[prefix + key] = part


def _province(flow: SymbolicFlow, raw: Term) -> Term:
    table, terms = flow.table, flow.terms
    if is_known(raw):
        return table.province[raw]
    result: Term = 0
    for code in table.domain("code"):
        result = terms.ite(terms.compare("==", raw, code, "string"), table.province[code], result, "string")
    return result


def _choose(flow: SymbolicFlow, cases: list[tuple[Term, "Fact | None"]]) -> "Fact | None":
    """The fact of the one case whose condition holds (at most one does); not defined when none holds."""
    terms = flow.terms
    first = next((fact for _, fact in cases if fact is not None), None)
    if first is None:
        return None
    if isinstance(first, Members):
        held = {choice: terms.any([terms.all([condition, fact.held[choice]]) for condition, fact in cases])
                for choice in first.held}
        return Members(first.path, first.spec, held)
    term = cases[-1][1].term
    for condition, fact in reversed(cases[:-1]):
        term = terms.ite(condition, fact.term, term, first.kind)
    defined = terms.any([terms.all([condition, fact.defined]) for condition, fact in cases])
    return Value(first.kind, Fraction(term) if first.kind == "number" and is_known(term) else term, defined)
