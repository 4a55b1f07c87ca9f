"""README's `licit audit` examples, run by bash as a reader would run them, find what they look for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from conftest import REPO, run

from engine.batch.traffic import EXAMPLE_PERSON, synthetic_flows

README = REPO / "README.md"
SEEDED = 2000  # README seeds 20,000 (8 s); the claims checked here do not depend on the size


def audit_examples() -> list[str]:
    """The shell block under "`licit audit` commands"."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### `licit audit` commands"):]
    start = section.index("```sh\n") + len("```sh\n")
    return section[start:section.index("\n```", start)].splitlines()


def test_the_readmes_audit_examples_run_and_find_decisions(tmp_path):
    lines = audit_examples()
    assert any("--n 20000" in line for line in lines)
    prelude = f'set -eo pipefail; licit() {{ "{sys.executable}" -m engine.cli "$@"; }}'
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    exports, outputs = [], {}
    for line in lines:
        if line.startswith("export "):
            exports.append(line)
            continue
        script = "\n".join([prelude, *exports, line.replace("--n 20000", f"--n {SEEDED}")])
        result = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert result.returncode == 0 and "Traceback" not in result.stderr, (line, result.stderr)
        outputs[line] = result.stdout
    queries = {
        line: decisions_found(line, out) for line, out in outputs.items() if line.startswith("licit audit query")
    }
    assert queries["licit audit query --applicant-id 440301199001011234"] >= 2  # seq 1 and 1001
    for line, found in queries.items():
        # A fixed window of the past is left out: empty once the seeded year has moved beyond it.
        assert found > 0 or "--until 2026-03-31" in line, line
    show = next(out for line, out in outputs.items() if line.startswith("licit audit show"))
    assert "outcome       deny" in show and "chain link verified" in show
    stats = next(out for line, out in outputs.items() if line.startswith("licit audit stats"))
    assert not stats.startswith("decisions: 0\n")
    assert len((tmp_path / "demo.csv").read_text().splitlines()) == SEEDED + 1
    verified = next(out for line, out in outputs.items() if line.startswith("licit audit verify"))
    assert verified.startswith(f"intact: {SEEDED} record(s)") and f"holds checkpoint head seq {SEEDED}" in verified


def decisions_found(line: str, out: str) -> int:
    if "--format json" in line:
        return len(json.loads(out))
    if "--format csv" in line:
        return len(out.splitlines()) - 1
    return int(out.splitlines()[-1].split()[0])  # "N decision(s)"


@pytest.mark.parametrize("seed", [1, 2, 3, None])
def test_the_example_applicant_is_in_every_seeded_log(tmp_path, seed):
    path = tmp_path / "s.db"
    assert run("seed", "--db", path, "--n", 5, *(["--seed", seed] if seed is not None else [])).exit_code == 0
    result = run("query", "--db", path, "--applicant-id", EXAMPLE_PERSON["id_number"], "--format", "json")
    assert len(json.loads(result.output)) >= 1


def test_the_readmes_seeded_log_holds_the_example_applicant():
    """`licit audit seed --n 20000 --seed 1`, as README runs it (without writing it: 8 s)."""
    assert "licit audit seed --n 20000 --db demo.db --seed 1" in audit_examples()
    end = datetime.now(timezone.utc)
    flows = synthetic_flows(["CN", "CN-SH"], 20_000, start=end - timedelta(days=365), end=end, seed=1)
    ids = [flow["applicant"]["id_number"] for _, flow in flows]
    assert ids.count(EXAMPLE_PERSON["id_number"]) >= 20  # seq 1, 1001, ... 19001
