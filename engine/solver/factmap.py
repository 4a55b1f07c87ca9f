"""The flat fact of a symbolic flow: engine.facts.flow_facts, key for key, as z3 terms.

Nested objects become keys joined by ``__``; every list has a ``__count``; a null field, and every field
of a product the flow lacks, is a value that is not ``defined`` (flow_facts leaves the key out). Derived
facts are functions of the flow: a jurisdiction's province, whether the flow has a product of a kind,
that product, and the payment covering it.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Union

from engine.facts import _JURISDICTION_FIELDS, SEP
from engine.solver.symbolic import Items, Leaf, Members, Obj, SymbolicFlow
from engine.solver.terms import Term, Value, is_known

__all__ = ["ItemFacts", "Fact", "fact_map", "field_of_fact"]

_DERIVED_FROM = {"has_product": "products.kind", "product": "products", "payment_for": "payments"}


@dataclass(frozen=True)
class ItemFacts:
    """A list of objects: each slot's presence and its own flat fact."""

    slots: tuple[tuple[Term, dict], ...]


Fact = Union[Value, Members, ItemFacts]


def fact_map(flow: SymbolicFlow) -> dict[str, Fact]:
    facts = _flatten(flow, flow.root, "", {})
    for path in _JURISDICTION_FIELDS:
        leaf = _leaf_at(flow.root, path.split("."))
        facts[f"{path.replace('.', SEP)}{SEP}province"] = Value("string", _province(flow, leaf.raw))
    terms = flow.terms
    products, payments = flow.root.fields["products"].slots, flow.root.fields["payments"].slots
    kind_leaf = products[0].obj.fields["kind"]
    for kind in kind_leaf.spec.choices:
        held = flow.has_product(kind)
        facts[f"has_product{SEP}{kind}"] = Value("bool", held)
        index = flow.table.index(kind)
        cases = [(terms.all([slot.present, terms.compare("==", slot.obj.fields["kind"].raw, index, "string")]),
                  _flatten(flow, slot.obj, "", {})) for slot in products]
        facts.update(_choose(flow, cases, f"product{SEP}{kind}{SEP}"))
        cases = [(terms.all([held, slot.present, slot.obj.fields["covers"].held[kind]]),
                  _flatten(flow, slot.obj, "", {})) for slot in payments]
        facts.update(_choose(flow, cases, f"payment_for{SEP}{kind}{SEP}"))
    return facts


def field_of_fact(key: str) -> str:
    """The flow field (cost key) a top-level fact key is read from: ``payment_for__ctpl__apr`` → payments.apr,
    ``insurer__branch_jurisdiction__province`` → insurer.branch_jurisdiction, ``payments__count`` → payments."""
    parts = key.split(SEP)
    if parts[0] in _DERIVED_FROM:
        return ".".join([_DERIVED_FROM[parts[0]], *parts[2:]])
    if parts[-1] in ("province", "count"):
        parts = parts[:-1]
    return ".".join(parts)


def _leaf_at(obj: Obj, names: list[str]) -> Leaf:
    for name in names:
        obj = obj.fields[name]
    return obj


def _count(flow: SymbolicFlow, members: Members) -> Value:
    return Value("number", flow.terms.count(members.held.values()))


def _flatten(flow: SymbolicFlow, obj: Obj, prefix: str, into: dict) -> dict:
    for key, part in obj.fields.items():
        name = prefix + key
        if isinstance(part, Leaf):
            if part.spec.fact:
                into[name] = part.value()
        elif isinstance(part, Members):
            into[name], into[name + SEP + "count"] = part, _count(flow, part)
        elif isinstance(part, Obj):
            _flatten(flow, part, name + SEP, into)
        elif isinstance(part, Items):
            into[name] = ItemFacts(tuple((slot.present, _flatten(flow, slot.obj, "", {})) for slot in part.slots))
            into[name + SEP + "count"] = Value("number", part.count)
    return into


def _province(flow: SymbolicFlow, raw: Term) -> Term:
    table, terms = flow.table, flow.terms
    if is_known(raw):
        return table.province[raw]
    result: Term = 0
    for code in table.domain("code"):
        result = terms.ite(terms.compare("==", raw, code, "string"), table.province[code], result, "string")
    return result


def _choose(flow: SymbolicFlow, cases: list[tuple[Term, dict]], prefix: str) -> dict[str, Fact]:
    """The facts of the one case whose condition holds (at most one does), each key under ``prefix``; none
    is defined when no case holds."""
    terms, chosen = flow.terms, {}
    for key, first in cases[0][1].items():
        parts = [(condition, facts[key]) for condition, facts in cases]
        if isinstance(first, Members):
            held = {choice: terms.any([terms.all([condition, part.held[choice]]) for condition, part in parts])
                    for choice in first.held}
            chosen[prefix + key] = Members(first.path, first.spec, held)
            continue
        term = parts[-1][1].term
        for condition, part in reversed(parts[:-1]):
            term = terms.ite(condition, part.term, term, first.kind)
        defined = terms.any([terms.all([condition, part.defined]) for condition, part in parts])
        if first.kind == "number" and is_known(term):
            term = Fraction(term)
        chosen[prefix + key] = Value(first.kind, term, defined)
    return chosen
