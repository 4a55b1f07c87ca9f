"""Reloads, concurrent clients, a log that cannot be written, and SIGTERM under load."""
from __future__ import annotations

import datetime as dt
import os
import re
import resource
import signal
import threading
import time

import httpx
import pytest
from conftest import REPO, TEST_KEY, example, fresh, licit, log_count

CN_RULE_FILE = "CN/premium.yaml"


def _digest(server) -> str:
    return server.post("/v1/evaluate", fresh(example("student-on-credit"))).json()["ruleset"]["digest"]


def _wait_until_all_workers_use(server, digest: str, tries: int = 200) -> None:
    """Connections go to any worker: many fresh ones in a row all seeing `digest` means every worker has it."""
    seen = 0
    for _ in range(tries):
        with httpx.Client(base_url=server.url) as client:
            response = client.post("/v1/evaluate", json=fresh(example("student-on-credit")))
        seen = seen + 1 if response.json()["ruleset"]["digest"] == digest else 0
        if seen >= 20:
            return
        time.sleep(0.05)
    raise AssertionError(f"workers still decide under another rule set than {digest}")


def _change_a_message(rules) -> None:
    path = rules / CN_RULE_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("remedy:", "remedy: (revised)", 1), encoding="utf-8")


def test_reload_good_tree_reaches_every_worker(start_server, copied_packs):
    server = start_server("--workers", "2", rules=copied_packs)
    before = _digest(server)
    _change_a_message(copied_packs)
    response = server.client.post("/v1/rules/reload")
    assert response.status_code == 200, response.text
    after = response.json()["digests"]["CN-GD-SZ"]
    assert response.json()["reloaded"] is True and after != before
    _wait_until_all_workers_use(server, after)
    assert len(server.events("rules_reloaded")) == 2  # the worker asked, and the other told by the supervisor
    assert server.stop() == 0


def test_reload_broken_tree_is_refused_and_the_last_good_one_kept(start_server, copied_packs):
    server = start_server("--workers", "2", rules=copied_packs)
    before = _digest(server)
    (copied_packs / "CN" / "broken.yaml").write_text("rules:\n  - id: CN.BROKEN\n    when: [unclosed\n")
    response = server.client.post("/v1/rules/reload")
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "rules_refused" and "stay in force" in problem["title"]
    assert problem["errors"] and all(error["path"].split(":")[0].endswith("CN/broken.yaml")
                                     for error in problem["errors"])
    assert problem["errors"][0]["path"].count(":") == 2  # file:line:col
    assert all(_digest(server) == before for _ in range(20))
    refused = server.events("rules_reload_refused")
    assert refused and refused[0]["error_count"] == len(problem["errors"])
    server.signal(signal.SIGHUP)  # a signal is refused the same way, on every worker
    deadline = time.monotonic() + 30
    while len(server.events("rules_reload_refused")) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(server.events("rules_reload_refused")) == 3
    assert server.client.get("/ready").status_code == 200
    assert server.stop() == 0


def test_sighup_reloads_every_worker(start_server, copied_packs):
    server = start_server("--workers", "2", rules=copied_packs)
    before = _digest(server)
    _change_a_message(copied_packs)
    server.signal(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while len(server.events("rules_reloaded")) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    after = server.events("rules_reloaded")[0]["digests"]["CN-GD-SZ"]
    assert after != before
    _wait_until_all_workers_use(server, after)
    metrics = server.client.get("/metrics").text
    assert f'digest="{after}",jurisdiction="CN-GD-SZ"' in metrics
    assert server.stop() == 0


def _hammer(server, stop: threading.Event, statuses: list, ids: list) -> None:
    flow = fresh(example("baitiao-split-compliant"))
    with httpx.Client(base_url=server.url, timeout=30) as client:
        while not stop.is_set():
            try:
                response = client.post("/v1/evaluate", json=flow)
            except httpx.TransportError:  # the service has stopped taking connections
                statuses.append("closed")
                return
            statuses.append(response.status_code)
            if response.status_code == 200:
                ids.append(response.json()["decision_id"])


def test_concurrent_clients_each_decision_logged_once(start_server):
    server = start_server("--workers", "2", "--no-access-log")
    statuses, ids, stop = [], [], threading.Event()
    threads = [threading.Thread(target=_hammer, args=(server, stop, statuses, ids)) for _ in range(16)]
    for thread in threads:
        thread.start()
    time.sleep(3)
    stop.set()
    for thread in threads:
        thread.join()
    assert set(statuses) == {200} and len(ids) == len(set(ids)) > 50
    assert server.stop() == 0
    assert log_count(server.log_path) == len(ids)
    verify = licit("audit", "verify", "--db", str(server.log_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sigterm_under_load_finishes_requests_under_way_and_closes_the_log(start_server):
    server = start_server("--workers", "2", "--no-access-log", "--max-batch", "1000", "--max-body-bytes", "5000000")
    statuses, ids, stop = [], [], threading.Event()
    threads = [threading.Thread(target=_hammer, args=(server, stop, statuses, ids)) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    batch: dict = {}
    client = httpx.Client(base_url=server.url, timeout=120)
    assert client.get("/health").status_code == 200  # a connection a worker has accepted

    def send_batch():
        batch["response"] = client.post("/v1/evaluate/batch", json={"flows": [fresh(example("student-on-credit"))] * 1000})

    sender = threading.Thread(target=send_batch)
    sender.start()
    time.sleep(0.3)  # the batch is being decided
    stopped_at = dt.datetime.now(dt.timezone.utc)
    server.signal(signal.SIGTERM)
    sender.join()
    for thread in threads:
        thread.join(60)
    stop.set()
    client.close()
    assert server.process.wait(60) == 0
    assert not server.log_path.with_name(server.log_path.name + "-wal").exists()  # closed cleanly
    assert set(statuses) <= {200, "closed"} and statuses.count(200) > 20
    results = batch["response"].json()["results"]
    assert batch["response"].status_code == 200 and {item["status"] for item in results} == {200}
    last = max(dt.datetime.fromisoformat(item["decision"]["evaluated_at"].replace("Z", "+00:00")) for item in results)
    assert last > stopped_at  # the batch was under way when SIGTERM came, and was finished
    ids += [item["decision"]["decision_id"] for item in results]
    assert log_count(server.log_path) == len(ids) == len(set(ids))
    assert len(server.events("stopped")) == 2 and all(event["log_closed"] for event in server.events("stopped"))
    verify = licit("audit", "verify", "--db", str(server.log_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_log_that_cannot_be_written_gives_503_and_no_decision(start_server, tmp_path):
    first = start_server("--no-access-log")
    assert first.post("/v1/evaluate", fresh(example("student-on-credit"))).status_code == 200
    assert first.stop() == 0
    limit = 2 * 1024 * 1024  # files may not grow past 2 MB: the log's WAL soon cannot (a full disk)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    server = start_server("--no-access-log", preexec=small_files)
    statuses, ids = [], []
    flow = fresh(example("baitiao-split-compliant"))
    for _ in range(3000):
        response = server.post("/v1/evaluate", flow)
        statuses.append(response.status_code)
        if response.status_code == 200:
            ids.append(response.json()["decision_id"])
        else:
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["code"] == "log_unavailable" and "decision_id" not in response.text
            assert response.headers["retry-after"] == "5"
            if statuses.count(503) >= 5:
                break
    assert statuses.count(503) >= 5, "the log never filled up"
    ready = server.client.get("/ready")
    assert ready.status_code == 503 and ready.json()["reasons"] == ["the decision log refused the last write"]
    assert "licit_log_write_failures_total 5.0" in server.client.get("/metrics").text
    assert server.stop() == 0
    assert log_count(server.log_path) == 1 + len(ids)
    verify = licit("audit", "verify", "--db", str(server.log_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_broken_rule_tree_or_busy_port_stops_serve_with_one_line(tmp_path, copied_packs, start_server):
    (copied_packs / "CN" / "broken.yaml").write_text("rules: [")
    result = licit("serve", "--port", "0", "--rules", str(copied_packs), "--audit-db", str(tmp_path / "a.db"))
    assert result.returncode == 1
    assert "the rule set does not load" in result.stderr and "CN/broken.yaml" in result.stderr
    assert "Traceback" not in result.stderr
    server = start_server()
    port = server.url.rsplit(":", 1)[1]
    busy = licit("serve", "--port", port, "--audit-db", str(tmp_path / "b.db"))
    assert busy.returncode == 1 and "cannot listen on 127.0.0.1:" in busy.stderr


@pytest.mark.parametrize("value", ["1y", "0h", "soon"])
def test_bad_max_request_age_is_a_usage_error(value):
    result = licit("serve", "--max-request-age", value)
    assert result.returncode == 2 and "duration" in result.stderr


def test_a_worker_killed_is_started_again_and_the_log_stays_whole(start_server):
    server = start_server("--workers", "2")
    assert server.post("/v1/evaluate", fresh(example("student-on-credit"))).status_code == 200
    victim = server.events("request")[-1]["pid"]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not server.events("worker_exited") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.events("worker_exited")[0]["worker"] == victim
    statuses = []
    for _ in range(40):  # every connection lands on a live worker, the old or the new one
        with httpx.Client(base_url=server.url) as client:
            statuses.append(client.post("/v1/evaluate", json=fresh(example("student-on-credit"))).status_code)
    assert set(statuses) == {200}
    deadline = time.monotonic() + 60  # the new worker starts a second after the death, then loads the rules
    while True:
        live = set(re.findall(r'licit_ruleset_info\{[^}]*pid="(\d+)"', server.client.get("/metrics").text))
        if len(live) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(live) == 2 and str(victim) not in live, live  # the survivor and the new worker
    assert server.stop() == 0
    assert log_count(server.log_path) == 41
    verify = licit("audit", "verify", "--db", str(server.log_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def _children(pid: int) -> set[int]:
    children = set()
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.add(int(entry))
    return children


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_workers_do_not_outlive_a_supervisor_killed_and_the_log_stays_whole(start_server):
    server = start_server("--workers", "2")
    assert server.post("/v1/evaluate", fresh(example("student-on-credit"))).status_code == 200
    workers = _children(server.process.pid)
    assert len(workers) == 2
    server.process.kill()  # SIGKILL: the supervisor cannot tell anyone
    server.process.wait()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "a worker outlived its supervisor"
    assert [event.get("reason") for event in server.events("draining")] == ["the supervisor is gone"] * 2
    assert log_count(server.log_path) == 1
    verify = licit("audit", "verify", "--db", str(server.log_path))
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_sigterm_while_starting_stops_cleanly(tmp_path):
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--port", "0", "--workers", "2",
                                "--audit-db", str(tmp_path / "log.db")], cwd=REPO, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env={**os.environ, "LICIT_AUDIT_KEY": TEST_KEY})
    deadline = time.monotonic() + 30
    while not (tmp_path / "log.db").exists() and time.monotonic() < deadline:
        time.sleep(0.01)  # a worker has opened the log and is loading the rules
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "listening" not in out and "Traceback" not in err
