"""docs/service.md's shell examples run against a real service and do what the page says."""
from __future__ import annotations

import re
import subprocess

from conftest import REPO


def _block_after(marker: str) -> str:
    text = (REPO / "docs" / "service.md").read_text(encoding="utf-8")
    after = text[text.index(marker):]
    return re.search(r"```sh\n(.*?)```", after, re.DOTALL).group(1)


def test_the_curl_example_of_every_endpoint_runs(start_server, tmp_path):
    server = start_server()
    (tmp_path / "examples").symlink_to(REPO / "examples")
    script = "set -euo pipefail\n" + _block_after("each endpoint from a shell")
    result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env={"LICIT": server.url, "PATH": "/usr/bin:/bin"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.count('"outcome":"deny"') >= 4  # evaluate, as_of, batch, OPA
    assert '"status":422' in out and '"path":"vehicle"' in out  # the batch's bad flow
    assert '"chain_link_verified": true' in out and '"reloaded":true' in out
    assert '{"status":"ok"}' in out and '"ready":true' in out and "licit_decisions_total" in out
    assert (tmp_path / "openapi.json").stat().st_size > 10_000


def test_the_tokens_example_makes_a_file_serve_accepts(tmp_path):
    from engine.service.tokens import Tokens

    script = _block_after("holds the same entries separated").split("licit serve")[0]
    subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True, timeout=60)
    tokens = Tokens.load(tmp_path / "tokens")
    assert tokens.enabled
