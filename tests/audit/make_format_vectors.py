"""Writes docs/vectors/: the test vectors of docs/log-format.md (a small log of schema version 2,
its signed checkpoint, the public key, and the values a verifier must compute, as Licit computes
them). Run from the repository: `python tests/audit/make_format_vectors.py`. The private key is
made in a temporary directory and thrown away."""

import json
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
KEY = "demo-key-0123456789abcdef"
ID_NUMBER = "440301199001011234"  # the contract examples' applicant
os.environ["LICIT_AUDIT_KEY"] = KEY

from audit import DecisionLog, verify_log, write_checkpoint  # noqa: E402
from audit.meta import meta_digest  # noqa: E402
from audit.redaction import identifier_hash, key_check  # noqa: E402
from audit.schema import open_reader  # noqa: E402
from audit.signing import generate_keys  # noqa: E402
from engine import Engine  # noqa: E402

out = REPO / "docs" / "vectors"
out.mkdir(exist_ok=True)
log = out / "vectors.db"
for name in ("vectors.db", "vectors.checkpoint.json", "vectors.public.pem", "vectors.json"):
    (out / name).unlink(missing_ok=True)
with Engine(rules_dir=REPO / "jurisdictions", sink=DecisionLog(log), max_request_age=None) as engine:
    for example in ("student-on-credit", "apr-not-disclosed", "baitiao-split-compliant"):
        engine.evaluate(json.loads((REPO / "examples" / f"{example}.json").read_text(encoding="utf-8")))
with tempfile.TemporaryDirectory() as private:
    key_id = generate_keys(Path(private) / "private.pem", out / "vectors.public.pem")
    write_checkpoint(log, out / "vectors.checkpoint.json", Path(private) / "private.pem")
report = verify_log(log)
conn, meta = open_reader(log)
hashes = [row[0] for row in conn.execute("SELECT hash FROM decisions ORDER BY seq")]
expected = {
    "key": KEY, "id_number": ID_NUMBER, "hashes": hashes, "head": report.head_hash,
    "ruleset_digests": report.ruleset_digests, "meta_digest": meta_digest(conn),
    "key_check": key_check(KEY.encode()), "id_number_hash": identifier_hash(KEY.encode(), "id_number", ID_NUMBER),
    "checkpoint_key_id": key_id,
}
conn.close()
(out / "vectors.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")
print(json.dumps(expected, indent=2))
for suffix in ("-wal", "-shm"):  # left by the readers above; the log is closed and the -wal empty
    Path(f"{log}{suffix}").unlink(missing_ok=True)
