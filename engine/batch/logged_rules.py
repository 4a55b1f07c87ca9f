"""Engines on the rule sets a decision log stores, so that a logged decision is decided again on
exactly the rule files it was made with, whatever the rule folders on disk hold now."""
from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
import tempfile
from collections import OrderedDict
from pathlib import Path, PurePosixPath

from audit import AuditError, load_ruleset
from engine.core import Engine
from rules.errors import LicitError, RuleSetError

__all__ = ["LoggedClock", "StoredRuleSets", "UnusableRuleSet", "engine_on_files"]


class UnusableRuleSet(Exception):
    """A stored rule set that cannot decide: missing from the log, altered, or refused by this Licit."""


class LoggedClock:
    """An engine's clock set, before each decision, to the instant the logged decision was made:
    a replay decides as at that instant (the engine's view of now included), not as today."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now


def engine_on_files(files: dict[str, str], *, clock: LoggedClock | None = None) -> Engine:
    """An engine on the rule files `files` ({path within the tree: source}), as a log stores them.
    They are written to a temporary folder only while the engine loads them (it keeps them in memory)."""
    with tempfile.TemporaryDirectory(prefix="licit-logged-rules-") as directory:
        root = Path(directory)
        for relative, source in files.items():
            path = root / _relative(relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(source, encoding="utf-8")
        try:
            return Engine(rules_dir=root) if clock is None else Engine(rules_dir=root, clock=clock)
        except RuleSetError as error:
            # the folder is gone once loaded: name each file by its path within the stored tree
            raise RuleSetError([dataclasses.replace(item, file=_within(item.file, root)) for item in error.errors]
                               ) from None


def _within(file: str, root: Path) -> str:
    try:
        return Path(file).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return file


def _relative(path: str) -> PurePosixPath:
    """A stored path, refused if it would write outside the folder (only a forged log holds such)."""
    relative = PurePosixPath(path)
    if relative.is_absolute() or not relative.parts or any(part in ("..", "") for part in relative.parts) or (
            "\\" in path or "\0" in path):
        raise UnusableRuleSet(f"the stored rule set names a file outside its tree: {path!r:.80}")
    return relative


class StoredRuleSets:
    """The engine for each stored rule set a process meets, by digest, loaded on first use and kept
    for the next records (rule sets change rarely along a log); at most `capacity` are kept."""

    def __init__(self, conn: sqlite3.Connection, clock: LoggedClock, *, capacity: int = 16):
        self.conn, self.clock, self.capacity = conn, clock, capacity
        self._loaded: OrderedDict[str, Engine | UnusableRuleSet] = OrderedDict()

    def engine(self, digest: str) -> Engine:
        """The engine on rule set `digest`; UnusableRuleSet saying why there is none."""
        loaded = self._loaded.get(digest)
        if loaded is None:
            loaded = self._load(digest)
            self._loaded[digest] = loaded
            if len(self._loaded) > self.capacity:
                self._loaded.popitem(last=False)
        else:
            self._loaded.move_to_end(digest)
        if isinstance(loaded, UnusableRuleSet):
            raise loaded
        return loaded

    def _load(self, digest: str) -> Engine | UnusableRuleSet:
        try:
            files = load_ruleset(self.conn, digest)["files"]
        except AuditError as error:
            return UnusableRuleSet(str(error))
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()):
            return UnusableRuleSet(f"rule set {digest} in the log is not a mapping of file paths to sources")
        try:
            return engine_on_files(files, clock=self.clock)
        except UnusableRuleSet as error:
            return error
        except RuleSetError as error:
            first = error.errors[0] if error.errors else "?"
            return UnusableRuleSet(f"rule set {digest} does not load with this Licit ({len(error.errors)} errors; "
                                   f"first: {first})")
        except LicitError as error:
            return UnusableRuleSet(f"rule set {digest} cannot be compiled by this Licit: {error}")
