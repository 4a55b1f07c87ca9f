"""Each endpoint of `licit serve`, through a real HTTP client against a real server."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import PACKS, example, fresh, licit, log_count

from engine import Engine
from engine.ruleview import effective_rule_set
from engine.service.models import StoredDecision

EXPECTED = json.loads((PACKS.parent / "examples" / "expected.json").read_text())


@pytest.fixture(scope="module")
def engine():
    with Engine(PACKS) as engine:
        yield engine


def _comparable(decision: dict) -> dict:
    return {key: value for key, value in decision.items() if key not in ("decision_id", "evaluated_at")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_evaluate_answers_the_engines_decision(shared_server, engine, name):
    flow = fresh(example(name))
    response = shared_server.post("/v1/evaluate", flow)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    decision = response.json()
    assert decision["outcome"] == EXPECTED[name]["outcome"]
    assert _comparable(decision) == _comparable(engine.evaluate(flow).model_dump(mode="json"))


def test_the_built_in_matcher_serves_the_same_decisions(start_server, engine):
    server = start_server("--matcher", "python")
    assert server.events("listening")[0]["matcher"] == "python"
    for name in sorted(EXPECTED):
        flow = fresh(example(name))
        response = server.post("/v1/evaluate", flow)
        assert response.status_code == 200
        assert _comparable(response.json()) == _comparable(engine.evaluate(flow).model_dump(mode="json"))


def test_a_matcher_that_is_not_one_stops_serve_with_exit_2():
    result = licit("serve", "--port", "0", "--matcher", "rete")
    assert result.returncode == 2 and "rete" in result.stderr and "Traceback" not in result.stderr


def test_every_returned_decision_is_in_the_log_with_a_verified_link(shared_server):
    decision = shared_server.post("/v1/evaluate", fresh(example("student-on-credit"))).json()
    stored = shared_server.client.get(f"/v1/decisions/{decision['decision_id']}")
    assert stored.status_code == 200
    record = stored.json()
    assert record["decision"] == decision
    assert record["chain_link_verified"] is True and record["chain_link_problem"] is None
    assert record["flow"]["applicant"]["id_number"].startswith("hmac-sha256:")
    StoredDecision.model_validate(record)  # what /openapi.json documents


def test_as_of_decides_under_the_rules_of_another_instant(shared_server):
    flow = fresh(example("apr-not-disclosed"))
    response = shared_server.post("/v1/evaluate", flow, params={"as_of": "2021-01-01T00:00:00+08:00"})
    assert response.status_code == 200
    assert response.json()["as_of"] == "2021-01-01T00:00:00+08:00"
    bad = shared_server.post("/v1/evaluate", flow, params={"as_of": "2021-01-01"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["path"] == "as_of"


def test_unknown_or_malformed_decision_ids_are_404(shared_server):
    for decision_id in ("0" * 32, "not-an-id", "../../etc/passwd"):
        response = shared_server.client.get(f"/v1/decisions/{decision_id}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_batch_answers_each_flow_on_its_own_in_order(shared_server):
    good, bad = fresh(example("student-on-credit")), fresh(example("baitiao-split-compliant"))
    del bad["applicant"]["age"]
    bad["payments"][0]["apr"] = "x"
    before = log_count(shared_server.log_path)
    response = shared_server.post("/v1/evaluate/batch", {"flows": [good, bad, 7, good]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [item["status"] for item in results] == [200, 422, 422, 200]
    assert results[0]["decision"]["outcome"] == "deny" and results[3]["decision"]["outcome"] == "deny"
    assert results[0]["decision"]["decision_id"] != results[3]["decision"]["decision_id"]
    assert {error["path"] for error in results[1]["error"]["errors"]} == {"applicant.age", "payments[0].apr"}
    assert results[2]["error"]["errors"] == [{"path": "(flow)", "message": "a flow is a JSON object, not a number"}]
    assert log_count(shared_server.log_path) == before + 2


def test_a_repeated_key_inside_one_batch_flow_is_that_flows_error(shared_server):
    flow = json.dumps(fresh(example("student-on-credit")))
    repeated = flow.replace('"policy_issuance"', '"flow_id": "again", "policy_issuance"', 1)
    response = shared_server.post("/v1/evaluate/batch", '{"flows": [' + flow + "," + repeated + "]}")
    results = response.json()["results"]
    assert [item["status"] for item in results] == [200, 422]
    assert results[1]["error"]["errors"][0]["path"] == "flow_id"


def test_batch_envelope_errors_refuse_the_batch(start_server, shared_server):
    flow = fresh(example("student-on-credit"))
    cases = {'{"flows": []}': "flows", '{"flow": []}': "flow", '[1]': "(body)", "{": "(body)",
             json.dumps({"flows": [flow], "extra": 1}): "extra"}
    for body, path in cases.items():
        response = shared_server.post("/v1/evaluate/batch", body)
        assert response.status_code == 422, body
        assert path in [error["path"] for error in response.json()["errors"]], body
    too_many = shared_server.post("/v1/evaluate/batch", {"flows": [flow] * 101})
    assert too_many.status_code == 422 and "at most 100 flows" in too_many.json()["errors"][0]["message"]


def test_opa_data_api_answers_result_and_decision_id(shared_server):
    response = shared_server.post("/v1/data/licit/decision", {"input": fresh(example("student-on-credit"))})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"decision_id", "result"}
    assert body["result"]["outcome"] == "deny" and body["result"]["decision_id"] == body["decision_id"]
    invalid = shared_server.post("/v1/data/licit/decision", {"input": {"flow_id": "x"}})
    assert invalid.status_code == 422 and "requested_at" in [e["path"] for e in invalid.json()["errors"]]
    missing = shared_server.post("/v1/data/licit/decision", {"flow": {}})
    assert {e["path"] for e in missing.json()["errors"]} == {"flow", "input"}


def test_rules_in_force_are_the_rule_views(shared_server, engine):
    response = shared_server.client.get("/v1/rules", params={"jurisdiction": "CN-GD-SZ", "as_of": "2026-11-24"})
    assert response.status_code == 200
    expected = effective_rule_set(engine.tree, "CN-GD-SZ", dt.date(2026, 11, 24)).model_dump(mode="json")
    assert response.json() == expected
    rule = next(rule for rule in response.json()["rules"] if rule["rule_id"] == "CN.CTPL.LUMP_SUM")
    assert rule["citation"]["status"] == "verified" and rule["source"].endswith(":7:5")
    at_instant = shared_server.client.get("/v1/rules", params={"jurisdiction": "CN", "as_of": "2026-11-23T20:00:00Z"})
    assert at_instant.json()["day"] == "2026-11-24"  # local time in CN: UTC+08:00


@pytest.mark.parametrize("params,path", [({}, "jurisdiction"), ({"jurisdiction": "XX"}, "jurisdiction"),
                                         ({"jurisdiction": "CN", "as_of": "tomorrow"}, "as_of")])
def test_rules_query_errors_name_the_parameter(shared_server, params, path):
    response = shared_server.client.get("/v1/rules", params=params)
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == path


def test_health_ready_and_metrics(shared_server):
    assert shared_server.client.get("/health").json() == {"status": "ok"}
    assert shared_server.client.get("/ready").json() == {"ready": True, "reasons": []}
    shared_server.post("/v1/evaluate", fresh(example("student-on-credit")))
    text = shared_server.client.get("/metrics").text
    assert 'licit_decisions_total{jurisdiction="CN-GD-SZ",outcome="deny"}' in text
    assert "licit_decision_seconds_bucket{le=" in text
    assert "licit_log_write_failures_total 0.0" in text
    assert 'licit_http_requests_total{route="evaluate",status="200"}' in text
    digest = licit("evaluate", "--no-audit", str(PACKS.parent / "examples" / "student-on-credit.json"))
    assert json.loads(digest.stdout)["ruleset"]["digest"] in text  # licit_ruleset_info


def test_openapi_schemas_are_licit_schemas(shared_server):
    document = shared_server.client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for name, what in (("Flow", "flow"), ("Decision", "decision")):
        printed = json.loads(licit("schema", what).stdout)
        assert _inline(schemas[name], schemas) == _inline(printed, printed.get("$defs", {}))
    paths = document["paths"]
    assert paths["/v1/evaluate"]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Flow"}
    assert set(paths) >= {"/v1/evaluate", "/v1/evaluate/batch", "/v1/data/licit/decision", "/v1/decisions/{decision_id}",
                          "/v1/rules", "/v1/rules/reload", "/health", "/ready", "/metrics"}
    assert "swagger-ui" in shared_server.client.get("/docs").text


def _inline(schema, definitions):
    """The schema with every $ref replaced by what it names, and without $defs."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline(definitions[schema["$ref"].rsplit("/", 1)[1]], definitions)
        return {key: _inline(value, definitions) for key, value in schema.items() if key != "$defs"}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema


def test_a_stale_flow_is_refused_unless_as_of_is_given(shared_server):
    flow = fresh(example("student-on-credit"))
    flow["requested_at"] = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2)).isoformat(timespec="seconds")
    refused = shared_server.post("/v1/evaluate", flow)
    assert refused.status_code == 422 and refused.json()["errors"][0]["path"] == "requested_at"
    as_of = flow["requested_at"].replace("+00:00", "Z")
    assert shared_server.post("/v1/evaluate", flow, params={"as_of": as_of}).status_code == 200
