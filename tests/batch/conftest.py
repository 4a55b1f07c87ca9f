"""Fixtures for replay, impact and to-scenario: logs seeded with real decisions, copies of them to
alter, and altering a record behind the log's back."""
from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.batch.seed import seed_log
from tests.conftest import PACKS

KEY = "test-key-0123456789abcdef"
# changes a record's flow without changing what it means: its stored hash no longer matches it
ALTER_FLOW = "UPDATE decisions SET flow = replace(flow, '\"age\":', '\"age\": ') WHERE seq = ?"


@pytest.fixture(autouse=True)
def audit_key(monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", KEY)


def seeded(path: Path, count: int, *, rules_dir: Path = PACKS, seed: int = 1, days: float = 30) -> Path:
    """A new log of `count` decisions the engine makes on `rules_dir` (for module fixtures: sets the key itself)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LICIT_AUDIT_KEY", KEY)
        seed_log(path, count, rules_dir=rules_dir, seed=seed, days=days)
    return path


def copy_log(source: Path, target: Path) -> Path:
    """A consistent copy of a log (SQLite's backup: the -wal's content included)."""
    reader, writer = sqlite3.connect(source), sqlite3.connect(target)
    reader.backup(writer)
    reader.close()
    writer.close()
    return target


def writable(db: Path) -> sqlite3.Connection:
    """A connection to the log with its append-only triggers dropped, as a forger would open it."""
    conn = sqlite3.connect(db, isolation_level=None)
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f'DROP TRIGGER "{name}"')
    return conn


def alter(db: Path, statement: str, *params) -> None:
    conn = writable(db)
    conn.execute(statement, params)
    conn.close()
