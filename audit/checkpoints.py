"""Checkpoints: the head of a log (sequence number, hash, time, rule-set digests, meta
digest) in a file kept away from it, optionally signed (audit.signing), so that a later
`verify --checkpoint` proves the log still holds that head.

`licit audit checkpoint` verifies the log first, then writes its head. The writer also
writes them by itself every N records or T seconds into a directory the operator
chooses (CheckpointPolicy), with the head it has just made durable.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from audit.canonical import load_json
from audit.errors import AuditError, AuditInputError
from audit.files import read_regular_file, write_new_file
from audit.meta import meta_digest
from audit.outputs import write_output
from audit.schema import SQLITE_MAX_INTEGER, open_reader
from audit.times import utc_now

CHECKPOINT_FORMAT = "licit-decision-log-checkpoint"
_CHECKPOINT_MAX_BYTES = 1 << 20  # a checkpoint is a few hundred bytes
DIR_ENV, EVERY_ENV, SECONDS_ENV, KEY_ENV = (f"LICIT_AUDIT_CHECKPOINT_{name}" for name in ("DIR", "EVERY", "SECONDS",
                                                                                            "SIGN_KEY"))
DEFAULT_EVERY, DEFAULT_SECONDS = 1000, 60.0


@dataclass(frozen=True)
class CheckpointPolicy:
    """Where and how often the writer writes checkpoints by itself: after every `every`
    records or `seconds` seconds with new records, whichever comes first; signed with
    the private key in `sign_key` if given."""

    directory: str
    every: int = DEFAULT_EVERY
    seconds: float = DEFAULT_SECONDS
    sign_key: str | None = None

    def __post_init__(self):
        if not (type(self.every) is int and self.every >= 1 and self.seconds > 0):
            raise AuditInputError(f"automatic checkpoints need every >= 1 record and seconds > 0, got {self.every} "
                                  f"and {self.seconds}")
        object.__setattr__(self, "directory", os.path.abspath(self.directory))
        if self.sign_key is not None:
            object.__setattr__(self, "sign_key", os.path.abspath(self.sign_key))

    @classmethod
    def from_environment(cls, directory: str | os.PathLike | None = None) -> CheckpointPolicy | None:
        """`directory`, else $LICIT_AUDIT_CHECKPOINT_DIR (off when neither is set), with
        $LICIT_AUDIT_CHECKPOINT_EVERY, _SECONDS and _SIGN_KEY."""
        directory = directory or os.environ.get(DIR_ENV)
        if not directory:
            return None
        try:
            every = int(os.environ.get(EVERY_ENV) or DEFAULT_EVERY)
            seconds = float(os.environ.get(SECONDS_ENV) or DEFAULT_SECONDS)
        except ValueError:
            raise AuditInputError(f"{EVERY_ENV} must be a whole number and {SECONDS_ENV} a number") from None
        return cls(directory, every, seconds, os.environ.get(KEY_ENV) or None)

    def as_dict(self) -> dict:
        return asdict(self)


def head_document(conn: sqlite3.Connection, path: str | os.PathLike, seq: int, head_hash: str,
                  ruleset_digests: list[str]) -> dict:
    recorded_at = conn.execute("SELECT recorded_at FROM decisions WHERE seq = ?", (seq,)).fetchone()
    return {
        "format": CHECKPOINT_FORMAT,
        "log": str(Path(path).resolve()),
        "seq": seq,
        "hash": head_hash,
        "recorded_at": recorded_at[0] if recorded_at else None,
        "created_at": utc_now(),
        "ruleset_digests": sorted(ruleset_digests),
        "meta_digest": meta_digest(conn),
    }


def checkpoint_text(head: dict) -> str:
    return json.dumps(head, indent=2, ensure_ascii=False) + "\n"


def write_checkpoint(path: str | os.PathLike, output: str | os.PathLike,
                     sign_key: str | os.PathLike | None = None) -> dict:
    """Verify the log, then write its head to `output`, a new file (a checkpoint is
    evidence: an existing one is never replaced), signed with the private key in
    `sign_key` if given. Keep the file away from the log: a later `verify --checkpoint`
    proves the log still holds it. Returns the head written."""
    from audit.verify import verify_log

    key = _private_key(sign_key)  # fails before the log is read

    def write(file: IO[str]) -> dict:
        report = verify_log(path)
        if not report.ok:
            raise AuditError(f"not writing a checkpoint of a damaged log: {report.first_problem}")
        if report.head_seq == 0:
            raise AuditError(f"not writing a checkpoint of {path}: the log is empty")
        conn, _ = open_reader(path)
        try:
            head = head_document(conn, path, report.head_seq, report.head_hash, report.ruleset_digests)
        finally:
            conn.close()
        head = _signed(head, key)
        file.write(checkpoint_text(head))
        return head

    evidence = "a checkpoint is evidence, so a new one needs a new name"
    return write_output(output, write, log=path, what="checkpoint", exists_hint=evidence)


def read_checkpoint(checkpoint: str | os.PathLike, public_key: str | os.PathLike | None = None) -> dict:
    """A checkpoint file, every field checked (AuditInputError naming the file and field), and
    with `public_key` its signature (AuditError if unsigned, signed by another key, or changed)."""
    if public_key is not None:
        from audit.signing import check_signature, load_public_key  # cryptography, only when asked for

        key = load_public_key(public_key)
    text = read_regular_file(checkpoint, "checkpoint", _CHECKPOINT_MAX_BYTES)
    try:
        head = load_json(text)
    except ValueError:
        raise AuditInputError(f"checkpoint {checkpoint} is not JSON") from None
    if not isinstance(head, dict) or head.get("format") != CHECKPOINT_FORMAT:
        raise AuditInputError(f"{checkpoint} is not a Licit decision log checkpoint")
    for name, (valid, expected) in _CHECKPOINT_FIELDS.items():
        if (name in head or name not in _OPTIONAL_FIELDS) and not valid(head.get(name)):
            raise AuditInputError(f"checkpoint {checkpoint}: {name} must be {expected}, got {head.get(name)!r:.80}")
    if "signature" in head:
        signature = head["signature"]
        for name, (valid, expected) in _SIGNATURE_FIELDS.items():
            if not (isinstance(signature, dict) and valid(signature.get(name))):
                raise AuditInputError(f"checkpoint {checkpoint}: signature.{name} must be {expected}")
    if public_key is not None:
        check_signature(head, key, checkpoint)
    return head


_HASH = re.compile(r"[0-9a-f]{64}")  # audit.canonical: SHA-256 hex digests
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_CHECKPOINT_FIELDS = {
    "seq": (
        lambda v: type(v) is int and 1 <= v <= SQLITE_MAX_INTEGER,
        f"a sequence number from 1 to {SQLITE_MAX_INTEGER}",
    ),
    "hash": (lambda v: isinstance(v, str) and _HASH.fullmatch(v), "a record hash (64 lowercase hex digits)"),
    "ruleset_digests": (
        lambda v: isinstance(v, list) and all(isinstance(d, str) and _DIGEST.fullmatch(d) for d in v),
        "a list of rule-set digests (sha256: and 64 lowercase hex digits)",
    ),
    "created_at": (lambda v: isinstance(v, str), "the time it was written (a string)"),
    "meta_digest": (
        lambda v: isinstance(v, str) and _DIGEST.fullmatch(v),
        "the digest of the log's meta rows (sha256: and 64 lowercase hex digits)",
    ),
}
_OPTIONAL_FIELDS = {"meta_digest"}  # absent from checkpoints written before it existed
_SIGNATURE_FIELDS = {  # audit.signing writes them
    "algorithm": (lambda v: v == "ed25519", "'ed25519'"),
    "key_id": (lambda v: isinstance(v, str) and _DIGEST.fullmatch(v), "sha256: and 64 lowercase hex digits"),
    "value": (lambda v: isinstance(v, str) and re.fullmatch(r"[0-9a-f]{128}", v), "128 lowercase hex digits"),
}


class AutomaticCheckpoints:
    """The writer's own checkpoints, by `policy`, of the log `path` it holds open as `conn`."""

    def __init__(self, policy: CheckpointPolicy, conn: sqlite3.Connection, path: str, head_seq: int, now: float):
        self.policy = policy
        self._conn = conn
        self._path = path
        self._directory = Path(policy.directory)
        if not self._directory.is_dir():
            raise AuditInputError(f"checkpoint directory {self._directory} does not exist")
        self._key = _private_key(policy.sign_key)  # a key that cannot sign is refused when the writer starts
        self._last_seq, self._last_time = head_seq, now
        self._retry_at = 0.0  # after a checkpoint that could not be written, not before this

    def deadline(self, head_seq: int) -> float | None:
        """When a checkpoint falls due by time, if records came since the last one."""
        if head_seq <= self._last_seq:
            return None
        return max(self._last_time + self.policy.seconds, self._retry_at)

    def due(self, head_seq: int, now: float, *, between_batches: bool = False) -> bool:
        """Whether a checkpoint of `head_seq` is due; between batches, not within a second of
        one that could not be written (a batch's callers try it again at once)."""
        if between_batches and now < self._retry_at:
            return False
        return head_seq > self._last_seq and (
            head_seq - self._last_seq >= self.policy.every or now >= self._last_time + self.policy.seconds)

    def write(self, head_seq: int, head_hash: str, now: float) -> None:
        """Write the head `head_seq` (AuditError if it cannot be written)."""
        digests = [digest for (digest,) in self._conn.execute("SELECT digest FROM rulesets")]
        head = head_document(self._conn, self._path, head_seq, head_hash, digests)
        text = checkpoint_text(_signed(head, self._key))
        target = self._directory / f"{Path(self._path).name}.{head_seq:012d}.checkpoint.json"
        try:
            write_new_file(target, text.encode(), "checkpoint")
        except AuditInputError:  # this head was checkpointed already (a writer before this one)
            pass
        except AuditError as error:
            self._retry_at = now + 1.0
            raise AuditError(f"automatic checkpoint of {self._path}: {error}") from None
        self._last_seq, self._last_time = head_seq, now


def _private_key(path: str | os.PathLike | None):
    if path is None:
        return None
    from audit.signing import load_private_key  # cryptography, only when signing

    return load_private_key(path)


def _signed(head: dict, key) -> dict:
    if key is None:
        return head
    from audit.signing import signed

    return signed(head, key)
