"""A bounded load test of `licit serve` on loopback, with the decision log on, beside the stack's ceiling.

    python -m engine.service.load.run [--workers 1 2] [--runs 3] [--seconds 20] [--connections 16]
                                      [--matcher durable|python]

For each run and worker count (interleaved, so that a noisy neighbour hurts both alike): start
`licit serve` on a free loopback port with a new log, warm it up, drive it with wrk for a fixed
time (wrk stops by itself), read how many 200s the service answered (its /metrics), stop it with
SIGTERM, then check that `licit audit verify` passes and that the log holds exactly one record per
200 answered. wrk counts a few 200s less: when its time is up it hangs up on the requests still
under way (at most one per connection), which the service still decides, logs and answers. Then
the same wrk run against a minimal app on the same stack answering a constant JSON (ceiling.py).
Needs wrk (Debian: apt-get install wrk).
Prints one line per measurement and a summary table.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
_RESULT = re.compile(r"LICIT-LOAD (.*)")
WARM_UP_S = 3


def _flows_file(directory: Path) -> Path:
    """The example flows, one a line, requested_at left for the script to stamp."""
    lines = []
    for path in sorted((REPO / "examples").glob("*.json")):
        flow = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(flow, dict) and "flow_id" in flow:
            flow["requested_at"] = "__REQUESTED_AT__"
            lines.append(json.dumps(flow, ensure_ascii=False))
    target = directory / "flows.jsonl"
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def _wrk(url: str, seconds: int, connections: int, flows: Path) -> dict:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s",
               str(HERE / "flows.lua"), url, "--", str(flows)]
    output = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    match = _RESULT.search(output)
    if match is None:
        raise RuntimeError(f"wrk printed no result: {output}")
    result = {key: int(value) for key, value in (item.split("=") for item in match.group(1).split())}
    result["rps"] = result["ok"] / (result["duration_us"] / 1e6)
    return result


def _started(command: list[str], env: dict) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"the service did not start: {line!r}")
    return process, match.group(1)


def measure_service(workers: int, seconds: int, connections: int, flows: Path, scratch: Path,
                    matcher: str | None) -> dict:
    log = scratch / f"load-{workers}w-{time.time_ns()}.db"
    env = {**os.environ, "LICIT_AUDIT_KEY": os.environ.get("LICIT_AUDIT_KEY", "load-test-key-0123456789abcdef")}
    process, url = _started([sys.executable, "-m", "engine.cli", "serve", "--port", "0", "--workers", str(workers),
                             "--audit-db", str(log), "--no-access-log", "--rules", str(REPO / "jurisdictions"),
                             *(["--matcher", matcher] if matcher else [])], env)
    try:
        warm = _wrk(url + "/v1/evaluate", WARM_UP_S, connections, flows)
        result = _wrk(url + "/v1/evaluate", seconds, connections, flows)
        time.sleep(0.5)  # the requests wrk hung up on are still answered
        result["served"] = _served_200(url)
    finally:
        process.send_signal(signal.SIGTERM)
        result_code = process.wait(120)
    verify = subprocess.run([sys.executable, "-m", "engine.cli", "audit", "verify", "--db", str(log)], cwd=REPO,
                            env=env, capture_output=True, text=True)
    with sqlite3.connect(f"file:{log}?mode=ro", uri=True) as conn:
        logged = conn.execute("SELECT count(*) FROM decisions").fetchone()[0]
    result.update(exit=result_code, verify=verify.returncode == 0, logged=logged, wrk_200=warm["ok"] + result["ok"],
                  warm_other=warm["other"] + warm["socket_errors"])
    for suffix in ("", "-wal", "-shm", ".key"):
        Path(f"{log}{suffix}").unlink(missing_ok=True)
    return result


def _served_200(url: str) -> int:
    from urllib.request import urlopen

    with urlopen(url + "/metrics", timeout=30) as response:
        text = response.read().decode()
    match = re.search(r'^licit_http_requests_total\{route="evaluate",status="200"\} (\S+)$', text, re.MULTILINE)
    return int(float(match.group(1))) if match else 0


def measure_ceiling(workers: int, seconds: float, connections: int, flows: Path) -> dict:
    import socket

    with socket.socket() as probe:  # uvicorn's command line takes no port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "uvicorn", "engine.service.load.ceiling:app", "--port", str(port), "--workers",
               str(workers), "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1/evaluate"
        for _ in range(100):
            with socket.socket() as attempt:
                if attempt.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        _wrk(url, WARM_UP_S, connections, flows)
        return _wrk(url, seconds, connections, flows)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def _line(kind: str, workers: int, run: int, result: dict) -> str:
    text = (f"{kind:<8} workers={workers} run={run} rps={result['rps']:,.0f} p50={result['p50_us'] / 1000:.2f}ms "
            f"p99={result['p99_us'] / 1000:.2f}ms non200={result['other']} socket_errors={result['socket_errors']}")
    if kind == "service":
        text += (f" logged={result['logged']} served_200={result['served']} wrk_200={result['wrk_200']}"
                 f" verify={'ok' if result['verify'] else 'FAILED'} exit={result['exit']}")
    return text + f" load={os.getloadavg()[0]:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--matcher", choices=["durable", "python"], help="licit serve --matcher")
    parser.add_argument("--scratch", type=Path, default=None, help="where the logs go (default: a temporary folder)")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (Debian: apt-get install wrk)")
    failed = False
    with tempfile.TemporaryDirectory(dir=args.scratch) as directory:
        flows = _flows_file(Path(directory))
        for run in range(1, args.runs + 1):
            for workers in args.workers:
                service = measure_service(workers, args.seconds, args.connections, flows, Path(directory), args.matcher)
                print(_line("service", workers, run, service), flush=True)
                print(_line("ceiling", workers, run, measure_ceiling(workers, args.seconds, args.connections, flows)),
                      flush=True)
                failed |= not (service["verify"] and service["logged"] == service["served"] and not service["other"]
                               and not service["socket_errors"] and not service["warm_other"] and service["exit"] == 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
