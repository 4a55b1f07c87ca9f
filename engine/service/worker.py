"""One worker process: its engine and log, the app, and uvicorn serving the supervisor's socket.

Signals: SIGTERM or SIGINT stop taking connections, let requests under way finish (up to
``drain_seconds``), then close the log; so does the supervisor's end, however it came (its
lifeline pipe reads EOF), so that no worker outlives it holding the port and the log. SIGHUP
reloads the rule tree (the last good one stays if the new one does not load). The worker tells
the supervisor over its pipe when it is ready (or why it could not start) and when a
``POST /v1/rules/reload`` succeeded, so that the supervisor has the other workers reload too.
"""
from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket

import uvicorn

from engine.service.eventlog import log_event, log_exception
from engine.service.settings import ServiceSettings

__all__ = ["run_worker", "READY", "RELOADED", "FAILED"]

READY, RELOADED, FAILED = "ready", "reloaded", "failed"


class _Server(uvicorn.Server):
    """uvicorn's server with Licit's signals: it drains on SIGTERM/SIGINT, reloads rules on SIGHUP,
    and (unlike uvicorn alone) does not kill itself with the signal once drained."""

    def __init__(self, config: uvicorn.Config, app, lifeline: int):
        super().__init__(config)
        self.licit_app = app
        self.lifeline = lifeline

    @contextlib.contextmanager
    def capture_signals(self):
        loop = asyncio.get_running_loop()
        stops = (signal.SIGTERM, signal.SIGINT)
        for stop in stops:
            loop.add_signal_handler(stop, self._stop, stop)
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(self._reload()))
        loop.add_reader(self.lifeline, self._orphaned)
        try:
            yield
        finally:
            loop.remove_reader(self.lifeline)
            for handled in (*stops, signal.SIGHUP):
                loop.remove_signal_handler(handled)

    def _stop(self, signum: int) -> None:
        self._drain(signal=signal.Signals(signum).name)

    def _orphaned(self) -> None:
        asyncio.get_running_loop().remove_reader(self.lifeline)  # EOF stays readable
        self._drain(level="error", reason="the supervisor is gone")

    def _drain(self, **why: str) -> None:
        if not self.should_exit:
            log_event("draining", **why)
        self.should_exit = True

    async def _reload(self) -> None:
        try:
            await self.licit_app.reload("SIGHUP")
        except Exception as error:  # noqa: BLE001 - a failed reload keeps serving the rules in force
            log_exception("rules_reload_failed", error)


def _tell(channel: int, message: str) -> None:
    with contextlib.suppress(OSError):
        os.write(channel, (message.replace("\n", " ")[:3000] + "\n").encode())


def run_worker(settings: ServiceSettings, listener: socket.socket, channel: int, lifeline: int) -> int:
    """Serve until stopped or the supervisor is gone (EOF on `lifeline`); the exit status of the worker process."""
    from engine.errors import LicitError
    from engine.service.app import DecisionApp
    from engine.service.decider import Decider
    from engine.service.metrics import Metrics
    from rules.errors import RuleSetError

    try:
        decider = Decider(settings)
    except RuleSetError as error:
        _tell(channel, f"{FAILED} the rule set does not load ({len(error.errors)} errors): "
                       + "; ".join(str(item) for item in error.errors[:5]))
        return 1
    except LicitError as error:
        _tell(channel, f"{FAILED} {error}")
        return 1
    gc.freeze()  # what loading made lives as long as the worker: full collections need not walk it (Decider)
    app = DecisionApp(decider, Metrics(), on_reload=lambda: _tell(channel, RELOADED))
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    config = uvicorn.Config(app, lifespan="off", access_log=False, log_config=None, server_header=False,
                            timeout_graceful_shutdown=settings.drain_seconds, loop=_loop(), http=_http())
    server = _Server(config, app, lifeline)
    try:
        _tell(channel, READY)
        server.run(sockets=[listener])
    finally:
        app.close()
        decider.close()
        log_event("stopped", log=str(settings.audit_db), log_closed=True)
    return 0


def _loop() -> str:
    return "uvloop" if _importable("uvloop") else "asyncio"


def _http() -> str:
    return "httptools" if _importable("httptools") else "h11"


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
