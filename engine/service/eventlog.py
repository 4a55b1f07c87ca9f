"""The service's own log: one JSON object a line on standard error. It names requests, decisions
and reloads by ids, outcomes, rule ids and field paths, never by what a flow holds: no applicant
identifier, and no field value (an invalid flow may carry an id number in the wrong field). Lines
are ASCII (JSON escapes the rest), so that no input can split a line or reach a terminal raw."""
from __future__ import annotations

import json
import os
import sys
import time
import traceback

__all__ = ["log_event", "log_exception"]


def log_event(event: str, **fields: object) -> None:
    record = {"ts": _now(), "pid": os.getpid(), "event": event, **fields}
    try:
        sys.stderr.write(json.dumps(record, default=str) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or full stderr must not fail a request
        pass


def log_exception(event: str, error: BaseException, **fields: object) -> None:
    """An unexpected failure: its type and where it happened, without its message, which may quote input."""
    frames = [f"{frame.filename}:{frame.lineno} in {frame.name}" for frame in traceback.extract_tb(error.__traceback__)]
    log_event(event, level="error", error=type(error).__name__, at=frames[-8:], **fields)


def _now() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
