"""The fast validation path (engine/fastflow.py) accepts only what the exact model accepts, as the same model."""
import copy
import math
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from engine import fastflow
from engine.flow import ChannelKind, Flow, ProductKind
from tests.strategies import flows

ODD_VALUES = [None, True, False, 0, -1, 1, 2, 1.5, 0.001, 10**9, math.nan, math.inf, "", "x" * 201, "agent", "ctpl",
              "display", Decimal("950.001"), Decimal("950.000000000000000001"), Decimal("0.1234567"),
              Decimal("1E+2"), [], {}, ["display", "display"], ["ctpl", "ctpl"], "2026-11-24 10:15:00+08:00",
              "2026-11-24T10:15:00", 1764547200, ChannelKind.agent, ProductKind.ctpl, "CN-ZZ\n", "2026-02-30"]


def _leaves(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, path + (key,))
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for index, item in enumerate(value):
            yield from _leaves(item, path + (index,))
    yield path


def _errors(error: ValidationError) -> list[tuple]:
    return [(item["type"], item["loc"], item["msg"]) for item in error.errors(include_url=False)]


def _exact(flow: dict):
    try:
        return Flow.model_validate(flow)
    except ValidationError as error:
        return _errors(error)


def test_the_fast_path_is_in_use(compliant_flow):
    """Else every test below compares the model with itself: its validator must not be the model's own,
    which the model's Python calls would show by refusing a repeated value."""
    compliant_flow["channel"]["platform_activities"].append("display")
    fast = fastflow._FAST.validate_python(compliant_flow)
    assert not fastflow._whole_flow_holds(compliant_flow, fast)
    assert Flow.__pydantic_complete__ and all(model.__pydantic_complete__ for model in fastflow._models(
        Flow.__pydantic_core_schema__))


@settings(max_examples=300, deadline=None)
@given(flow=flows())
def test_valid_flows_become_the_same_model(flow):
    fast = fastflow._FAST.validate_python(flow)
    assert fastflow._whole_flow_holds(flow, fast)
    exact = Flow.model_validate(flow)
    assert fast == exact and fast.model_fields_set == exact.model_fields_set
    assert fast.model_dump(mode="json", by_alias=True) == exact.model_dump(mode="json", by_alias=True)
    assert fastflow.validate_flow(flow) == exact


def _repeat(values: list) -> None:
    values.extend(values[:1] or ["ctpl"])


def _cross(flow: dict, data, choice: str) -> None:
    """A break of the checks across products and payments, or of a list's uniqueness or an amount's precision."""
    products, payments = flow["products"], flow["payments"]
    if choice == "kinds":
        products[-1]["kind"] = products[0]["kind"]
    elif choice == "same kind twice":
        products[:] = [products[0], copy.deepcopy(products[0])]
        payments[:] = [dict(payments[0], covers=[products[0]["kind"]])]
    elif choice == "uncovered":
        payments[0]["covers"] = [kind for kind in payments[0]["covers"] if kind != products[0]["kind"]] or ["x"]
    elif choice == "twice":
        payments.append(copy.deepcopy(payments[0]))
    elif choice == "foreign":
        payments[-1]["covers"] = ["ctpl", "commercial"]
    elif choice == "identifiers":
        item, field = data.draw(st.sampled_from([(flow, "flow_id"), (flow["channel"], "platform_id"),
                                                 (flow["channel"], "pilot_id"), (flow["insurer"], "id"),
                                                 (payments[-1], "provider")]))
        item[field] = data.draw(st.sampled_from(["F-1\n", "a\tb", "x\x00", "ok", "\u200bz", "中文"]))
    elif choice == "lists":
        _repeat(data.draw(st.sampled_from([flow["channel"]["platform_activities"],
                                           flow["channel"]["platform_licenses"], payments[0]["covers"],
                                           *(sharing["categories"] for sharing in flow["data_sharing"])])))
    else:
        item, field = data.draw(st.sampled_from([(products[0], "premium"), (products[-1], "pricing_factor"),
                                                 (payments[0], "apr")]))
        item[field] = data.draw(st.sampled_from([Decimal("950.001"), Decimal("950.000000000000000001"),
                                                 Decimal("0.1234567"), Decimal("0.12345"), 950.001, 0.1234567,
                                                 Decimal("0.10"), 0.5]))


MUTATIONS = ["kinds", "same kind twice", "uncovered", "twice", "foreign", "lists", "places", "identifiers"]


def _compare(mutated: dict) -> None:
    """If the fast path accepts ``mutated``, the model accepts it as the same; validate_flow is the model."""
    exact = _exact(mutated)
    try:
        fast = fastflow._FAST.validate_python(mutated)
    except ValidationError:
        fast = None
    if fast is not None and fastflow._whole_flow_holds(mutated, fast):
        assert isinstance(exact, Flow), exact
        assert fast.model_dump(mode="json", by_alias=True) == exact.model_dump(mode="json", by_alias=True)
    if isinstance(exact, Flow):
        assert fastflow.validate_flow(mutated) == exact
    else:
        try:
            fastflow.validate_flow(mutated)
        except ValidationError as error:
            assert _errors(error) == exact
        else:
            raise AssertionError(f"accepted what the model refuses: {exact}")


@pytest.mark.parametrize("mutation", MUTATIONS)
@settings(max_examples=60, deadline=None)
@given(flow=flows(), data=st.data())
def test_what_the_whole_flow_check_stands_for_is_refused_as_the_model_does(mutation, flow, data):
    mutated = copy.deepcopy(flow)
    _cross(mutated, data, mutation)
    _compare(mutated)


@settings(max_examples=1000, deadline=None)
@given(flow=flows(), data=st.data())
def test_what_the_fast_path_accepts_the_model_accepts_alike(flow, data):
    mutated = copy.deepcopy(flow)
    for _ in range(data.draw(st.integers(1, 3))):
        path = data.draw(st.sampled_from([path for path in _leaves(mutated) if path]))
        parent = mutated
        for part in path[:-1]:
            parent = parent[part]
        action = data.draw(st.sampled_from(["set", "set", "set", "delete", "extra"]))
        if action == "set":
            parent[path[-1]] = data.draw(st.sampled_from(ODD_VALUES))
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "extra" and isinstance(parent, dict):
            parent["extra_field"] = 1
    _compare(mutated)
