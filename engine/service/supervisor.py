"""`licit serve`: bind the socket, fork the workers, pass on signals, start a worker again if one dies.

The supervisor itself loads no rules and opens no log (it forks, so it starts no thread). Every
worker accepts connections on the one listening socket. Signals:

- SIGTERM / SIGINT: every worker stops accepting, finishes what is under way and closes its log;
  the supervisor exits 0 once all have (1 if one of them failed).
- SIGHUP: every worker reloads the rule tree. A ``POST /v1/rules/reload`` that succeeded in one
  worker has the supervisor send SIGHUP to the others.
"""
from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass

from engine.service.eventlog import log_event
from engine.service.settings import ServiceSettings, is_loopback
from rules.wording import counted

__all__ = ["ServeError", "serve"]

METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_RESTART_PAUSE_S = 1.0


class ServeError(Exception):
    """The service could not start; the message says why in one line."""


@dataclass
class _Worker:
    pid: int
    channel: int  # read end of the worker's pipe
    pending: bytes = b""
    ready: bool = False


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise ServeError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    listener.listen(2048)
    listener.set_inheritable(True)
    return listener


class Supervisor:
    def __init__(self, settings: ServiceSettings, listener: socket.socket, metrics_dir: str):
        self.settings = settings
        self.listener = listener
        self.metrics_dir = metrics_dir
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.failed = False
        self._signals: list[int] = []
        # the workers watch its read end: at its EOF, the supervisor is gone (even by SIGKILL) and they drain
        self._lifeline_read, self._lifeline_write = os.pipe()

    def _spawn(self) -> _Worker:
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read_end)
            os.close(self._lifeline_write)
            for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD):
                signal.signal(handled, signal.SIG_DFL)
            signal.set_wakeup_fd(-1)
            os.close(self._wakeup_read)
            status = 1
            try:
                from engine.service.worker import run_worker

                status = run_worker(self.settings, self.listener, write_end, self._lifeline_read)
            except BaseException as error:  # noqa: BLE001 - said, without its message, before the worker ends
                from engine.service.eventlog import log_exception
                from engine.service.worker import FAILED

                log_exception("worker_failed", error)
                os.write(write_end, f"{FAILED} the worker failed: {type(error).__name__} (see the log)\n".encode())
            finally:
                os._exit(status)
        os.close(write_end)
        worker = _Worker(pid, read_end)
        self.workers[pid] = worker
        return worker

    def start(self) -> None:
        """Start every worker and wait until all are ready; ServeError if one cannot start."""
        for _ in range(self.settings.workers):
            self._spawn()
        while not all(worker.ready for worker in self.workers.values()) and not self.stopping:
            failure = self._poll(timeout=1.0, starting=True)
            if failure:
                self._stop_all()
                raise ServeError(failure)

    def run(self) -> int:
        """Until stopped and every worker has drained: workers still draining well past the drain
        time are killed (what they logged stays whole: a record is committed or absent)."""
        deadline = None
        while self.workers or not self.stopping:
            self._poll(timeout=1.0)
            if self.stopping and deadline is None:
                deadline = time.monotonic() + self.settings.drain_seconds + 5
            if deadline is not None and time.monotonic() > deadline:
                for worker in list(self.workers.values()):
                    log_event("worker_killed", level="error", worker=worker.pid, reason="still draining")
                    self._send(worker.pid, signal.SIGKILL)
                self.failed = True
                deadline = time.monotonic() + 5
        return 1 if self.failed else 0

    def _poll(self, timeout: float, starting: bool = False) -> str | None:
        """Handle what workers said and the signals received; during start, a worker's failure."""
        channels = {worker.channel: worker for worker in self.workers.values()}
        try:
            readable, _, _ = select.select([*channels, self._wakeup_read], [], [], timeout)
        except InterruptedError:
            readable = []
        failure = None
        for fd in readable:
            if fd == self._wakeup_read:
                os.read(fd, 512)
                continue
            worker = channels[fd]
            data = os.read(fd, 65536)
            worker.pending += data
            *lines, worker.pending = worker.pending.split(b"\n")
            for line in lines:
                failure = self._heard(worker, line.decode(errors="replace")) or failure
        reaped = self._reap(starting)
        failure = failure or reaped
        while self._signals:
            self._signalled(self._signals.pop(0))
        return failure

    def _heard(self, worker: _Worker, message: str) -> str | None:
        from engine.service.worker import FAILED, READY, RELOADED

        if message == READY:
            worker.ready = True
        elif message == RELOADED:  # the others follow the worker that reloaded
            for other in self.workers.values():
                if other.pid != worker.pid:
                    self._send(other.pid, signal.SIGHUP)
        elif message.startswith(FAILED):
            return message[len(FAILED):].strip()
        return None

    def _reap(self, starting: bool) -> str | None:
        failure = None
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            for line in self._drain_channel(worker):
                failure = self._heard(worker, line) or failure
            os.close(worker.channel)
            _mark_dead(pid)
            code = os.waitstatus_to_exitcode(status)
            if self.stopping:  # killed by the SIGTERM itself: it was still loading, nothing under way
                self.failed = self.failed or code not in (0, -signal.SIGTERM)
                continue
            if starting:
                failure = failure or f"a worker exited ({_describe(code)}) while starting"
                continue
            log_event("worker_exited", level="error", worker=pid, status=_describe(code))
            time.sleep(_RESTART_PAUSE_S)
            self._spawn()
        return failure

    @staticmethod
    def _drain_channel(worker: _Worker) -> list[str]:
        """What an exited worker said last, not yet read."""
        try:
            while data := os.read(worker.channel, 65536):
                worker.pending += data
        except OSError:
            pass
        return [line.decode(errors="replace") for line in worker.pending.split(b"\n") if line]

    def _signalled(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            if not self.stopping:
                log_event("stopping", signal=signal.Signals(signum).name, workers=len(self.workers))
            self.stopping = True
            self.listener.close()  # with the workers' copies closed too, new connections are refused at once
            self._stop_all()
        elif signum == signal.SIGHUP:
            log_event("reload_requested", signal="SIGHUP", workers=len(self.workers))
            for worker in self.workers.values():
                self._send(worker.pid, signal.SIGHUP)

    def _stop_all(self) -> None:
        for worker in self.workers.values():
            self._send(worker.pid, signal.SIGTERM)

    @staticmethod
    def _send(pid: int, signum: int) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    # signals arrive through a pipe: the loop wakes on them and handles them outside the handler
    def install_signals(self) -> None:
        self._wakeup_read, wakeup_write = os.pipe()
        for fd in (self._wakeup_read, wakeup_write):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(wakeup_write)
        for handled in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(handled, lambda signum, _frame: self._signals.append(signum))
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # wakes the loop to reap


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def _describe(code: int) -> str:
    return f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"


def serve(settings: ServiceSettings, announce=print) -> int:
    """Run the service until SIGTERM or SIGINT; the exit status. ServeError if it cannot start."""
    listener = bind(settings.host, settings.port)
    metrics_dir = tempfile.mkdtemp(prefix="licit-metrics-")
    os.environ[METRICS_ENV] = metrics_dir  # before any worker imports prometheus_client
    supervisor = Supervisor(settings, listener, metrics_dir)
    supervisor.install_signals()
    try:
        supervisor.start()
        if supervisor.stopping:  # stopped while starting
            return supervisor.run()
        host, port = listener.getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
        if not is_loopback(settings.host) and not settings.tokens.enabled:
            log_event("open_to_network", level="warning",
                      message=f"listening on {settings.host} without bearer tokens: anyone who reaches it may "
                              f"decide flows, read decisions and reload rules")
        log_event("listening", url=url, workers=settings.workers, rules=str(settings.rules_dir),
                  matcher=settings.matcher, log=str(settings.audit_db), tokens=settings.tokens.enabled)
        announce(f"licit serve: listening on {url} ({counted(settings.workers, 'worker')}, rules {settings.rules_dir}, "
                 f"log {settings.audit_db})")
        return supervisor.run()
    finally:
        listener.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
