"""The HTTP API: one route table serves the app, its access control and /openapi.json.

Every answer that is not a 200 is a Problem (engine/service/problems.py); nothing a handler
raises reaches the client as anything else, and no traceback is ever sent.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from audit import AuditError, DecisionNotFound, get_decision
from engine.decision import Decision
from engine.errors import FieldError
from engine.flow import Flow
from engine.ruleview import EffectiveRuleSet, effective_rule_set
from engine.service import envelope
from engine.service.decider import Decider
from engine.service.eventlog import log_event, log_exception
from engine.service.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from engine.service.metrics import Metrics
from engine.service.models import (BatchRequest, BatchResponse, Health, OpaRequest, OpaResponse, Readiness,
                                   ReloadResult, StoredDecision)
from engine.service.openapi import openapi_document
from engine.service.problems import PROBLEM_MEDIA_TYPE, ServiceProblem
from rules.timestamps import parse_date, parse_timestamp

__all__ = ["DecisionApp"]

_DECISION_ID = re.compile(r"[0-9a-f]{32}")
_AS_OF = {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string"},
          "description": "decide under the rules in force at this RFC 3339 instant instead of requested_at "
                         "(a flow older than the service's --max-request-age needs it)"}
Handler = Callable[["DecisionApp", Request], Awaitable[Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    name: str
    summary: str
    role: str | None  # None: open even when tokens are configured
    handler: Handler
    body: type | None = None
    answer: type | None = None
    problems: tuple[int, ...] = ()
    parameters: list[dict] = field(default_factory=list)
    media_type: str | None = None
    links: dict = field(default_factory=dict)  # OpenAPI links from the 200 answer to other operations


def _json(content: bytes | str, status: int = 200, headers: dict | None = None) -> Response:
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def problem_response(problem: ServiceProblem) -> Response:
    return Response(problem.problem.model_dump_json(), status_code=problem.problem.status,
                    media_type=PROBLEM_MEDIA_TYPE, headers=problem.headers)


class DecisionApp:
    """The ASGI app of one worker, around its Decider."""

    def __init__(self, decider: Decider, metrics: Metrics, on_reload: Callable[[], None] = lambda: None):
        self.decider = decider
        self.settings = decider.settings
        self.metrics = metrics
        self.on_reload = on_reload  # tells the other workers to reload too
        self.executor = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="licit-blocking")
        self._openapi = json.dumps(openapi_document(ENDPOINTS, self.settings.tokens.enabled)).encode()
        self.metrics.rules_in_force(decider.digests)
        routes = [Route(endpoint.path, self._wrap(endpoint), methods=[endpoint.method], name=endpoint.name)
                  for endpoint in ENDPOINTS]
        self.asgi = Starlette(routes=routes, exception_handlers={HTTPException: self._unrouted})

    async def __call__(self, scope, receive, send) -> None:
        await self.asgi(scope, receive, send)

    async def run(self, function, *args):
        """Run blocking work (a reload, a log read) on this worker's threads."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, functools.partial(function, *args))

    def close(self) -> None:
        self.executor.shutdown(wait=True)

    async def reload(self, trigger: str):
        outcome = await self.run(self.decider.reload, trigger)
        self.metrics.reloads.labels("reloaded" if outcome.reloaded else "refused").inc()
        if outcome.reloaded:
            self.metrics.rules_in_force(outcome.digests)
        return outcome

    # plumbing ----------------------------------------------------------------
    def _wrap(self, endpoint: Endpoint):
        async def handle(request: Request) -> Response:
            started = time.perf_counter()
            request.state.log = {}
            try:
                self._authorize(request, endpoint.role)
                response = await endpoint.handler(self, request)
            except ServiceProblem as problem:
                response = problem_response(problem)
                if problem.problem.errors:
                    request.state.log["error_paths"] = _loggable_paths(problem.problem.errors)
                request.state.log["code"] = problem.problem.code
            except Exception as error:  # a bug: answered as a problem, logged without its message
                log_exception("request_failed", error, route=endpoint.path)
                response = problem_response(ServiceProblem(500, "internal_error", "internal error; nothing was "
                                                           "decided or logged for this request"))
            self._record(request, endpoint.name, endpoint.path, response.status_code, started)
            return response
        return handle

    async def _unrouted(self, request: Request, error: HTTPException) -> Response:
        codes = {404: ("not_found", "no such route"), 405: ("method_not_allowed", "method not allowed here")}
        code, title = codes.get(error.status_code, ("bad_request", str(error.detail)))
        request.state.log = {}
        self._record(request, "unrouted", None, error.status_code, time.perf_counter())
        return problem_response(ServiceProblem(error.status_code, code, title, headers=dict(error.headers or {})))

    def _record(self, request: Request, name: str, path: str | None, status: int, started: float) -> None:
        self.metrics.requests.labels(name, str(status)).inc()
        if self.settings.access_log:
            log_event("request", method=request.method, route=path or "(none)", status=status,
                      ms=round((time.perf_counter() - started) * 1000, 2), **request.state.log)

    def _authorize(self, request: Request, role: str | None) -> None:
        tokens = self.settings.tokens
        if role is None or not tokens.enabled:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceProblem(401, "unauthorized", "a bearer token is required",
                                 headers={"WWW-Authenticate": 'Bearer realm="licit"'})
        roles = tokens.roles(token.strip())
        if not roles:
            raise ServiceProblem(401, "unauthorized", "the bearer token is not valid",
                                 headers={"WWW-Authenticate": 'Bearer realm="licit", error="invalid_token"'})
        if role not in roles:
            raise ServiceProblem(403, "forbidden", f"the token does not have the role {role!r}")

    async def _body(self, request: Request) -> bytes:
        """The body, reading no more than the limit (plus one chunk) before refusing it."""
        limit = self.settings.max_body_bytes
        too_large = ServiceProblem(413, "payload_too_large", f"the body is larger than {limit} bytes",
                                   headers={"Connection": "close"})
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
        return b"".join(chunks)

    async def _decide(self, request: Request, flow: bytes | dict, flaws: list[FieldError],
                      as_of: dt.datetime | None) -> Decision:
        if flaws:
            raise ServiceProblem(422, "invalid_flow", "the flow is not valid: every field error is listed", flaws)
        started = time.perf_counter()
        try:
            decision = await self.decider.decide(flow, as_of)
        except ServiceProblem as problem:
            if problem.problem.code == "log_unavailable":
                self.metrics.log_write_failures.inc()
            raise
        self.metrics.decision_seconds.observe(time.perf_counter() - started)
        self.metrics.decisions.labels(decision.jurisdiction, decision.outcome).inc()
        return decision


def _loggable_paths(errors) -> list[str]:
    """Field paths, for the service's log. Messages stay out (they may quote a value), and so does the
    name of an unknown field, which the client chose and might be an identifier."""
    paths = []
    for error in errors[:20]:
        parent = error.path.rpartition(".")[0]
        unknown = error.message.startswith("unknown field")
        paths.append((parent + "." if parent else "") + "(unknown)" if unknown else error.path)
    return paths


def _as_of(request: Request) -> dt.datetime | None:
    text = request.query_params.get("as_of")
    if text is None:
        return None
    try:
        return parse_timestamp(text)
    except ValueError as error:
        raise ServiceProblem(422, "invalid_parameter", "invalid query parameter",
                             [FieldError("as_of", str(error))]) from None


def _decision_log(request: Request, decision: Decision) -> None:
    request.state.log.update(decision_id=decision.decision_id, jurisdiction=decision.jurisdiction,
                             outcome=decision.outcome, rules=[finding.rule_id for finding in decision.findings])


# handlers --------------------------------------------------------------------
async def evaluate(app: DecisionApp, request: Request) -> Response:
    as_of = _as_of(request)
    decision = await app._decide(request, await app._body(request), [], as_of)
    _decision_log(request, decision)
    return _json(decision.model_dump_json())


async def evaluate_batch(app: DecisionApp, request: Request) -> Response:
    as_of = _as_of(request)
    flows = envelope.batch_flows(await app._body(request), app.settings.max_batch)

    async def one(flow, flaws) -> str:
        try:
            decision = await app._decide(request, flow, flaws, as_of)
        except ServiceProblem as problem:
            return f'{{"status":{problem.problem.status},"error":{problem.problem.model_dump_json()}}}'
        return '{"status":200,"decision":' + decision.model_dump_json() + "}"

    results = await asyncio.gather(*(one(flow, flaws) for flow, flaws in flows))
    request.state.log["flows"] = len(results)
    return _json('{"results":[' + ",".join(results) + "]}")


async def opa_decision(app: DecisionApp, request: Request) -> Response:
    flow, flaws = envelope.opa_input(await app._body(request))
    decision = await app._decide(request, flow, flaws, None)
    _decision_log(request, decision)
    return _json('{"decision_id":"' + decision.decision_id + '","result":' + decision.model_dump_json() + "}")


async def stored_decision(app: DecisionApp, request: Request) -> Response:
    decision_id = request.path_params["decision_id"]
    if not _DECISION_ID.fullmatch(decision_id):
        raise ServiceProblem(404, "not_found", "no such decision: a decision id is 32 lowercase hex digits")
    try:
        record = await app.run(get_decision, app.settings.audit_db, decision_id)
    except DecisionNotFound:
        raise ServiceProblem(404, "not_found", f"no decision {decision_id} in the log") from None
    except AuditError as error:
        log_event("log_read_failed", level="error", reason=str(error))
        raise ServiceProblem(503, "log_unavailable", "the decision log cannot be read now") from None
    return _json(json.dumps(record, ensure_ascii=False))


async def rules_in_force(app: DecisionApp, request: Request) -> Response:
    engine = app.decider.engine
    code = request.query_params.get("jurisdiction")
    if not code:
        raise ServiceProblem(422, "invalid_parameter", "invalid query parameter",
                             [FieldError("jurisdiction", "required query parameter is missing")])
    if code not in engine.tree.compiled:
        raise ServiceProblem(422, "invalid_parameter", "invalid query parameter", [FieldError(
            "jurisdiction", f"no rule pack for {code!r}; known: {', '.join(engine.jurisdictions)}")])
    compiled = engine.tree.compiled[code]
    text = request.query_params.get("as_of")
    try:
        day = (compiled.local_date(dt.datetime.now(dt.timezone.utc)) if text is None else
               parse_date(text) if len(text) == 10 else compiled.local_date(parse_timestamp(text)))
    except ValueError as error:
        raise ServiceProblem(422, "invalid_parameter", "invalid query parameter",
                             [FieldError("as_of", f"{error} (or a date like 2026-11-24)")]) from None
    return _json(effective_rule_set(engine.tree, code, day).model_dump_json())


async def reload_rules(app: DecisionApp, request: Request) -> Response:
    outcome = await app.reload("http")
    if not outcome.reloaded:
        raise ServiceProblem(422, "rules_refused", f"the rule tree at {app.settings.rules_dir} does not load "
                             f"({len(outcome.errors)} errors); the rules loaded at {outcome.loaded_at} stay in force",
                             outcome.errors)
    app.on_reload()
    return _json(ReloadResult(reloaded=True, loaded_at=outcome.loaded_at, digests=outcome.digests).model_dump_json())


async def health(app: DecisionApp, request: Request) -> Response:
    return _json(b'{"status":"ok"}')


async def ready(app: DecisionApp, request: Request) -> Response:
    reasons = app.decider.not_ready()
    return _json(Readiness(ready=not reasons, reasons=reasons).model_dump_json(), 503 if reasons else 200)


async def metrics(app: DecisionApp, request: Request) -> Response:
    return Response(await app.run(app.metrics.exposition), media_type=METRICS_CONTENT_TYPE)


async def openapi(app: DecisionApp, request: Request) -> Response:
    return _json(app._openapi)


async def docs(app: DecisionApp, request: Request) -> Response:
    return HTMLResponse(_DOCS_PAGE)


_DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Licit decision service</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"});</script></body></html>
"""

_AUTH = (401, 403)
_LOGGED = {"StoredDecision": {"operationId": "stored_decision", "description": "the decision as logged",
                              "parameters": {"decision_id": "$response.body#/decision_id"}}}
ENDPOINTS = [
    Endpoint("POST", "/v1/evaluate", "evaluate", "Decide a flow; the decision is logged before it is returned",
             "evaluate", evaluate, Flow, Decision, (*_AUTH, 413, 422, 503), [_AS_OF], links=_LOGGED),
    Endpoint("POST", "/v1/evaluate/batch", "evaluate_batch", "Decide several flows, each on its own",
             "evaluate", evaluate_batch, BatchRequest, BatchResponse, (*_AUTH, 413, 422), [_AS_OF]),
    Endpoint("POST", "/v1/data/licit/decision", "opa_decision", "OPA Data API: {input: flow} → {result: decision}",
             "evaluate", opa_decision, OpaRequest, OpaResponse, (*_AUTH, 413, 422, 503), links=_LOGGED),
    Endpoint("GET", "/v1/decisions/{decision_id}", "stored_decision",
             "A logged decision, with whether its link in the hash chain verifies", "audit", stored_decision,
             answer=StoredDecision, problems=(*_AUTH, 404, 503),
             parameters=[{"name": "decision_id", "in": "path", "required": True, "schema": {"type": "string"}}]),
    Endpoint("GET", "/v1/rules", "rules_in_force", "The effective rules of a jurisdiction on a day, with citations",
             "audit", rules_in_force, answer=EffectiveRuleSet, problems=(*_AUTH, 422), parameters=[
                 {"name": "jurisdiction", "in": "query", "required": True, "schema": {"type": "string"}},
                 {"name": "as_of", "in": "query", "required": False, "schema": {"type": "string"},
                  "description": "a date (YYYY-MM-DD) or RFC 3339 instant; default: today in the jurisdiction"}]),
    Endpoint("POST", "/v1/rules/reload", "reload_rules",
             "Load the rule tree again; a tree that does not load whole is refused and the last good one kept",
             "admin", reload_rules, answer=ReloadResult, problems=(*_AUTH, 422)),
    Endpoint("GET", "/health", "health", "The process answers", None, health, answer=Health),
    Endpoint("GET", "/ready", "ready", "Rules loaded and the log taking decisions", None, ready, answer=Readiness,
             problems=(503,)),
    Endpoint("GET", "/metrics", "metrics", "Prometheus text", "audit", metrics, problems=_AUTH,
             media_type="text/plain"),
    Endpoint("GET", "/openapi.json", "openapi", "This document", None, openapi),
    Endpoint("GET", "/docs", "docs", "Interactive documentation of this API", None, docs, media_type="text/html"),
]
