"""What `licit serve` is told: where to listen, which rules, which log, which limits."""
from __future__ import annotations

import datetime as dt
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from engine.service.tokens import Tokens

__all__ = ["ServiceSettings", "parse_duration", "is_loopback"]

DEFAULT_PORT = 8181  # OPA's: clients written for OPA find Licit where they expect a policy engine
_DURATION = re.compile(r"(\d+)(s|m|h|d)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> dt.timedelta | None:
    """``90s``, ``30m``, ``24h``, ``7d``; ``off`` for no limit (None). ValueError otherwise."""
    if text.strip().lower() == "off":
        return None
    match = _DURATION.fullmatch(text.strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a duration like 30m, 24h or 7d (or off), not {text!r}")
    return dt.timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ServiceSettings:
    rules_dir: Path
    audit_db: Path
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    workers: int = 1
    tokens: Tokens = field(default_factory=lambda: Tokens({}))
    max_body_bytes: int = 1_000_000
    max_batch: int = 100
    max_request_age: dt.timedelta | None = dt.timedelta(hours=24)
    drain_seconds: float = 30.0  # SIGTERM: how long in-flight requests may take to finish
    access_log: bool = True
    threads: int = 8  # per worker, for blocking work: reading the log, reloading rules
    matcher: str | None = None  # engine.matching's choice when None
