"""Schemathesis generates requests from /openapi.json and checks every answer (schemathesis.toml):
no 5xx, statuses, media types, headers and bodies as documented, requests that break the schema
refused, wrong methods answered 405."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

def test_schemathesis_finds_nothing(start_server, tmp_path):
    server = start_server("--no-access-log")
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file",
               str(Path(__file__).with_name("schemathesis.toml")), "run", server.url + "/openapi.json",
               "--phases", "examples,fuzzing,stateful", "--max-time", "10", "--seed", "1",
               "--no-color"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-5000:]
    assert " passed" in result.stdout
