"""DecisionLog: how the engine (and anything else) writes the tamper-evident decision log.

Every log has one writer process (audit.writer), started by the first caller that
finds none and reached through a Unix socket beside the log. Callers prepare their
records themselves, in parallel (validation, redaction, canonical JSON); the writer
commits whatever has arrived from every thread and process in one durable
transaction, and answers each caller once that commit is on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING

from audit.errors import AuditError, AuditWriteError, RecordRefused
from audit.files import owned_regular_file
from audit.records import Entry, Item, prepare_entry, prepare_ruleset
from audit.schema import default_db_path  # noqa: F401  (where it was before)
from audit.redaction import key_check, resolve_key
from audit.writer import protocol
from audit.writer.client import RulesetsWanted, WriterLink
from audit.writer.sender import Sender

if TYPE_CHECKING:
    from audit.checkpoints import CheckpointPolicy

__all__ = ["DecisionLog", "AuditError", "AuditWriteError", "RecordRefused", "default_db_path"]


class DecisionLog:
    """An append-only, hash-chained decision log in one SQLite file.

    One instance may be shared by many threads; each process opens its own. `record`
    returns once its decision is in a durable commit (WAL, synchronous=FULL), or
    raises AuditWriteError. `checkpoints` (default: $LICIT_AUDIT_CHECKPOINT_DIR and
    its companions, off when unset) makes the writer write checkpoints by itself.
    """

    def __init__(self, path: str | os.PathLike, *, key: bytes | None = None, timeout: float = 5.0,
                 checkpoints: CheckpointPolicy | None = None):
        from audit.checkpoints import CheckpointPolicy  # with its key handling, only when writing

        self.path = Path(path)
        self.timeout = timeout
        self._pid = os.getpid()
        self._stored_digests: set[str] = set()
        new = _check_path(self.path)
        # the key before anything is created: a bad key leaves no file behind
        self._key = resolve_key(self.path, key, create=new)
        policy = checkpoints if checkpoints is not None else CheckpointPolicy.from_environment()
        self._writer = WriterLink(self.path, key_check(self._key), timeout,
                                  policy.as_dict() if policy is not None else None)
        self._writer.open()
        self._sender = Sender(self._commit, str(self.path))

    def record(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> int:
        """Append one decision; returns its sequence number once it is on disk."""
        return self.record_many([(decision, flow, ruleset, duration_s)])

    def record_many(self, items: Iterable[Item]) -> int:
        """Append (decision, flow, ruleset, duration_s) items in one transaction, all or
        none (bulk import, such as `licit audit seed`); returns the last sequence number."""
        self._check_process()
        items = list(items)
        entries = [prepare_entry(decision, flow, duration_s, self._key) for decision, flow, _, duration_s in items]
        if not entries:
            raise AuditError("nothing to record: no decisions given")
        return self._commit(entries, items)

    def submit(self, decision: dict, flow: dict, ruleset: dict, duration_s: float) -> Future:
        """Append one decision without waiting: the future gives its sequence number once it is
        on disk, or raises AuditWriteError. A record that cannot be logged as given raises here.
        Decisions submitted meanwhile, from any thread, go to the writer together (audit.writer.sender)."""
        self._check_process()
        entry = prepare_entry(decision, flow, duration_s, self._key)
        return self._sender.put(entry, (decision, flow, ruleset, duration_s))

    def _commit(self, entries: list[Entry], items: list[Item]) -> int:
        new = self._rulesets(items, entries, skip=self._stored_digests)
        try:
            seq = self._writer.request(protocol.record_request(entries, new))
        except RulesetsWanted:  # the log lacks one this process thought it held: send them all
            new = self._rulesets(items, entries, skip=set())
            try:
                seq = self._writer.request(protocol.record_request(entries, new))
            except RulesetsWanted:
                raise AuditWriteError(f"cannot write decision log {self.path}: its writer refuses the rule set "
                                      "sent with the decision") from None
        self._stored_digests.update(ruleset.digest for ruleset in new)
        return seq

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            raise AuditWriteError(
                f"cannot write decision log {self.path}: opened in another process (open one per process)"
            )

    def close(self) -> None:
        """Send what was submitted, then let go of the writer: if this was its last caller, it
        closes the log before this returns."""
        self._sender.close()
        self._writer.close()

    def __enter__(self) -> DecisionLog:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @staticmethod
    def _rulesets(items: list[Item], entries, skip: set[str]) -> list:
        wanted = {}
        for (_, _, ruleset, _), entry in zip(items, entries):
            if entry.ruleset_digest not in skip and entry.ruleset_digest not in wanted:
                wanted[entry.ruleset_digest] = prepare_ruleset(ruleset, entry.ruleset_digest)
        return list(wanted.values())


def _check_path(path: Path) -> bool:
    """Whether the log is new; AuditWriteError if its directory is missing or cannot be written
    (for a new log), or if what is at `path` is not a regular file of this user's that it may write
    (a symlink or a file planted by someone else would make another file the log). Checked here,
    before a writer is started: the writer runs as this user and would fail the same way."""
    if not path.parent.is_dir():
        raise AuditWriteError(f"cannot open decision log {path}: directory {path.parent} does not exist")
    if not os.path.lexists(path):
        if not os.access(path.parent, os.W_OK | os.X_OK):
            raise AuditWriteError(f"cannot create decision log {path}: its directory is not writable")
        return True
    os.close(owned_regular_file(path, "decision log", writing=True, error=AuditWriteError))
    return False
