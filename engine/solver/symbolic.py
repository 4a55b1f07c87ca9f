"""A flow as z3 terms: every field a variable, or the value it keeps, with the contract's validation.

Two uses. A remedy starts from a real flow: what may not change keeps its value (a constant, folded away),
what may change is a variable with the cost of changing it (an :class:`Edit`), and list items may be removed
or added where their costs allow. An analysis asks about every valid flow: every field is a variable.

Lists are unrolled. Products and payments have at most two items, so every slot is modelled. Data sharing
may have fifty; a query models as many slots as the conditions it decides have quantifiers over the list
(a satisfying flow needs no more witnesses), and a longer list repeats its first item, which changes no
quantifier (``some``, ``every``) and makes ``count`` what it says.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Union

import z3

from engine.flow import Flow
from engine.solver.shape import FieldSpec, fields_of
from engine.solver.strings import StringTable
from engine.solver.terms import Term, Terms, Value, is_known

__all__ = ["Edit", "Items", "Leaf", "Members", "Obj", "Slot", "SymbolicFlow", "cost_key"]

_VALUE_KIND = {"bool": "bool", "int": "number", "decimal": "number", "string": "string", "date": "date"}


def cost_key(path: tuple) -> str:
    """``("payments", 1, "apr")`` → ``payments.apr``: costs are declared per field, whatever the item."""
    return ".".join(part for part in path if isinstance(part, str))


@dataclass
class Leaf:
    """A scalar field. ``raw`` is what z3 decides: a bool, an integer count of units, a string's index, a
    day ordinal."""

    path: tuple
    spec: FieldSpec
    raw: Term
    defined: Term

    def value(self) -> Value:
        kind = _VALUE_KIND[self.spec.kind]
        raw = self.raw
        if kind == "number":
            raw = Fraction(raw, self.spec.scale) if is_known(raw) else z3.ToReal(raw) / self.spec.scale
        return Value(kind, raw, self.defined)


@dataclass
class Members:
    """A list of distinct enum values: which values it holds."""

    path: tuple
    spec: FieldSpec
    held: dict[str, Term]


@dataclass
class Obj:
    path: tuple
    fields: dict[str, Union[Leaf, Members, "Obj", "Items"]]  # by JSON key


@dataclass
class Slot:
    present: Term
    obj: Obj
    origin: int | None  # the item's index in the flow a remedy starts from; None for an added item


@dataclass
class Items:
    path: tuple
    spec: FieldSpec
    slots: list[Slot]
    count: Term  # a number


@dataclass
class Edit:
    """A change a remedy may make: one JSON Patch operation, what it costs, and when it is made."""

    op: str  # replace, add or remove
    path: tuple
    cost: int
    made: Term
    target: Union[Leaf, Members, Slot]


@dataclass
class SymbolicFlow:
    """Build with :meth:`from_flow` (a remedy) or :meth:`free` (an analysis)."""

    terms: Terms
    table: StringTable
    origin: dict | None = None  # the flow a remedy starts from, as JSON
    costs: dict[str, int | None] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)  # analysis: fields given a value, by cost key
    slots: dict[str, int] = field(default_factory=dict)  # analysis: slots per list
    reads: set[str] | None = None  # remedy: the fields rules read (None: all)
    constraints: list[tuple[str, Term]] = field(default_factory=list)  # (what the contract says, term)
    edits: list[Edit] = field(default_factory=list)
    # where z3 starts its search: a field at its value in the flow, an added item's field at the list's first
    # item's (so that a remedy changes what it must and an added item resembles the others)
    initial: list[tuple[z3.ExprRef, Any]] = field(default_factory=list)
    root: Obj | None = None

    @classmethod
    def from_flow(cls, terms: Terms, table: StringTable, flow: dict, costs: dict[str, int | None],
                  reads: set[str] | None = None) -> "SymbolicFlow":
        """``reads``: the fields (cost keys) some rule reads; changing any other field can change no decision."""
        built = cls(terms, table, origin=flow, costs=costs, reads=reads)
        built.root = built._object((), flow, fields_of(Flow), "keep")
        built._contract()
        return built

    @classmethod
    def free(cls, terms: Terms, table: StringTable, fixed: dict[str, Any], slots: dict[str, int],
             template: dict | None = None) -> "SymbolicFlow":
        """Every valid flow; z3 starts its search from ``template``, so a flow it finds resembles it."""
        built = cls(terms, table, fixed=fixed, slots=slots)
        built.root = built._object((), template, fields_of(Flow), "free")
        built._contract()
        return built

    # building -------------------------------------------------------------------------------------
    # ``mode``: "free", every field a variable (an analysis); "keep", a field of the flow keeps its value
    # unless a rule reads it and a cost is declared for changing it; "add", a field of an added item is a
    # variable if a rule reads it, else the value ``given`` (the list's first item) has
    def _object(self, path: tuple, given: dict | None, specs: tuple[FieldSpec, ...], mode: str) -> Obj:
        fields = {}
        for spec in specs:
            here, value = path + (spec.key,), None if given is None else given.get(spec.key)
            if spec.kind == "object":
                fields[spec.key] = self._object(here, value, fields_of(spec.model), mode)
            elif spec.kind == "items":
                fields[spec.key] = self._items(spec, here, value)
            elif spec.kind == "members":
                fields[spec.key] = self._members(spec, here, value, mode)
            elif spec.kind != "instant":
                fields[spec.key] = self._leaf(spec, here, value, mode)
        return Obj(path, fields)

    def _name(self, path: tuple) -> str:
        return "/".join(map(str, path))

    def _how(self, key: str, given: Any, mode: str) -> tuple[Any, bool, int | None]:
        """The value a field starts from, whether it is a variable, and the cost of changing it."""
        if key in self.fixed:
            return self.fixed[key], False, None
        if mode == "free":
            return given, True, None
        read = self.reads is None or key in self.reads
        if mode == "add":
            return given, read or given is None, None
        cost = self.costs.get(key) if read else None
        return given, cost is not None, cost

    def _leaf(self, spec: FieldSpec, path: tuple, given: Any, mode: str) -> Leaf:
        key = cost_key(path)
        given, variable, cost = self._how(key, given, mode)
        if not variable:
            return Leaf(path, spec, self.raw_of(spec, given), given is not None)
        ctx, name = self.terms.ctx, self._name(path)
        raw = z3.Bool(name, ctx) if spec.kind == "bool" else z3.Int(name, ctx)
        # a remedy never withholds a value the flow gives (it may give one the flow lacks)
        defined = z3.Bool(name + "?", ctx) if spec.nullable and (mode != "keep" or given is None) else True
        valid = self._domain(spec, raw)
        if mode == "keep" and given is not None:  # the flow's own value is valid, whatever the table thinks
            valid = self.terms.any([valid, raw == self.raw_of(spec, given)])
        self.constraints.append((f"{key}: a valid value", valid))
        leaf = Leaf(path, spec, raw, defined)
        if given is not None or spec.nullable:
            self.initial.append((raw, self.raw_of(spec, given)))
        if not is_known(defined):
            self.initial.append((defined, given is not None))
        if cost is not None:
            self.edits.append(Edit("replace", path, cost, self._differs(leaf, given), leaf))
        return leaf

    def raw_of(self, spec: FieldSpec, value: Any) -> Term:
        """A JSON value as the leaf's raw term (None gives a placeholder: the leaf is not defined)."""
        if value is None:
            return False if spec.kind == "bool" else 0
        if spec.kind == "decimal":
            return int(Fraction(repr(value)) * spec.scale)
        if spec.kind == "string":
            return self.table.index(value)
        if spec.kind == "date":
            return dt.date.fromisoformat(value).toordinal()
        return value

    def _domain(self, spec: FieldSpec, raw: z3.ExprRef) -> Term:
        if spec.kind == "bool":
            return True
        if spec.kind == "string":
            domain = self.table.domain(spec.domain)
            if domain == list(range(domain[0], domain[-1] + 1)):
                return z3.And(raw >= domain[0], raw <= domain[-1])
            return self.terms.any(raw == index for index in domain)
        return z3.And(raw >= spec.low, raw <= spec.high) if spec.high is not None else raw >= spec.low

    def _differs(self, leaf: Leaf, given: Any) -> Term:
        terms = self.terms
        if given is None:
            return leaf.defined
        same = terms.compare("==", leaf.raw, self.raw_of(leaf.spec, given), "bool" if leaf.spec.kind == "bool" else "")
        return terms.not_(terms.all([leaf.defined, same]))

    def _members(self, spec: FieldSpec, path: tuple, given: list | None, mode: str) -> Members:
        key = cost_key(path)
        given, variable, cost = self._how(key, given, mode)
        if not variable:
            return Members(path, spec, {choice: choice in given for choice in spec.choices})
        held = {choice: z3.Bool(f"{self._name(path)}:{choice}", self.terms.ctx) for choice in spec.choices}
        count = self.terms.count(held.values())
        self.constraints.append((f"{key}: {spec.low} to {spec.high} values", z3.And(count >= spec.low,
                                                                                       count <= spec.high)))
        members = Members(path, spec, held)
        if given is not None:
            self.initial += [(flag, choice in given) for choice, flag in held.items()]
        if cost is not None:
            changed = self.terms.any([flag != (choice in given) for choice, flag in held.items()])
            self.edits.append(Edit("replace", path, cost, changed, members))
        return members

    def _items(self, spec: FieldSpec, path: tuple, given: list | None) -> Items:
        terms, key, specs = self.terms, cost_key(path), fields_of(spec.model)
        if self.origin is None:
            size = min(self.slots.get(key, spec.high), spec.high)
            length = z3.Int(self._name(path) + "#", terms.ctx)
            self.constraints.append((f"{key}: {spec.low} to {spec.high} items",
                                     z3.And(length >= spec.low, length <= spec.high)))
            slots = [Slot(length > index, self._object(path + (index,), given[index] if index < len(given or ())
                                                       else None, specs, "free"), None) for index in range(size)]
            return Items(path, spec, slots, z3.ToReal(length))
        removable, addable = self.costs.get(key + ".remove"), self.costs.get(key + ".add")
        slots = []
        for index, item in enumerate(given):
            present = True if removable is None else z3.Bool(f"{self._name(path)}/{index}-", terms.ctx)
            first = len(self.edits)
            slots.append(Slot(present, self._object(path + (index,), item, specs, "keep"), index))
            for edit in self.edits[first:]:  # a removed item's fields are not changed
                edit.made = terms.all([present, edit.made])
            if removable is not None:
                self.initial.append((present, True))
                self.edits.append(Edit("remove", path + (index,), removable, z3.Not(present), slots[-1]))
        template = given[0] if given else None
        for extra in range(len(given), spec.high if addable is not None else len(given)):
            present = z3.Bool(f"{self._name(path)}/{extra}+", terms.ctx)
            self.initial.append((present, False))
            slots.append(Slot(present, self._object(path + (extra,), template, specs, "add"), None))
            self.edits.append(Edit("add", path, addable, present, slots[-1]))
        count = terms.count(slot.present for slot in slots)
        self.constraints.append((f"{key}: {spec.low} to {spec.high} items",
                                 terms.all([terms.compare(">=", count, spec.low, "number"),
                                            terms.compare("<=", count, spec.high, "number")])))
        return Items(path, spec, slots, count)

    # the contract's checks across fields (engine.flow.Flow's validators) --------------------------
    def _contract(self) -> None:
        terms = self.terms
        products, payments = self.root.fields["products"].slots, self.root.fields["payments"].slots
        for first, second in ((a, b) for index, a in enumerate(products) for b in products[index + 1:]):
            kinds = terms.compare("==", first.obj.fields["kind"].raw, second.obj.fields["kind"].raw, "string")
            self.constraints.append(("products: each kind appears once",
                                     terms.not_(terms.all([first.present, second.present, kinds]))))
        for kind in self.root.fields["payments"].slots[0].obj.fields["covers"].spec.choices:
            held = self.has_product(kind)
            paid = terms.count(terms.all([slot.present, slot.obj.fields["covers"].held[kind]]) for slot in payments)
            self.constraints.append(("payments: every product is covered by exactly one payment, and only "
                                     "products of the flow", terms.compare("==", paid, terms.ite(
                                         held, Fraction(1), Fraction(0), "number"), "number")))

    def has_product(self, kind: str) -> Term:
        terms, index = self.terms, self.table.index(kind)
        return terms.any(terms.all([slot.present, terms.compare("==", slot.obj.fields["kind"].raw, index, "string")])
                         for slot in self.root.fields["products"].slots)

    def start_search(self, solver: z3.Solver) -> None:
        """Have ``solver`` start from the values in :attr:`initial`."""
        for variable, value in self.initial:
            solver.set_initial_value(variable, self.terms.z3(value, "int"))

    # reading a model back --------------------------------------------------------------------------
    def decode(self, model: z3.ModelRef, instant: str | None = None) -> dict:
        """The flow a z3 model describes, as JSON (``instant`` is requested_at when the flow had none)."""
        flow = self.decode_object(self.root, model)
        flow["requested_at"] = self.origin["requested_at"] if self.origin is not None else instant
        return flow

    def evaluate(self, model: z3.ModelRef, term: Term) -> Any:
        if is_known(term):
            return term
        found = model.eval(term, model_completion=True)
        if z3.is_bool(found):
            return z3.is_true(found)
        return found.as_long() if z3.is_int_value(found) else found.as_fraction()

    def decode_leaf(self, leaf: Leaf, model: z3.ModelRef) -> Any:
        if not self.evaluate(model, leaf.defined):
            return None
        raw, kind = self.evaluate(model, leaf.raw), leaf.spec.kind
        if kind == "decimal":
            return float(Fraction(raw, leaf.spec.scale))
        if kind == "string":
            return self.table.values[raw]
        if kind == "date":
            return dt.date.fromordinal(raw).isoformat()
        return raw

    def decode_members(self, members: Members, model: z3.ModelRef, before: list | None = None) -> list:
        held = [choice for choice, flag in members.held.items() if self.evaluate(model, flag)]
        kept = [choice for choice in before or [] if choice in held]
        return kept + [choice for choice in held if choice not in kept]

    def decode_object(self, obj: Obj, model: z3.ModelRef) -> dict:
        out = {}
        for key, part in obj.fields.items():
            before = self.original(part.path)
            if isinstance(part, Leaf):
                out[key] = self.decode_leaf(part, model)
            elif isinstance(part, Members):
                out[key] = self.decode_members(part, model, before)
            elif isinstance(part, Obj):
                out[key] = self.decode_object(part, model)
            else:
                out[key] = self.decode_items(part, model)
        return out

    def decode_items(self, items: Items, model: z3.ModelRef) -> list:
        present = [slot for slot in items.slots if self.evaluate(model, slot.present)]
        decoded = [self.decode_object(slot.obj, model) for slot in present]
        length = int(self.evaluate(model, items.count)) if self.origin is None else len(decoded)
        return decoded + [dict(decoded[0]) for _ in range(length - len(decoded))]

    def original(self, path: tuple) -> Any:
        value = self.origin
        for part in path:
            if value is None:
                return None
            try:
                value = value[part]
            except (IndexError, KeyError, TypeError):
                return None
        return value
