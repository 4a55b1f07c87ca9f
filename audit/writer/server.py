"""The writer process of one log: started by the first caller that finds none, it
commits what every connected caller has sent in one durable transaction, answers
each caller after that commit, and exits when its last caller has gone.

Run as `python -c ... main()` by audit.writer.client. It reports on its standard
output, in one line, `ready`, `busy` (another writer holds the log) or `error <class>
<message>`, then detaches (a session of its own, standard streams closed).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import selectors
import signal
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass, field

from audit.checkpoints import AutomaticCheckpoints, CheckpointPolicy
from audit.errors import AuditError, AuditWriteError, RecordRefused
from audit.files import create_or_open_owned, refuse_foreign
from audit.tables import SCHEMA_VERSION
from audit.writer import protocol
from audit.writer.appender import Appender, Refused, RulesetUnknown, Submission
from audit.writer.endpoint import Endpoint, refuse_peer

DERIVE_EVERY = 256  # records committed before their rows are derived, while callers keep the writer busy
IDLE_S = 0.005  # or as soon as the writer has had nothing to do for this long
_READ = 1 << 16  # per recv: larger reads allocate (and free) more than a request needs


@dataclass(eq=False)
class _Caller:
    connection: socket.socket
    frames: protocol.FrameBuffer = field(default_factory=protocol.FrameBuffer)
    greeted: bool = False


class Writer:
    def __init__(self, appender: Appender, endpoint: Endpoint, listener: socket.socket, socket_inode: int,
                 checkpoints: AutomaticCheckpoints | None, timeout: float):
        self.appender = appender
        self.endpoint = endpoint
        self.listener = listener
        self.socket_inode = socket_inode
        self.checkpoints = checkpoints
        self.timeout = timeout
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, selectors.EVENT_READ)
        self.callers: dict[socket.socket, _Caller] = {}
        self.stopping = False
        self.served = False  # whether a caller was ever greeted: the writer exits once none is left
        self.broken: str | None = None  # why records are refused from now on (the log cannot be derived)
        self.hello = {"protocol": protocol.PROTOCOL, "schema_version": SCHEMA_VERSION, "pid": os.getpid(),
                      "device": os.stat(appender.path).st_dev, "inode": os.stat(appender.path).st_ino}

    def serve(self) -> None:
        busy_until = started = time.monotonic()  # when the writer last answered a request
        while not self.stopping:
            events = self.selector.select(self._wait(busy_until))
            batch: list[tuple[_Caller, Submission]] = []
            for key, _ in events:
                if self.stopping:  # the last caller said goodbye: the others had not been greeted
                    break
                if key.fileobj is self.listener:
                    self._accept()
                else:
                    self._read(self.callers.get(key.fileobj), batch)
            if batch:
                self._commit(batch)
                busy_until = time.monotonic()
            self._housekeeping(busy_until)
            if not any(caller.greeted for caller in self.callers.values()):
                if self.served or time.monotonic() - started > self.timeout:
                    return  # the last caller has gone (or none came)

    def _wait(self, busy_until: float) -> float | None:
        deadlines = [time.monotonic() + self.timeout]
        if self.appender.underived:
            deadlines.append(busy_until + IDLE_S)
        checkpoint_due = self.checkpoints.deadline(self.appender.head[0]) if self.checkpoints is not None else None
        if checkpoint_due is not None:
            deadlines.append(checkpoint_due)
        return max(0.0, min(deadlines) - time.monotonic())

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return
            try:
                refuse_peer(connection, "a caller")
            except AuditWriteError:
                connection.close()
                continue
            connection.setblocking(False)
            self.callers[connection] = _Caller(connection)
            self.selector.register(connection, selectors.EVENT_READ)

    def _read(self, caller: _Caller | None, batch: list) -> None:
        if caller is None:
            return
        try:
            data = caller.connection.recv(_READ)
            frames = caller.frames.feed(data) if data else None
        except (BlockingIOError, InterruptedError):
            return
        except (OSError, protocol.ProtocolError):
            frames = None
        if frames is None:  # gone, or not speaking the protocol: a frame cut short is dropped unread
            self._drop(caller)
            return
        for kind, body in frames:
            if kind == protocol.RECORD and caller.greeted:
                batch.append((caller, self._submission(caller, body)))
            elif kind == protocol.HELLO and not caller.greeted:
                self._greet(caller, body)
            elif kind == protocol.BYE:
                self._goodbye(caller)
                return
            else:
                self._drop(caller)
                return

    def _submission(self, caller: _Caller, body: bytes) -> Submission:
        try:
            entries, rulesets = protocol.read_record_request(body)
        except protocol.ProtocolError as error:
            return Submission([], [], error=Refused(f"cannot write decision log {self.appender.path}: {error}"))
        return Submission(entries, rulesets)

    def _greet(self, caller: _Caller, body: bytes) -> None:
        try:
            wanted = protocol.read_hello(body)
        except protocol.ProtocolError:
            self._drop(caller)
            return
        policy = self.checkpoints.policy.as_dict() if self.checkpoints is not None else None
        if wanted.get("protocol") != protocol.PROTOCOL or wanted.get("schema_version") != SCHEMA_VERSION:
            reply = protocol.error(protocol.WRITE_FAILED, (
                f"the writer of decision log {self.appender.path} (pid {os.getpid()}) speaks protocol "
                f"{protocol.PROTOCOL} and writes schema version {SCHEMA_VERSION}; this caller wants protocol "
                f"{wanted.get('protocol')} and version {wanted.get('schema_version')}: another Licit version "
                "writes this log (stop it, or use the same version)"))
        elif wanted.get("key_check") != self.appender.key_check:
            reply = protocol.error(protocol.LOG_REFUSED, (
                f"the audit key does not match the key decision log {self.appender.path} was created with"))
        elif wanted.get("checkpoints") != policy:
            reply = protocol.error(protocol.LOG_REFUSED, (
                f"the writer of decision log {self.appender.path} (pid {os.getpid()}) writes automatic "
                f"checkpoints as {json.dumps(policy)}; this caller asks for {json.dumps(wanted.get('checkpoints'))}: "
                "every writer of a log must ask for the same"))
        else:
            caller.greeted = self.served = True
            reply = protocol.hello(self.hello)
        self._send(caller, reply)

    def _goodbye(self, caller: _Caller) -> None:
        """The caller closes: if it is the last, the log is closed before it hears back, so
        that it may remove or reopen the log's files knowing no writer holds them."""
        caller.greeted = False
        if not any(other.greeted for other in self.callers.values()):
            self.shut_down(answering=caller)
        self._send(caller, protocol.frame(protocol.BYE))
        self._drop(caller)

    def _commit(self, batch: list[tuple[_Caller, Submission]]) -> None:
        submissions = [submission for _, submission in batch if submission.error is None]
        if self.broken is not None:
            for submission in submissions:
                submission.error = AuditWriteError(self.broken)
        elif submissions:
            self.appender.append(submissions)
            self._checkpoint_if_due(submissions)
        for caller, submission in batch:
            if caller.connection.fileno() < 0:
                continue
            if submission.error is None:
                self._send(caller, protocol.seq_reply(submission.seq))
            else:
                self._send(caller, _error_reply(submission.error))

    def _checkpoint_if_due(self, submissions: list[Submission]) -> None:
        """A checkpoint due now is written before the callers hear back; if it cannot be, they
        get AuditWriteError (their records are in the log, but the operator asked for it)."""
        now = time.monotonic()
        if self.checkpoints is None or not self.checkpoints.due(self.appender.head[0], now):
            return
        try:
            self.checkpoints.write(*self.appender.head, now)
        except AuditError as error:
            for submission in submissions:
                if submission.error is None:
                    submission.error, submission.seq = AuditWriteError(str(error)), None

    def _housekeeping(self, busy_until: float) -> None:
        now = time.monotonic()
        if self.appender.underived >= DERIVE_EVERY or (self.appender.underived and now - busy_until >= IDLE_S):
            self.derive()
        if self.checkpoints is not None and self.checkpoints.due(self.appender.head[0], now, between_batches=True):
            try:
                self.checkpoints.write(*self.appender.head, now)
            except AuditError:
                pass  # tried again with the next batch, whose callers then hear why

    def derive(self) -> None:
        if self.broken is not None:
            return
        try:
            self.appender.derive_pending()
        except sqlite3.IntegrityError as error:
            # Records derive cleanly unless the log was altered behind the writer's back: stop taking records.
            self.broken = (f"cannot write decision log {self.appender.path}: its lookup rows cannot be derived "
                           f"({error}); the log was altered (run `licit audit verify`)")
        except sqlite3.Error:
            pass  # a full disk, say: the records stay underived (queries read them from the chain) until later

    def _send(self, caller: _Caller, data: bytes) -> None:
        try:
            caller.connection.sendall(data)
        except OSError:  # gone, or not reading its replies
            self._drop(caller)

    def _drop(self, caller: _Caller) -> None:
        if caller.connection in self.callers:
            self.selector.unregister(caller.connection)
            del self.callers[caller.connection]
        caller.connection.close()

    def shut_down(self, answering: _Caller | None = None) -> None:
        """Stop listening, derive what is left and close the log (SQLite then checkpoints
        its WAL into the file and removes it); `answering` is the caller whose goodbye
        is answered once that is done."""
        if self.stopping:
            return
        self.stopping = True
        self.endpoint.remove(self.socket_inode)
        self.selector.unregister(self.listener)
        self.listener.close()
        for caller in [caller for caller in self.callers.values() if not caller.greeted and caller is not answering]:
            self._drop(caller)  # connected but not yet greeted: they will start the next writer
        self.derive()
        if self.checkpoints is not None and self.checkpoints.due(self.appender.head[0], float("inf")):
            with contextlib.suppress(AuditError):  # the last records get a checkpoint too, if it can be written
                self.checkpoints.write(*self.appender.head, time.monotonic())
        self.appender.conn.close()


def _error_reply(error: Exception) -> bytes:
    if isinstance(error, RulesetUnknown):
        return protocol.error(protocol.RULESET_UNKNOWN, str(error))
    if isinstance(error, (Refused, RecordRefused)):
        return protocol.error(protocol.REFUSED, str(error))
    return protocol.error(protocol.WRITE_FAILED, str(error))


def main(argv: list[str] | None = None) -> None:
    arguments = _parse(argv if argv is not None else sys.argv[1:])
    status = os.fdopen(os.dup(1), "w")
    if os.fork():  # the caller waits for this process; the writer lives on in the child
        os._exit(0)
    os.setsid()
    _detach()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past a file size limit, a write fails instead of killing
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    writer = None
    try:
        writer, verdict = _start(arguments)
    except (AuditError, sqlite3.Error, OSError) as error:
        kind = protocol.LOG_REFUSED if isinstance(error, AuditError) and not isinstance(error, AuditWriteError) \
            else protocol.WRITE_FAILED
        message = str(error) if isinstance(error, AuditError) else \
            f"cannot write decision log {arguments.log}: {getattr(error, 'strerror', None) or error}"
        verdict = f"error {kind.decode()} {message}"
    status.write(verdict.replace("\n", " ") + "\n")
    status.close()
    if writer is None:
        os._exit(0)
    signal.signal(signal.SIGTERM, _stop)
    try:
        writer.serve()
    finally:
        writer.shut_down()
    os._exit(0)


def _stop(*_) -> None:
    raise SystemExit(0)  # out of select or a transaction (rolled back); the callers waiting then fail closed


def _start(arguments: argparse.Namespace) -> tuple[Writer | None, str]:
    """Open and lock the log, start the appender, listen: (the writer, "ready"), or (None,
    "busy") when a live writer holds the log."""
    log, created = create_or_open_owned(arguments.log, "decision log", 0o666, error=AuditWriteError)
    try:
        return _open(arguments, log)
    except BaseException:
        if created and os.fstat(log).st_size == 0:  # nothing was written: no empty log is left behind
            with contextlib.suppress(OSError):
                os.unlink(arguments.log)
        raise


def _open(arguments: argparse.Namespace, log: int) -> tuple[Writer | None, str]:
    endpoint = Endpoint(arguments.log)
    deadline = time.monotonic() + arguments.timeout
    while True:
        try:
            fcntl.flock(log, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held for life: the lock of a dead writer is gone
            break
        except BlockingIOError:
            if _answers(endpoint) or time.monotonic() >= deadline:
                return None, "busy"  # a live writer, or one that will not stop: the caller dials it
            time.sleep(0.005)
    for suffix in ("-wal", "-shm"):  # SQLite opens these by name: they must be the log's own
        try:
            refuse_foreign(os.lstat(f"{arguments.log}{suffix}"), f"{arguments.log}{suffix}", "decision log file",
                           error=AuditWriteError)
        except FileNotFoundError:
            pass
    # Another program holding SQLite's lock is waited for half the callers' timeout, so that they hear why.
    conn = sqlite3.connect(arguments.log, timeout=arguments.timeout / 2, isolation_level=None,
                           check_same_thread=False)
    if (os.stat(arguments.log).st_ino, os.stat(arguments.log).st_dev) != (os.fstat(log).st_ino, os.fstat(log).st_dev):
        raise AuditWriteError(f"cannot write decision log {arguments.log}: it was replaced while it was opened")
    appender = Appender(conn, arguments.log, arguments.key_check)
    policy = CheckpointPolicy(**json.loads(arguments.checkpoints)) if arguments.checkpoints else None
    checkpoints = AutomaticCheckpoints(policy, conn, arguments.log, appender.head[0], time.monotonic()) \
        if policy else None
    listener, inode = endpoint.listen()
    listener.setblocking(False)
    writer = Writer(appender, endpoint, listener, inode, checkpoints, arguments.timeout)
    writer.derive()  # what a writer killed between batches left to derive
    return writer, "ready"


def _answers(endpoint: Endpoint) -> bool:
    try:
        endpoint.connect(0.5).close()
        return True
    except (OSError, AuditError):
        return False


def _detach() -> None:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="licit decision log writer")
    parser.add_argument("log")
    parser.add_argument("--key-check", required=True)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--checkpoints", help="a CheckpointPolicy as JSON")
    return parser.parse_args(argv)


