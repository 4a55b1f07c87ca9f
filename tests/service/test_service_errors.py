"""Bad input and bad requests: one problem shape, the CLI's field paths, 413 without reading on,
404 and 405, and never a 500 or a traceback."""
from __future__ import annotations

import json
import socket
import time
from urllib.parse import urlsplit

import pytest
from conftest import example, fresh, licit, log_count
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PROBLEM_KEYS = {"status", "code", "title", "errors"}


def _problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_KEYS and body["status"] == status and body["code"] == code
    return body


def _bad_flows() -> dict[str, dict]:
    flow = fresh(example("baitiao-split-compliant"))
    missing = json.loads(json.dumps(flow))
    del missing["applicant"]["age"], missing["vehicle"]
    typo = dict(flow, polcy_issuance="after_premium_received")
    wrong = json.loads(json.dumps(flow))
    wrong["payments"][0]["apr"] = 0.1234567
    wrong["products"][0]["kind"] = "life"
    wrong["jurisdiction"] = "XX"
    return {"missing": missing, "typo": typo, "wrong": wrong}


@pytest.mark.parametrize("case", ["missing", "typo", "wrong"])
def test_invalid_flow_lists_every_field_error_as_the_cli_does(shared_server, tmp_path, case):
    flow = _bad_flows()[case]
    body = _problem(shared_server.post("/v1/evaluate", flow), 422, "invalid_flow")
    path = tmp_path / "flow.json"
    path.write_text(json.dumps(flow))
    cli = licit("evaluate", "--no-audit", str(path))
    assert cli.returncode == 2
    cli_lines = [line.split(f"{path}: ", 1)[1] for line in cli.stderr.splitlines()]
    assert [f"{error['path']}: {error['message']}" for error in body["errors"]] == cli_lines
    assert len(body["errors"]) >= 2 or case == "typo"


def test_invalid_input_is_not_logged(shared_server):
    before = log_count(shared_server.log_path)
    for flow in _bad_flows().values():
        shared_server.post("/v1/evaluate", flow)
    for body in (b"", b"{", b"null", b"[]", b'"flow"', "{\"flow_id\": 1e1000000}".encode(), b"\xff\xfe"):
        response = shared_server.post("/v1/evaluate", body)
        assert _problem(response, 422, "invalid_flow")["errors"], body
    assert log_count(shared_server.log_path) == before


def test_body_over_the_limit_is_413_by_its_declared_length(shared_server):
    response = shared_server.post("/v1/evaluate", b"x" * 1_000_001)
    _problem(response, 413, "payload_too_large")
    assert response.headers["connection"] == "close"


def test_413_comes_before_the_rest_of_a_chunked_body_is_sent(shared_server):
    """The service stops reading at the limit: it answers while the client still has most of the body to send."""
    address = urlsplit(shared_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b" " * 65536
        for _ in range(1_000_000 // len(chunk) + 2):  # just over the limit, of the 100 MB announced below
            connection.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        answer = b""
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in answer and time.monotonic() < deadline:
            answer += connection.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def test_unknown_route_and_wrong_method(shared_server):
    _problem(shared_server.client.get("/v1/nothing"), 404, "not_found")
    _problem(shared_server.client.get("/v1/evaluate/extra/parts"), 404, "not_found")
    response = shared_server.client.get("/v1/evaluate")
    _problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    _problem(shared_server.client.delete("/health"), 405, "method_not_allowed")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(body=st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=20).map(lambda value: json.dumps(value).encode())))
def test_no_body_gets_a_500_or_a_traceback(shared_server, body):
    for path in ("/v1/evaluate", "/v1/evaluate/batch", "/v1/data/licit/decision"):
        response = shared_server.post(path, body)
        assert response.status_code in (200, 422), (path, body, response.text)
        assert "Traceback" not in response.text


def test_fuzzed_fields_of_a_real_flow_never_500(shared_server):
    flow = fresh(example("baitiao-split-compliant"))
    weird = [None, -1, 10**120, "", "\u0000", "9" * 5000, [], {}, 1e308, True]
    for key in list(flow):
        for value in weird:
            response = shared_server.post("/v1/evaluate", {**flow, key: value})
            assert response.status_code in (200, 422), (key, value, response.text)
    assert not shared_server.events("request_failed")
