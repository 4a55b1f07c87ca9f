"""The fact a matcher is given, built by a plan made once per rule tree: only the keys some rule reads.

:func:`engine.facts.flow_facts` flattens a whole flow by reflection (it is the reference the tests
compare with); a plan instead holds one small function per key some rule reads, list items
included, chosen when the rules load from each field's type (a date becomes its ordinal, a missing
value is left out), so deciding a flow does no reflection and writes nothing no rule reads.
"""
from __future__ import annotations

import operator
from typing import Any, Callable

from pydantic import BaseModel

from engine.facts import _JURISDICTION_FIELDS, SEP, _field_type, fact_fields, province
from engine.flow import Flow, Payment, Product, ProductKind
from rules.types import DATE, ListType

__all__ = ["fact_plan"]

Writer = Callable[[Any, dict], None]  # writes the keys of one part of a flow into the fact


def _field(name: str, key: str, is_date: bool) -> Writer:
    read = operator.attrgetter(name)
    if is_date:
        def date_field(model: Any, fact: dict) -> None:
            value = read(model)
            if value is not None:
                fact[key] = value.toordinal()
        return date_field

    def field(model: Any, fact: dict) -> None:
        value = read(model)
        if value is not None:  # absent keys are how the matchers see null
            fact[key] = value
    return field


def _scalars(name: str, key: str) -> Writer:
    read, count = operator.attrgetter(name), key + SEP + "count"

    def scalars(model: Any, fact: dict) -> None:
        values = read(model)
        fact[key] = list(values)
        fact[count] = len(values)
    return scalars


def _items(name: str, key: str, item: Callable[[Any], dict]) -> Writer:
    read, count = operator.attrgetter(name), key + SEP + "count"

    def items(model: Any, fact: dict) -> None:
        values = read(model)
        fact[key] = [item(value) for value in values]
        fact[count] = len(values)
    return items


def _nested(name: str, writers: list[Writer]) -> Writer:
    read = operator.attrgetter(name)

    def nested(model: Any, fact: dict) -> None:
        part = read(model)
        if part is not None:
            for write in writers:
                write(part, fact)
    return nested


def _builder(writers: list[Writer]) -> Callable[[Any], dict]:
    def build(model: Any) -> dict:
        fact: dict = {}
        for write in writers:
            write(model, fact)
        return fact
    return build


def _writers(model: type[BaseModel], prefix: str, wanted: set[str], items: dict[str, set[str]]) -> list[Writer]:
    """One writer per key of ``wanted`` this model's fields give (with ``prefix``), as engine.facts flattens."""
    writers: list[Writer] = []
    for name, key, annotation, nested, is_list in fact_fields(model, prefix):
        if nested is not None and not is_list:
            inner = _writers(nested, key + SEP, wanted, items)
            if inner:
                writers.append(_nested(name, inner))
        elif key not in wanted and key + SEP + "count" not in wanted:
            continue
        elif nested is not None:
            if any(inner is not None and inner_list for *_, inner, inner_list in fact_fields(nested, "")):
                raise TypeError(f"{key}: lists of objects inside list items are not flattened")
            writers.append(_items(name, key, _builder(_writers(nested, "", items.get(key, set()), {}))))
        elif isinstance(_field_type(annotation)[0], ListType):
            writers.append(_scalars(name, key))
        else:
            writers.append(_field(name, key, _field_type(annotation)[0] == DATE))
    return writers


def fact_plan(wanted: frozenset[str], items: dict[str, set[str]]) -> Callable[[Flow], dict]:
    """A function giving the flat fact (engine.facts) of a flow restricted to the ``wanted`` keys and, in
    list items, to ``items[list key]``."""
    writers = _writers(Flow, "", set(wanted), items)
    for path in _JURISDICTION_FIELDS:
        key = path.replace(".", SEP) + SEP + "province"
        if key in wanted:
            writers.append(_province(operator.attrgetter(path), key))
    for kind in (kind.value for kind in ProductKind):
        product = _writers(Product, f"product{SEP}{kind}{SEP}", set(wanted), {})
        payment = _writers(Payment, f"payment_for{SEP}{kind}{SEP}", set(wanted), {})
        has = f"has_product{SEP}{kind}" if f"has_product{SEP}{kind}" in wanted else None
        if product or payment or has:
            writers.append(_product(kind, product, payment, has))
    return _builder(writers)


def _province(read: Callable[[Any], str], key: str) -> Writer:
    def write(flow: Flow, fact: dict) -> None:
        fact[key] = province(read(flow))
    return write


def _product(kind: str, product: list[Writer], payment: list[Writer], has: str | None) -> Writer:
    """The keys of the flow's product of this kind (``product("ctpl").premium``) and of the payment covering it."""
    def write(flow: Flow, fact: dict) -> None:
        found = next((item for item in flow.products if item.kind == kind), None)
        if has is not None:
            fact[has] = found is not None
        if found is None:
            return
        for writer in product:
            writer(found, fact)
        paying = next((item for item in flow.payments if kind in item.covers), None) if payment else None
        if paying is not None:
            for writer in payment:
                writer(paying, fact)
    return write
