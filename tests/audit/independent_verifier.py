"""A verifier of Licit decision logs (schema version 2) written from docs/log-format.md alone:
it imports no Licit code, only the standard library, an RFC 8785 library and an Ed25519 one.

    python independent_verifier.py LOG [--key KEY] [--id-number ID] [--checkpoint FILE --public-key FILE]

prints what it computed as JSON, and exits 1 if the chain or a checkpoint does not verify.
"""

import argparse
import hashlib
import hmac
import json
import sqlite3
import sys

import rfc8785
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--key")
    parser.add_argument("--id-number")
    parser.add_argument("--checkpoint")
    parser.add_argument("--public-key")
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{args.log}?mode=ro", uri=True)
    meta = dict(db.execute("SELECT key, value FROM meta"))
    assert meta["format"] == "licit-decision-log" and meta["schema_version"] == "2", meta
    out = {"meta_digest": "sha256:" + sha256(rfc8785.dumps(meta)), "hashes": []}
    problems = []

    # the chain: each record's hash is SHA-256 of the RFC 8785 form of the record object
    prev = "0" * 64
    for seq, recorded_at, evaluated_at, duration_us, prev_hash, stored, decision, flow in db.execute(
            "SELECT seq, recorded_at, evaluated_at, duration_us, prev_hash, hash, decision, flow "
            "FROM decisions ORDER BY seq"):
        record = {"decision": json.loads(decision), "duration_us": duration_us, "evaluated_at": evaluated_at,
                  "flow": json.loads(flow), "prev_hash": prev_hash, "recorded_at": recorded_at, "seq": seq}
        computed = sha256(rfc8785.dumps(record))
        if seq != len(out["hashes"]) + 1 or prev_hash != prev or computed != stored:
            problems.append(f"seq {seq} does not verify")
        out["hashes"].append(computed)
        prev = stored

    # rule sets: the digest is SHA-256 of the RFC 8785 form of {path: source}
    out["ruleset_digests"] = {}
    for digest, files in db.execute("SELECT digest, files FROM rulesets ORDER BY digest"):
        computed = "sha256:" + sha256(rfc8785.dumps(json.loads(files)))
        out["ruleset_digests"][digest] = computed
        if computed != digest:
            problems.append(f"rule set {digest} does not match its files")

    # derived rows: each decision_lookups row is what the documented json paths give
    for seq, outcome, decision_id, digest, decision in db.execute(
            "SELECT l.seq, l.outcome, l.decision_id, l.ruleset_digest, d.decision FROM decision_lookups l "
            "JOIN decisions d ON d.seq = l.seq"):
        parsed = json.loads(decision)
        if (outcome, decision_id, digest) != (parsed["outcome"], parsed["decision_id"], parsed["ruleset"]["digest"]):
            problems.append(f"seq {seq}: its lookup row differs from its record")

    # the key: key_check is HMAC-SHA256(key, "licit-audit/key-check"); identifiers are hmac-sha256:
    # HMAC-SHA256(key, field NUL value), id numbers upper-cased
    if args.key:
        key = args.key.strip().encode()
        out["key_check"] = hmac.new(key, b"licit-audit/key-check", hashlib.sha256).hexdigest()
        if out["key_check"] != meta["key_check"]:
            problems.append("the key is not this log's")
        if args.id_number:
            message = b"id_number\0" + args.id_number.strip().upper().encode()
            out["id_number_hash"] = "hmac-sha256:" + hmac.new(key, message, hashlib.sha256).hexdigest()

    # a checkpoint: the head it names is in the log; its signature is Ed25519 over the RFC 8785
    # form of the checkpoint without "signature", by the key whose raw bytes hash to key_id
    if args.checkpoint:
        with open(args.checkpoint, encoding="utf-8") as file:
            checkpoint = json.load(file)
        head = db.execute("SELECT hash FROM decisions WHERE seq = ?", (checkpoint["seq"],)).fetchone()
        if head is None or head[0] != checkpoint["hash"]:
            problems.append("the log does not hold the checkpoint's head")
        if checkpoint.get("meta_digest") != out["meta_digest"]:
            problems.append("the meta rows differ from the checkpoint's")
        if args.public_key:
            with open(args.public_key, "rb") as file:
                public = load_pem_public_key(file.read())
            raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
            signature = checkpoint["signature"]
            out["checkpoint_key_id"] = "sha256:" + sha256(raw)
            unsigned = {name: value for name, value in checkpoint.items() if name != "signature"}
            try:
                public.verify(bytes.fromhex(signature["value"]), rfc8785.dumps(unsigned))
            except Exception:  # cryptography's InvalidSignature
                problems.append("the checkpoint's signature does not verify")
            if signature["key_id"] != out["checkpoint_key_id"]:
                problems.append("the checkpoint was signed by another key")
    out["problems"] = problems
    print(json.dumps(out, indent=2, sort_keys=True))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
