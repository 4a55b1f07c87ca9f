"""/openapi.json, made from the route table and the same pydantic models as the contract: the
schemas of Flow and Decision here are those `licit schema flow|decision` prints."""
from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from engine.core import ENGINE_VERSION
from engine.service.problems import PROBLEM_MEDIA_TYPE, Problem

__all__ = ["openapi_document"]

_REF = "#/components/schemas/{model}"
_STATUS_TEXT = {200: "OK", 401: "no valid bearer token", 403: "the token lacks the role",
                404: "not found", 413: "body over the size limit", 422: "invalid input: every field error",
                503: "not decided: the decision could not be logged, or not ready"}


def openapi_document(endpoints: list, tokens_enabled: bool) -> dict[str, Any]:
    models = {model for endpoint in endpoints for model in (endpoint.body, endpoint.answer) if model is not None}
    models.add(Problem)
    refs, schemas = models_json_schema([(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
                                       ref_template=_REF, by_alias=True)
    paths: dict[str, dict] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {"operationId": endpoint.name, "summary": endpoint.summary,
                                     "responses": _responses(endpoint, refs)}
        if endpoint.parameters:
            operation["parameters"] = endpoint.parameters
        if endpoint.body is not None:
            operation["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": refs[(endpoint.body, "validation")]}}}
        if endpoint.role is not None and tokens_enabled:
            operation["security"] = [{"bearer": [endpoint.role]}]
            operation["description"] = f"Needs a bearer token with the role `{endpoint.role}`."
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    document = {
        "openapi": "3.1.0",
        "info": {"title": "Licit decision service", "version": ENGINE_VERSION,
                 "description": "Decides insurance enrollment flows against jurisdiction rule packs; "
                                "every decision returned is in the decision log."},
        "paths": paths,
        "components": {"schemas": schemas.get("$defs", {})},
    }
    if tokens_enabled:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document


def _responses(endpoint, refs) -> dict[str, Any]:
    problem = {PROBLEM_MEDIA_TYPE: {"schema": refs[(Problem, "validation")]}}
    answer = {"description": _STATUS_TEXT[200]}
    if endpoint.answer is not None:
        answer["content"] = {"application/json": {"schema": refs[(endpoint.answer, "validation")]}}
    elif endpoint.media_type:
        answer["content"] = {endpoint.media_type: {"schema": {"type": "string"}}}
    if endpoint.links:
        answer["links"] = endpoint.links
    responses = {"200": answer}
    for status in endpoint.problems:
        responses[str(status)] = {"description": _STATUS_TEXT[status], "content": problem}
    return responses
