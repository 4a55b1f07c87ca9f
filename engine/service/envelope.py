"""The JSON around flows in a batch (``{"flows": [...]}``) and in an OPA query (``{"input": flow}``).

The envelope is read with the flow reader's JSON rules (a repeated key, an overlong integer);
a flaw inside one flow becomes that flow's error, with the path ``licit evaluate`` would give it.
"""
from __future__ import annotations

from engine.errors import FieldError, FlowValidationError
from engine.inputs import json_document
from engine.service.problems import ServiceProblem

__all__ = ["batch_flows", "opa_input"]

Flaws = list[FieldError]


def _read(body: bytes, what: str) -> tuple[object, Flaws]:
    try:
        document, flaws = json_document(body, "(body)", limit=None)  # the service has bounded the body
    except FlowValidationError as error:
        raise _invalid(what, error.errors) from None
    if not isinstance(document, dict):
        raise _invalid(what, [FieldError("(body)", "the body is a JSON object")])
    return document, flaws


def _invalid(what: str, errors: Flaws) -> ServiceProblem:
    return ServiceProblem(422, "invalid_body", f"the {what} is not valid: every field error is listed", errors)


def _under(path: str, prefix: str) -> bool:
    return path.startswith(prefix) and path[len(prefix):len(prefix) + 1] in (".", "[")


def _within(flaws: Flaws, prefix: str) -> Flaws:
    """The flaws under ``prefix``, with paths relative to it (a flow's own paths)."""
    return [FieldError(flaw.path[len(prefix):].lstrip("."), flaw.message) for flaw in flaws
            if _under(flaw.path, prefix)]


def _outside(document: dict, flaws: Flaws, allowed: str, what: str) -> None:
    errors = [FieldError(key, "unknown field") for key in document if key != allowed]
    errors += [flaw for flaw in flaws if not _under(flaw.path, allowed)]
    if allowed not in document:
        errors.append(FieldError(allowed, "required field is missing"))
    if errors:
        raise _invalid(what, sorted(errors, key=lambda error: error.path))


def batch_flows(body: bytes, max_flows: int) -> list[tuple[object, Flaws]]:
    """Each flow of a batch with its own flaws; the envelope's own errors refuse the batch."""
    document, flaws = _read(body, "batch")
    _outside(document, flaws, "flows", "batch")
    flows = document["flows"]
    if not isinstance(flows, list) or not flows:
        raise _invalid("batch", [FieldError("flows", "a non-empty array of flows")])
    if len(flows) > max_flows:
        raise _invalid("batch", [FieldError("flows", f"at most {max_flows} flows in one batch, got {len(flows)}")])
    return [(flow, _within(flaws, f"flows[{index}]")) for index, flow in enumerate(flows)]


def opa_input(body: bytes) -> tuple[object, Flaws]:
    """The flow of an OPA query, and its flaws."""
    document, flaws = _read(body, "query")
    _outside(document, flaws, "input", "query")
    return document["input"], _within(flaws, "input")
