"""Schemathesis generates requests from /openapi.json: no 5xx, statuses, media types, headers and
bodies as documented, and requests that break the schema are refused (not a positive check:
schema-valid flows may still be invalid, a date before any rule, say)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,"
          "response_schema_conformance,negative_data_rejection,unsupported_method")


def test_schemathesis_finds_nothing(start_server, tmp_path):
    server = start_server("--no-access-log")
    command = [str(Path(sys.executable).parent / "schemathesis"), "--config-file",
               str(Path(__file__).with_name("schemathesis.toml")), "run", server.url + "/openapi.json",
               "--phases", "examples,fuzzing", "--max-time", "10", "--checks", CHECKS, "--seed", "1",
               "--no-color"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-5000:]
    assert " passed" in result.stdout
