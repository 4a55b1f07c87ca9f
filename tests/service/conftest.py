"""A real `licit serve` on a free loopback port, and a real HTTP client (httpx) to talk to it."""
from __future__ import annotations

import copy
import datetime as dt
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PACKS = REPO / "jurisdictions"
TEST_KEY = "service-test-key-0123456789"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def fresh(flow: dict, **changes) -> dict:
    """The flow requested now (a service refuses flows older than its --max-request-age)."""
    flow = copy.deepcopy(flow)
    flow["requested_at"] = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).isoformat(timespec="seconds")
    flow.update(changes)
    return flow


class Server:
    """`python -m engine.cli serve …` in a child process; its stdout line gives the URL."""

    def __init__(self, tmp_path: Path, *args: str, rules: Path = PACKS, env: dict | None = None, preexec=None):
        self.log_path = tmp_path / "decisions.db"
        self.stderr_path = tmp_path / f"serve-{time.monotonic_ns()}.err"
        self.rules = rules
        command = [sys.executable, "-m", "engine.cli", "serve", "--port", "0", "--rules", str(rules),
                   "--audit-db", str(self.log_path), *args]
        environment = {**os.environ, "LICIT_AUDIT_KEY": TEST_KEY, **(env or {})}
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=self._stderr,
                                        env=environment, preexec_fn=preexec)
        self.url = self._wait_for_url()
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                line = self.process.stdout.readline()
                if b"listening on " in line:
                    return line.split(b"listening on ")[1].split()[0].decode()
            if self.process.poll() is not None:
                break
        raise AssertionError(f"the service did not start: {line!r} {self.stderr()}")

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def events(self, name: str | None = None) -> list[dict]:
        events = [json.loads(line) for line in self.stderr().split("\n") if line.startswith("{")]
        return [event for event in events if name is None or event["event"] == name]

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout)
        finally:
            self.client.close()
            self._stderr.close()
        return code

    def post(self, path: str, body, **kwargs) -> httpx.Response:
        content = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False)
        return self.client.post(path, content=content, **kwargs)


@pytest.fixture
def start_server(tmp_path):
    servers = []

    def start(*args, **kwargs) -> Server:
        server = Server(tmp_path, *args, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory):
    """One 1-worker service for the tests that only read from it or add decisions."""
    server = Server(tmp_path_factory.mktemp("service"))
    yield server
    server.stop()


@pytest.fixture
def copied_packs(tmp_path) -> Path:
    target = tmp_path / "rules"
    shutil.copytree(PACKS, target, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return target


def licit(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine.cli", *args], cwd=REPO, capture_output=True, text=True,
                          input=stdin, env={**os.environ, "LICIT_AUDIT_KEY": TEST_KEY}, timeout=120)


def log_count(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
