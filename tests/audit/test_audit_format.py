"""The log format is documented well enough to verify a log without Licit: a verifier written
from docs/log-format.md alone (independent_verifier.py, no Licit imports) reproduces the test
vectors of docs/vectors/ and the hashes of a log Licit writes now."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import REPO, TEST_KEY, example_items, raw

from audit import DecisionLog, verify_log, write_checkpoint
from audit.signing import generate_keys

VECTORS = REPO / "docs" / "vectors"
VERIFIER = Path(__file__).with_name("independent_verifier.py")


def independent(log: Path, *arguments, cwd: Path) -> tuple[int, dict]:
    """Run the verifier isolated (-I: no PYTHONPATH, no current directory on the path) from `cwd`."""
    result = subprocess.run([sys.executable, "-I", str(VERIFIER), str(log), *map(str, arguments)], cwd=cwd,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_the_independent_verifier_uses_no_licit_code():
    imported = set()
    for node in ast.walk(ast.parse(VERIFIER.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported <= {"argparse", "hashlib", "hmac", "json", "sqlite3", "sys", "rfc8785", "cryptography"}, imported


def test_the_independent_verifier_reproduces_the_documented_test_vectors(tmp_path):
    expected = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
    log = tmp_path / "vectors.db"
    shutil.copy(VECTORS / "vectors.db", log)  # readers leave -wal and -shm files beside a log
    code, computed = independent(log, "--key", expected["key"], "--id-number", expected["id_number"],
                                 "--checkpoint", VECTORS / "vectors.checkpoint.json",
                                 "--public-key", VECTORS / "vectors.public.pem", cwd=tmp_path)
    assert code == 0 and computed["problems"] == []
    assert computed["hashes"] == expected["hashes"] and computed["hashes"][-1] == expected["head"]
    assert sorted(computed["ruleset_digests"].values()) == expected["ruleset_digests"]
    for name in ("meta_digest", "key_check", "id_number_hash", "checkpoint_key_id"):
        assert computed[name] == expected[name], name
    documented = (REPO / "docs" / "log-format.md").read_text(encoding="utf-8")
    for value in (*expected["hashes"], *expected["ruleset_digests"], expected["meta_digest"], expected["key_check"],
                  expected["id_number_hash"], expected["checkpoint_key_id"]):
        assert value in documented, f"docs/log-format.md does not list {value}"


def test_licit_agrees_with_the_test_vectors(tmp_path, monkeypatch):
    expected = json.loads((VECTORS / "vectors.json").read_text(encoding="utf-8"))
    monkeypatch.setenv("LICIT_AUDIT_KEY", expected["key"])
    log = tmp_path / "vectors.db"
    shutil.copy(VECTORS / "vectors.db", log)
    report = verify_log(log, VECTORS / "vectors.checkpoint.json", VECTORS / "vectors.public.pem")
    assert report.ok and report.head_hash == expected["head"]
    assert report.checkpoint_signed_by == expected["checkpoint_key_id"]


def test_the_independent_verifier_agrees_with_a_log_licit_writes_now(log_path, tmp_path):
    """Floats (950.0 is written 950), Chinese text and control characters in the records."""
    items = example_items(6)
    decision, flow, ruleset, duration = items[0]
    items[0] = ({**decision, "note": "引号 \" and \\ and \n and \x01", "premium": 950.0, "rate": 0.0001234},
                {**flow, "extra": [1.5, 2.0, -0.0, 1e-7]}, ruleset, duration)
    with DecisionLog(log_path) as log:
        for item in items:
            log.record(*item)
    generate_keys(tmp_path / "private.pem", tmp_path / "public.pem")
    write_checkpoint(log_path, tmp_path / "head.json", tmp_path / "private.pem")
    code, computed = independent(log_path, "--key", TEST_KEY, "--checkpoint", tmp_path / "head.json",
                                 "--public-key", tmp_path / "public.pem", cwd=tmp_path)
    assert code == 0 and computed["problems"] == []
    stored = [h for (h,) in raw(log_path).execute("SELECT hash FROM decisions ORDER BY seq")]
    assert computed["hashes"] == stored and stored[-1] == verify_log(log_path).head_hash


def test_the_independent_verifier_catches_a_rewritten_record(log_path, tmp_path):
    with DecisionLog(log_path) as log:
        for item in example_items(3):
            log.record(*item)
    conn = raw(log_path)
    conn.execute("DROP TRIGGER decisions_refuse_update")
    conn.execute("UPDATE decisions SET decision = json_set(decision, '$.trace_id', 'forged') WHERE seq = 2")
    conn.close()
    code, computed = independent(log_path, cwd=tmp_path)
    assert code == 1 and "seq 2 does not verify" in computed["problems"]
