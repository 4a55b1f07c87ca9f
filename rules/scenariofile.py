"""The scenario-test file format: its models, its JSON Schema for editors, and the
field paths (``payments[1].apr``) with which cases change a base flow. How files
are found and their cases become runnable flows is rules.scenarios."""
from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, WithJsonSchema

from rules.checker import suggest
from rules.schema import ActionCode, RuleId, Text

__all__ = ["CaseSpec", "Expectation", "ScenarioFile", "field_container", "parse_field_path", "scenario_json_schema",
           "set_field", "show_field_path"]

_FIELD_PATH = r"^[A-Za-z_][A-Za-z0-9_]*(\[\d+\])*(\.[A-Za-z_][A-Za-z0-9_]*(\[\d+\])*)*$"
_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")

FieldPath = Annotated[str, StringConstraints(pattern=_FIELD_PATH)]
_FLOW_NAME = r"^[a-z0-9][a-z0-9_-]*$"
FlowName = Annotated[str, StringConstraints(pattern=_FLOW_NAME)]
# Marked so scenario_json_schema() can point editors at the flow's own schema.
_FLOW_MARK = {"x-licit": "flow"}
FlowMapping = Annotated[dict[str, Any], WithJsonSchema(_FLOW_MARK)]


def _flow_reference(value: Any) -> Any:
    # checked here so a bad base gets one message rather than one per member of the union
    if isinstance(value, dict) or (isinstance(value, str) and re.fullmatch(_FLOW_NAME, value)):
        return value
    raise ValueError("base is the name of a flow (lowercase letters, digits, - and _) or a full flow mapping")


BaseFlow = Annotated[FlowName | FlowMapping, BeforeValidator(_flow_reference)]


def _instant(value: Any) -> Any:
    # A date means noon, local time of the case's jurisdiction: the day is what rules are dated by.
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value) if len(value) == 10 else dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("expected a date like 2021-02-01 or a timestamp like 2021-02-01T10:00:00+08:00") from None
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        raise ValueError("a timestamp needs a UTC offset, like 2021-02-01T10:00:00+08:00")
    if not isinstance(value, dt.date):
        raise ValueError("expected a date like 2021-02-01 or a timestamp like 2021-02-01T10:00:00+08:00")
    return value


Instant = Annotated[dt.datetime | dt.date, BeforeValidator(_instant)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Expectation(_Model):
    """What the decision must say. Rule ids not listed in ``fires`` may fire too."""

    outcome: Literal["deny", "review", "conditional", "allow"]
    fires: list[RuleId] = Field([], description="rule ids that must fire")
    not_fires: list[RuleId] = Field([], description="rule ids that must not fire (a near miss)")
    obligations: list[ActionCode] = Field([], description="obligation actions the decision must carry")


class CaseSpec(_Model):
    """One case: a flow (the base with changes) and the decision it must get."""

    name: Text
    base: BaseFlow | None = Field(None, description="overrides the file's base for this case")
    set: dict[FieldPath, Any] = Field({}, description='field path -> new value, e.g. "payments[1].apr": 0.3')
    remove: list[FieldPath] = Field([], description="list items to drop, e.g. products[1]; applied after set")
    requested_at: Instant | None = Field(None, description="date or timestamp of the flow (a date: noon, local time)")
    as_of: Instant | None = Field(None, description="decide under the rules in force then instead of requested_at")
    expect: Expectation


class ScenarioFile(_Model):
    """A scenario test file in a jurisdiction's tests/ folder."""

    base: BaseFlow | None = Field(None, description="the flow every case starts from: a name or a full flow")
    flows: dict[FlowName, FlowMapping] = Field({}, description="named full flows, for this folder and the ones below")
    cases: list[CaseSpec] = []


def scenario_json_schema(flow_schema: dict | None = None) -> dict:
    """JSON Schema of scenario files; pass the flow's schema so editors complete base flows too."""
    schema = _point_at_flow(ScenarioFile.model_json_schema(by_alias=True))
    definitions = schema.setdefault("$defs", {})
    if flow_schema is None:
        definitions["Flow"] = {"type": "object", "description": "a full enrollment flow"}
        return schema
    flow_schema = dict(flow_schema)
    clashes = set(flow_schema.get("$defs", {})) & set(definitions)
    if clashes:
        raise ValueError(f"flow schema definitions clash with scenario ones: {sorted(clashes)}")
    definitions.update(flow_schema.pop("$defs", {}))
    definitions["Flow"] = flow_schema
    return schema


def _point_at_flow(schema: Any) -> Any:
    if schema == _FLOW_MARK:
        return {"$ref": "#/$defs/Flow"}
    if isinstance(schema, dict):
        return {key: _point_at_flow(value) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_point_at_flow(value) for value in schema]
    return schema


# field paths -------------------------------------------------------------------------------------------
def parse_field_path(text: str) -> tuple[str | int, ...]:
    """``payments[1].apr`` → ("payments", 1, "apr"); raises ValueError on anything else."""
    if not re.fullmatch(_FIELD_PATH, text):
        raise ValueError(f"{text!r} is not a field path like applicant.age or payments[1].apr")
    return tuple(name if name else int(index) for name, index in _STEP.findall(text))


def show_field_path(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(flow)"


def field_container(flow: Any, path: tuple, *, growing: bool) -> tuple[Any, Any]:
    """The mapping or list holding ``path``'s last step, and that step; ValueError if it is not there."""
    current = flow
    for depth, step in enumerate(path):
        last = depth == len(path) - 1
        where = show_field_path(path[:depth]) if depth else "the flow"
        if isinstance(step, int):
            if not isinstance(current, list):
                raise ValueError(f"{where} is not a list")
            limit = len(current) + (1 if last and growing else 0)
            if step >= limit:
                raise ValueError(f"{where} has {len(current)} items")
        else:
            if not isinstance(current, dict):
                raise ValueError(f"{where} has no fields")
            if step not in current:
                raise ValueError(f"{where} has no field {step!r}{suggest(step, current)}")
        if last:
            return current, step
        current = current[step]
    raise ValueError("empty field path")


def set_field(flow: dict, path: tuple, value: Any) -> None:
    container, step = field_container(flow, path, growing=True)
    if isinstance(step, int) and step == len(container):
        container.append(value)
    else:
        container[step] = value
