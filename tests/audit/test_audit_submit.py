"""DecisionLog.submit: decisions handed over without waiting (the HTTP service awaits their
commit on its event loop). Each future is settled only by the durable commit of its own
record, or fails closed; decisions submitted meanwhile reach the writer together."""
from __future__ import annotations

import os
import signal
import sys
import threading

import pytest
from conftest import example_items, raw
from test_audit_writer import stop, wait_until, writer_pid

from audit import AuditError, AuditWriteError, DecisionLog, RecordRefused, verify_log
from audit.writer.client import WriterLink


def _waiting_for_the_writer(log: DecisionLog) -> bool:
    """Whether the log's sender has sent a request and waits for its answer."""
    sender = next((thread for thread in threading.enumerate() if thread.name == "licit-log-sender"), None)
    frame = sys._current_frames().get(sender.ident) if sender else None
    while frame is not None:
        if frame.f_code is WriterLink._answer.__code__:
            return not log._sender._pending
        frame = frame.f_back
    return False


def _on_its_way_to_a_stopped_writer(log: DecisionLog, item) -> tuple[int, object]:
    """Stop the log's writer and submit `item`, once it is sent: what is submitted next queues behind it.
    The writer's pid (SIGCONT it) and the item's future."""
    pid = writer_pid(log)
    stop(pid)
    future = log.submit(*item)
    wait_until(lambda: _waiting_for_the_writer(log))
    return pid, future


def _recorded(path) -> dict[str, tuple[int, str]]:
    rows = raw(path).execute("SELECT json_extract(decision, '$.decision_id'), seq, recorded_at FROM decisions")
    return {decision_id: (seq, at) for decision_id, seq, at in rows}


def test_decisions_submitted_meanwhile_are_committed_together_in_order(log_path):
    items = example_items(6, start=300)
    with DecisionLog(log_path, timeout=30) as log:
        assert log.record(*items[0]) == 1
        pid, first = _on_its_way_to_a_stopped_writer(log, items[1])
        try:
            rest = [log.submit(*item) for item in items[2:]]
        finally:
            os.kill(pid, signal.SIGCONT)
        assert first.result(30) == 2
        assert [future.result(30) for future in rest] == [3, 4, 5, 6]
    recorded = _recorded(log_path)
    assert [recorded[item[0]["decision_id"]][0] for item in items] == [1, 2, 3, 4, 5, 6]
    assert len({recorded[item[0]["decision_id"]][1] for item in items[2:]}) == 1  # one commit for the four
    assert verify_log(log_path).ok


def test_a_refused_record_fails_only_its_own_future(log_path):
    items = example_items(3, start=800)
    with DecisionLog(log_path, timeout=30) as log:
        log.record(*items[0])
        pid, blocker = _on_its_way_to_a_stopped_writer(log, items[1])
        try:
            again, new = log.submit(*items[0]), log.submit(*items[2])  # sent together: the first is a duplicate
        finally:
            os.kill(pid, signal.SIGCONT)
        assert blocker.result(30) == 2
        with pytest.raises(RecordRefused, match="already holds decision"):
            again.result(30)
        assert new.result(30) == 3
    report = verify_log(log_path)
    assert report.ok and report.records == 3


def test_a_writer_killed_fails_the_records_it_was_sent_and_a_new_writer_takes_those_queued(log_path):
    items = example_items(4, start=900)
    with DecisionLog(log_path, timeout=30) as log:
        log.record(*items[0])
        pid, sent = _on_its_way_to_a_stopped_writer(log, items[1])
        queued = [log.submit(*item) for item in items[2:]]
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(AuditWriteError, match="its writer ended before answering"):
            sent.result(30)
        assert [future.result(30) for future in queued] == [2, 3]
        assert writer_pid(log) != pid
    assert set(_recorded(log_path)) == {item[0]["decision_id"] for item in (items[0], *items[2:])}
    assert verify_log(log_path).ok


def test_a_submission_cancelled_before_it_is_sent_is_not_logged_and_the_others_are(log_path):
    items = example_items(4, start=1100)
    with DecisionLog(log_path, timeout=30) as log:
        pid, sent = _on_its_way_to_a_stopped_writer(log, items[0])
        try:
            given_up, kept = log.submit(*items[1]), log.submit(*items[2])
            assert given_up.cancel() and not sent.cancel()  # a record on its way cannot be taken back
        finally:
            os.kill(pid, signal.SIGCONT)
        assert sent.result(30) == 1 and kept.result(30) == 2
        assert log.submit(*items[3]).result(30) == 3
    assert set(_recorded(log_path)) == {items[n][0]["decision_id"] for n in (0, 2, 3)}


def test_close_commits_what_was_submitted_and_later_submissions_are_refused(log_path):
    items = example_items(20, start=1000)
    log = DecisionLog(log_path)
    futures = [log.submit(*item) for item in items[:-1]]
    log.close()
    assert sorted(future.result(0) for future in futures) == list(range(1, 20))
    with pytest.raises(AuditWriteError, match="it is closed"):
        log.submit(*items[-1])
    assert verify_log(log_path).records == 19


def test_a_record_that_cannot_be_logged_as_given_is_refused_at_submit(log_path):
    decision, flow, ruleset, duration = example_items(1)[0]
    with DecisionLog(log_path) as log:
        with pytest.raises(AuditError, match="outcome 'maybe' is not one of"):
            log.submit({**decision, "outcome": "maybe"}, flow, ruleset, duration)
        assert log.submit(decision, flow, ruleset, duration).result(30) == 1
