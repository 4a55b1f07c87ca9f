"""The callers' side of a log's writer: finding it, starting it, and asking it to commit.

A caller holds connections to the writer, one per thread that is logging at that
moment (an idle one is reused). A request is answered once its records are in a
durable commit; a writer that stops before answering (killed, out of memory) closes
the connection, and the caller fails closed at once. A connection found closed before
a request was sent (the writer ended meanwhile) is replaced, starting a new writer if
none listens: nothing had reached the old one, so nothing can be logged twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from audit.errors import AuditError, AuditWriteError, RecordRefused
from audit.redaction import KEY_ENV
from audit.tables import SCHEMA_VERSION
from audit.writer import protocol
from audit.writer.endpoint import Endpoint

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the directory holding the `audit` package
_WRITER = f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); from audit.writer.server import main; main()"
_RESPAWN_S = 0.05  # after a writer said `busy`, how long to dial the live one before starting another


class RulesetsWanted(Exception):
    """The writer needs the rule sets of these records (the log does not hold one of them)."""


class _Gone(Exception):
    """The connection closed before its first answer: no writer there any more."""


class WriterLink:
    def __init__(self, log: str | os.PathLike, key_check: str, timeout: float, checkpoints: dict | None):
        self.log = log
        self.timeout = timeout
        self.endpoint = Endpoint(log)
        self._hello = {"protocol": protocol.PROTOCOL, "schema_version": SCHEMA_VERSION, "key_check": key_check,
                       "checkpoints": checkpoints}
        self._checkpoints = checkpoints
        self._key_check = key_check
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        self.pid: int | None = None  # the writer's process id, as its last greeting said

    def open(self) -> None:
        """Reach the writer (starting it if needed) now, so that a log that cannot be written
        fails when it is opened rather than at its first decision."""
        try:
            self._give_back(self._dial(time.monotonic() + self.timeout))
        except BaseException:
            self.endpoint.close()
            raise

    def request(self, payload: bytes) -> int:
        """Send a RECORD frame; its last sequence number once durable. Raises the error the
        writer answers, RulesetsWanted, or AuditWriteError if no answer comes."""
        deadline = time.monotonic() + self.timeout
        connection = self._take(deadline)
        try:
            connection.settimeout(max(deadline - time.monotonic(), 0.001))
            connection.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            # the writer ended before the frame was whole: it never commits a frame cut short
            connection.close()
            connection = self._dial(deadline)
            connection.sendall(payload)
        except BaseException:
            connection.close()
            raise
        try:
            kind, body = self._answer(connection, deadline)
        except BaseException:
            connection.close()
            raise
        self._give_back(connection)
        if kind == protocol.SEQ:
            return protocol.read_seq(body)
        if kind == protocol.ERROR and body[:1] == protocol.RULESET_UNKNOWN:
            raise RulesetsWanted()
        if kind == protocol.ERROR:
            protocol.raise_error(body, RecordRefused)
        raise AuditWriteError(f"cannot write decision log {self.log}: its writer answered out of turn")

    def close(self) -> None:
        """Say goodbye on every idle connection; the last caller of a writer hears back once
        the writer has closed the log."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for connection in idle:
            self._goodbye(connection)
        self.endpoint.close()

    def _answer(self, connection: socket.socket, deadline: float) -> tuple[bytes, bytes]:
        frames = protocol.FrameBuffer()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AuditWriteError(f"cannot write decision log {self.log}: its writer did not answer within "
                                      f"{self.timeout:g} s")
            connection.settimeout(remaining)
            try:
                data = connection.recv(1 << 16)
            except TimeoutError:
                continue
            except OSError as error:
                data, reason = b"", error.strerror
            else:
                reason = "it was stopped or killed"
            if not data:
                raise AuditWriteError(f"cannot write decision log {self.log}: its writer ended before answering "
                                      f"({reason}); the decision is not known to be logged")
            try:
                received = frames.feed(data)
            except protocol.ProtocolError as error:
                raise AuditWriteError(f"cannot write decision log {self.log}: its writer answered {error}") from None
            if received:
                return received[0]

    def _take(self, deadline: float) -> socket.socket:
        while True:
            with self._lock:
                if self._closed:
                    raise AuditWriteError(f"cannot write decision log {self.log}: it is closed")
                connection = self._idle.pop() if self._idle else None
            if connection is None:
                return self._dial(deadline)
            if _open(connection):
                return connection
            connection.close()

    def _give_back(self, connection: socket.socket) -> None:
        with self._lock:
            if not self._closed:
                self._idle.append(connection)
                return
        self._goodbye(connection)

    def _goodbye(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError, AuditError):
            connection.sendall(protocol.frame(protocol.BYE))
            self._answer(connection, time.monotonic() + self.timeout)
        connection.close()

    def _dial(self, deadline: float) -> socket.socket:
        """A greeted connection to the log's writer, started if none listens."""
        spawned_at = None
        while True:
            try:
                return self._greet(self.endpoint.connect(max(deadline - time.monotonic(), 0.001)), deadline)
            except (FileNotFoundError, ConnectionRefusedError, TimeoutError, _Gone):
                pass
            now = time.monotonic()
            if now >= deadline:
                raise AuditWriteError(f"cannot write decision log {self.log}: no writer answered within "
                                      f"{self.timeout:g} s")
            if spawned_at is None or now - spawned_at >= _RESPAWN_S:
                self._start_writer(deadline)
                spawned_at = time.monotonic()
            else:
                time.sleep(0.002)

    def _greet(self, connection: socket.socket, deadline: float) -> socket.socket:
        try:
            connection.sendall(protocol.hello(self._hello))
            try:
                kind, body = self._answer(connection, deadline)
            except AuditWriteError:
                raise _Gone() from None
            if kind == protocol.ERROR:
                protocol.raise_error(body, AuditWriteError)
            fields = protocol.read_hello(body) if kind == protocol.HELLO else {}
            if (fields.get("protocol"), fields.get("schema_version")) != (protocol.PROTOCOL, SCHEMA_VERSION):
                raise AuditWriteError(
                    f"cannot write decision log {self.log}: the writer listening beside it (pid {fields.get('pid')}) "
                    f"speaks protocol {fields.get('protocol')} and writes schema version "
                    f"{fields.get('schema_version')}, this Licit protocol {protocol.PROTOCOL} and version "
                    f"{SCHEMA_VERSION}: another Licit version writes this log (stop it, or use the same version)")
            self.pid = fields.get("pid")
            status = os.stat(self.endpoint.log)
            if (fields.get("device"), fields.get("inode")) != (status.st_dev, status.st_ino):
                raise AuditWriteError(f"cannot write decision log {self.log}: the writer listening beside it "
                                      f"(pid {fields.get('pid')}) writes another file")
            return connection
        except (BrokenPipeError, ConnectionResetError):
            connection.close()
            raise _Gone() from None
        except BaseException:
            connection.close()
            raise

    def _start_writer(self, deadline: float) -> None:
        """Start a writer process and wait for its report: ready, busy (another writer holds
        the log: it is dialled), or an error, raised here."""
        arguments = [sys.executable, "-c", _WRITER, str(self.endpoint.log), "--key-check", self._key_check,
                     "--timeout", str(self.timeout)]
        if self._checkpoints is not None:
            arguments += ["--checkpoints", json.dumps(self._checkpoints)]
        environment = {name: value for name, value in os.environ.items() if name != KEY_ENV}  # it needs no key
        try:
            writer = subprocess.Popen(arguments, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=environment, cwd="/", start_new_session=True)
        except OSError as error:
            raise AuditWriteError(f"cannot start the writer of decision log {self.log}: {error.strerror}") from None
        try:
            report, problems = writer.communicate(timeout=max(deadline - time.monotonic(), 0.001))
        except subprocess.TimeoutExpired:
            writer.kill()
            writer.communicate()
            raise AuditWriteError(f"cannot write decision log {self.log}: its writer did not start within "
                                  f"{self.timeout:g} s") from None
        verdict = report.decode("utf-8", "replace").strip()
        if verdict in ("ready", "busy"):
            return
        if verdict.startswith("error "):
            kind, _, message = verdict[len("error "):].partition(" ")
            protocol.raise_error(kind.encode() + message.encode(), AuditWriteError)
        last = problems.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no report"]
        raise AuditWriteError(f"cannot write decision log {self.log}: its writer failed to start ({last[0]})")


def _open(connection: socket.socket) -> bool:
    """Whether an idle connection is still open (its writer may have ended since)."""
    try:
        ready, _, _ = select.select([connection], [], [], 0)
    except (OSError, ValueError):
        return False
    return not ready  # an idle connection has nothing to read but its end
