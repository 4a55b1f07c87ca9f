"""Copying the log's WAL into the log file (SQLite's checkpoint), off the callers' path.

The writer's commits only append to the WAL (wal_autocheckpoint=0). Copying its pages into
the log file and syncing it costs about 10 ms per 1,000 WAL pages (150 records or so): done
inside a commit, as SQLite does by itself, every caller waiting for that commit would wait
for it too. A thread of the writer does it instead, on a connection of its own, at most
every INTERVAL_S while records arrive: a PASSIVE checkpoint never blocks a commit, and
SQLite releases the GIL while it copies.

SQLite writes the WAL from its start again only once every frame in it has been copied,
which a copy running beside steady commits never achieves: past MAX_FRAMES, the writer
copies the few frames left itself, between two batches (catch_up).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading

INTERVAL_S = 0.02  # between copies while records arrive: a page rewritten meanwhile is copied once
# About 4 MB of WAL, SQLite's default: a commit that extends the WAL file costs more than one that
# overwrites it (the file's size must reach the disk too): 2.1-2.2 bare commits against 1.3-1.7
MAX_FRAMES = 1000


class WalCopier:
    def __init__(self, path: str):
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # it copies when told, never on its own
        self._written = threading.Event()
        self._stopping = threading.Event()
        self.frames = 0  # the WAL's length in frames when it was last copied
        self._thread = threading.Thread(target=self._run, name="licit-wal-copier", daemon=True)
        self._thread.start()

    def written(self) -> None:
        """The writer committed: there are frames to copy."""
        self._written.set()

    def catch_up(self, conn: sqlite3.Connection) -> None:
        """On the writer's own connection, between batches: copy what is left once the WAL
        is past MAX_FRAMES, so that the next commit starts it again from its start."""
        if self.frames >= MAX_FRAMES:
            self.frames = _copy(conn, self.frames)

    def close(self) -> None:
        self._stopping.set()
        self._written.set()
        self._thread.join()
        self._conn.close()

    def _run(self) -> None:
        while True:
            self._written.wait()
            if self._stopping.is_set():
                return
            self._written.clear()
            self.frames = _copy(self._conn, self.frames)
            if self._stopping.wait(INTERVAL_S):
                return


def _copy(conn: sqlite3.Connection, frames: int) -> int:
    """A PASSIVE checkpoint; the frames it leaves in the WAL to be copied (`frames` if it could not
    run: another copy was under way, or the disk is full; the WAL then waits for the next)."""
    with contextlib.suppress(sqlite3.Error):
        busy, length, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if not busy and length >= 0:
            return 0 if copied == length else length
    return frames
