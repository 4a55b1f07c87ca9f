"""What verify reports: a problem at a sequence number (or in the log as a whole), by kind."""

from __future__ import annotations

from dataclasses import dataclass

CONTENT_CHANGED = "content changed"
RECORD_MISSING = "record missing"
RECORD_INSERTED = "record inserted"
REORDERED = "records reordered"
ROWS_CHANGED = "normalised rows changed"
LOOKUPS_CHANGED = "lookup columns changed"
FILE_DAMAGED = "file damaged"
META_CHANGED = "meta changed"
RULESET_MISSING = "rule set missing"
RULESET_CHANGED = "rule set changed"
SCHEMA_CHANGED = "schema changed"


@dataclass(frozen=True)
class Problem:
    seq: int | None
    kind: str
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "log"
        return f"{where}: {self.kind} - {self.detail}"
