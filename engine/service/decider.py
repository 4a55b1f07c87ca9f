"""One worker's engine and decision log: decides flows, reloads the rule tree, knows whether the
log is taking decisions. A flow is decided on the event loop (a fraction of a millisecond of
CPU) and submitted to the log, whose commit it awaits without holding a thread: the records of
every request under way reach the log's writer together (audit.writer.sender)."""
from __future__ import annotations

import asyncio
import datetime as dt
import gc
import threading
import time
from dataclasses import dataclass

from audit import AuditError, AuditWriteError, DecisionLog
from engine.core import Engine
from engine.decision import Decision
from engine.errors import EngineError, FieldError, FlowValidationError
from engine.service.eventlog import log_event
from engine.service.problems import ServiceProblem
from engine.service.settings import ServiceSettings
from rules.errors import RuleSetError

__all__ = ["Decider", "ReloadOutcome"]

LOG_FAILURE_HOLD_S = 5.0  # /ready reports a failed log write for this long, then lets traffic try again


@dataclass(frozen=True)
class ReloadOutcome:
    reloaded: bool
    digests: dict[str, str]  # the rule sets in force afterwards, by jurisdiction
    loaded_at: str
    errors: list[FieldError]  # why a tree was refused: file:line:col and code: message


class Decider:
    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self._reload_lock = threading.Lock()
        self.log = DecisionLog(settings.audit_db)
        try:
            self.engine = Engine(settings.rules_dir, max_request_age=settings.max_request_age,
                                 matcher=settings.matcher)
        except BaseException:
            self.log.close()
            raise
        self.loaded_at = _now()
        self._log_failed_at: float | None = None

    @property
    def digests(self) -> dict[str, str]:
        compiled = self.engine.tree.compiled  # one read: a reload may swap the tree meanwhile
        return {code: compiled[code].digest for code in sorted(compiled)}

    async def decide(self, flow: bytes | dict, as_of: dt.datetime | None = None) -> Decision:
        """The decision, once it is in the log; or a ServiceProblem saying why there is none."""
        try:
            decided = self.engine.decide(flow, as_of=as_of)
            await asyncio.wrap_future(self.log.submit(*decided.sink_arguments()))
        except FlowValidationError as error:
            raise ServiceProblem(422, "invalid_flow", "the flow is not valid: every field error is listed",
                                 error.errors) from None
        except AuditWriteError as error:
            self._log_failed_at = time.monotonic()
            log_event("log_write_failed", level="error", reason=str(error))
            raise ServiceProblem(503, "log_unavailable", "the decision could not be logged, so none is returned; "
                                 "retry later", headers={"Retry-After": "5"}) from None
        except (EngineError, AuditError) as error:
            log_event("decision_failed", level="error", reason=str(error))
            raise ServiceProblem(500, "engine_error", "the flow could not be decided; nothing was logged") from None
        self._log_failed_at = None
        return decided.decision

    def not_ready(self) -> list[str]:
        """Why this worker should not be sent decisions now; empty when it should."""
        failed_at = self._log_failed_at
        if failed_at is not None and time.monotonic() - failed_at < LOG_FAILURE_HOLD_S:
            return ["the decision log refused the last write"]
        return []

    def reload(self, trigger: str) -> ReloadOutcome:
        """Load the rule tree again; a tree that does not load whole is refused and the last good one kept.
        Engine.reload swaps the rules in one step and frees the old ones when the last request using them
        ends, so that a worker that reloads does not grow."""
        with self._reload_lock:
            before = self.digests
            try:
                self.engine.reload()
            except RuleSetError as error:
                errors = [FieldError(f"{item.file}:{item.line}:{item.col}", f"{item.code}: {item.message}")
                          for item in error.errors]
                return self._refused(trigger, errors)
            except EngineError as error:
                return self._refused(trigger, [FieldError(str(self.settings.rules_dir), str(error))])
            self.loaded_at = _now()
            _refreeze()
            after = self.digests
            changed = sorted(code for code in after.keys() | before.keys() if after.get(code) != before.get(code))
            log_event("rules_reloaded", trigger=trigger, changed=changed, digests=after)
            return ReloadOutcome(True, after, self.loaded_at, [])

    def _refused(self, trigger: str, errors: list[FieldError]) -> ReloadOutcome:
        log_event("rules_reload_refused", level="error", trigger=trigger, rules=str(self.settings.rules_dir),
                  errors=[str(error) for error in errors[:20]], error_count=len(errors),
                  kept_loaded_at=self.loaded_at)
        return ReloadOutcome(False, self.digests, self.loaded_at, errors)

    def close(self) -> None:
        self.log.close()


def _refreeze() -> None:
    """After a reload: collect the rules it replaced (frozen with the rest of what the worker loaded at
    start), then freeze what is live again. A worker's heap is mostly its rules and modules; frozen, it
    is not walked by every full collection, which otherwise took ~15 ms every second or two under load
    (the service's slowest 1 %)."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
