"""Records handed to the log without waiting for their commit (DecisionLog.submit).

One thread per DecisionLog sends whatever has been submitted since its last request as
one RECORD, and settles each record's future once the writer answers. A caller on an
event loop (the HTTP service) so awaits its commit without holding a thread for it, and
the records of many requests reach the writer as one frame, woken once.

A RECORD is committed all or none. When the writer refuses one of several records (a
decision id it already holds), each is sent again alone, so that one caller's bad record
does not fail the others; a write that fails (the writer gone, a full disk) fails them
all: none of them is known to be logged.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

from audit.errors import AuditError, AuditWriteError, RecordRefused
from audit.records import Entry, Item

MOST_PER_REQUEST = 256  # records in one RECORD: bounds the frame and the commit a caller waits behind

Pending = tuple[Entry, Item, Future]


class Sender:
    def __init__(self, send: Callable[[list[Entry], list[Item]], int], log: str):
        self._send = send  # commits entries (with their items' rule sets); the last sequence number
        self._log = log
        self._pending: list[Pending] = []
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def put(self, entry: Entry, item: Item) -> Future:
        """Queue a prepared record; its future gives its sequence number once it is durable."""
        future: Future = Future()
        with self._changed:
            if self._closed:
                raise AuditWriteError(f"cannot write decision log {self._log}: it is closed")
            self._pending.append((entry, item, future))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="licit-log-sender", daemon=True)
                self._thread.start()
            self._changed.notify()
        return future

    def close(self) -> None:
        """Send what is queued, then stop."""
        with self._changed:
            self._closed = True
            self._changed.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._pending and not self._closed:
                    self._changed.wait()
                if not self._pending:
                    return
                batch, self._pending = self._pending[:MOST_PER_REQUEST], self._pending[MOST_PER_REQUEST:]
            # a caller that gave up (its future cancelled) before its record was sent is not logged;
            # once sent, a record's future can no longer be cancelled, only settled
            batch = [pending for pending in batch if pending[2].set_running_or_notify_cancel()]
            if batch:
                self._settle(batch)

    def _settle(self, batch: list[Pending]) -> None:
        try:
            last = self._send([entry for entry, _, _ in batch], [item for _, item, _ in batch])
        except RecordRefused as error:
            if len(batch) == 1:
                batch[0][2].set_exception(error)
                return
            for pending in batch:  # nothing of the batch was committed: find whose record it was
                self._settle([pending])
            return
        except Exception as error:  # noqa: BLE001 - every waiting caller hears it; none is left waiting
            failure = error if isinstance(error, AuditError) else \
                AuditWriteError(f"cannot write decision log {self._log}: {error}")
            for _, _, future in batch:
                future.set_exception(failure)
            return
        for offset, (_, _, future) in enumerate(batch):
            future.set_result(last - len(batch) + 1 + offset)
