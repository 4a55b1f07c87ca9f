"""Group commit: one durable transaction carries the decisions of every writer waiting.

A durable commit costs an fsync whatever it carries. A writer that finds the
write turn taken leaves its prepared record in a spool and waits; whoever holds
the turn next commits every spooled record together with its own. A waiter that
finds its spool file gone knows its record is committed, and returns without
waiting for the turn: spool files are removed only after the transaction that
carries them has committed.

Beside the log `<log>` (writers create it, readers never look at it):

    <log>-spool/lock            flock(2) held by the writer whose turn it is
    <log>-spool/<name>.entry    a prepared, redacted record waiting for a turn

Threads of one process queue on a lock of their own before the file lock, which
flock(2) would not hold between them. A spool file holds exactly what the log
stores (the redacted flow), never an identifier in clear. A record whose writer
was killed while it waited may still be committed by the next writer: the log can
hold a decision its caller never received, never the reverse.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import itertools
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from audit.records import Entry

__all__ = ["SETTLED", "TAKEN", "TIMED_OUT", "Spool", "WriteTurn", "spool_directory"]

_FIRST_PAUSE_S, _LONGEST_PAUSE_S = 20e-6, 500e-6
TAKEN, SETTLED, TIMED_OUT = "taken", "settled", "timed out"


def spool_directory(log_path: Path) -> Path:
    return Path(f"{os.fspath(log_path)}-spool")


class WriteTurn:
    """The right to write the log: first among this process's threads, then among processes (flock)."""

    def __init__(self, directory: Path, file_mode: int):
        self._changed = threading.Condition()  # notified whenever a thread gives the turn back
        self._held = False
        # flock needs no write access: a writer refused by the log itself then hears why from SQLite.
        self._fd = os.open(directory / "lock", os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, file_mode)

    def try_take(self) -> bool:
        with self._changed:
            if self._held or not self._try_flock():
                return False
            self._held = True
            return True

    def take(self, deadline: float, settled: Callable[[], bool] = lambda: False) -> str:
        """Wait for the turn until `deadline` (time.monotonic), or until `settled()`:
        TAKEN, SETTLED (the turn is not held) or TIMED_OUT."""
        with self._changed:
            while self._held:
                if settled():
                    return SETTLED
                if not self._changed.wait(deadline - time.monotonic()) and time.monotonic() >= deadline:
                    return TIMED_OUT
            self._held = True
        # flock has no timeout: poll, with pauses short beside a commit so that neither
        # the turn nor a waiter whose record a commit has settled is left idle.
        pause = _FIRST_PAUSE_S
        while not self._try_flock():
            if settled() or time.monotonic() >= deadline:
                self._release()
                return SETTLED if settled() else TIMED_OUT
            time.sleep(pause)
            pause = min(2 * pause, _LONGEST_PAUSE_S)
        return TAKEN

    def give_back(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._release()

    def close(self) -> None:
        os.close(self._fd)

    def _release(self) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()

    def _try_flock(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


class Spool:
    """Records waiting for a writer's turn, one file each, oldest first."""

    BATCH = 256  # records taken into one transaction, besides the writer's own

    def __init__(self, directory: Path, file_mode: int):
        self.directory = directory
        self._file_mode = file_mode
        self._names = itertools.count()
        self._empty_at: int | None = None  # the directory's mtime when last found empty

    def put(self, entry: Entry) -> Path:
        """Leave `entry` for the next writer; no fsync: until committed it is not durable anyway."""
        name = f"{time.time_ns():020d}-{os.getpid()}-{threading.get_ident()}-{next(self._names)}"
        written = self.directory / f"{name}.tmp"
        with open(os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, self._file_mode), "w") as file:
            file.write(_dump(entry))
        waiting = written.with_suffix(".entry")
        os.rename(written, waiting)  # whole or absent, for whoever reads the spool
        return waiting

    def waiting(self, exclude: Path | None = None) -> list[tuple[Path, Entry]]:
        """Up to BATCH spooled records, oldest first; files that vanish or do not parse are skipped.

        An unchanged directory that held nothing last time is not listed again (a
        record spooled within the same clock tick is then left to its own writer,
        which commits it in its turn)."""
        changed_at = os.stat(self.directory).st_mtime_ns
        if changed_at == self._empty_at:
            return []
        with os.scandir(self.directory) as found:
            names = sorted(item.name for item in found if item.name.endswith(".entry"))
        taken = []
        for name in names:
            path = self.directory / name
            if path == exclude:
                continue
            with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
                taken.append((path, _load(path.read_text())))
            if len(taken) == self.BATCH:
                break
        self._empty_at = changed_at if not names else None
        return taken

    @staticmethod
    def remove(paths) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def remove_abandoned(self, older_than_s: float = 3600.0) -> None:
        """Half-written files of writers killed while spooling; never read, so only tidied."""
        cutoff = time.time() - older_than_s
        with os.scandir(self.directory) as found:
            stale = [item.path for item in found if item.name.endswith(".tmp") and item.stat().st_mtime < cutoff]
        self.remove(stale)


def _dump(entry: Entry) -> str:
    return json.dumps(dict(dataclasses.asdict(entry), body=entry.body.decode()), ensure_ascii=False)


def _load(text: str) -> Entry:
    fields = json.loads(text)
    return Entry(**dict(fields, body=fields["body"].encode()))
