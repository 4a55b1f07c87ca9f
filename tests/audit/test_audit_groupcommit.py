"""Group commit: threads of a process share one commit; a process that finds the log
busy leaves its batch in the spool, the next process's commit carries it, and no
record is lost, doubled or leaked."""

from __future__ import annotations

import contextlib
import os
import threading
import time

from conftest import TEST_KEY, example_flows, example_items, raw

from audit import DecisionLog, verify_log
from audit.groupcommit import Spool, spool_directory
from audit.log import RecordRefused
from audit.records import prepare_entry


def spool_of(log_path) -> Spool:
    return Spool(spool_directory(log_path), 0o600)


def spooled_files(log_path) -> list:
    return sorted(spool_directory(log_path).glob("*.entry"))


def prepared(item):
    decision, flow, _, duration = item
    return prepare_entry(decision, flow, duration, TEST_KEY.encode())


def test_a_spooled_record_rides_in_the_next_writers_commit(log_path):
    first, waiting, own = example_items(3)
    with DecisionLog(log_path) as log:
        log.record(*first)
        spool_of(log_path).put([prepared(waiting)])  # as a writer that found the turn taken would
        assert log.record(*own) == 3
    assert spooled_files(log_path) == []
    rows = raw(log_path).execute("SELECT seq, decision_id, recorded_at FROM decisions ORDER BY seq").fetchall()
    assert [row[1] for row in rows] == [first[0]["decision_id"], waiting[0]["decision_id"], own[0]["decision_id"]]
    assert rows[1][2] == rows[2][2]  # one transaction
    assert verify_log(log_path).ok


def test_a_spooled_record_already_committed_is_not_written_twice(log_path):
    """A writer killed after its commit, before removing the spool files it carried."""
    first, second = example_items(2)
    with DecisionLog(log_path) as log:
        log.record(*first)
        spool_of(log_path).put([prepared(first)])
        log.record(*second)
    assert raw(log_path).execute("SELECT count(*) FROM decisions").fetchone()[0] == 2
    assert spooled_files(log_path) == []
    assert verify_log(log_path).ok


def test_a_spooled_record_clashing_with_the_log_is_left_to_its_writer_and_blocks_nobody(log_path):
    first, second = example_items(2)
    clash = dict(first[0], outcome="review" if first[0]["outcome"] != "review" else "deny")
    with DecisionLog(log_path) as log:
        log.record(*first)
        spool_of(log_path).put([prepared((clash, *first[1:]))])
        assert log.record(*second) == 2
    assert len(spooled_files(log_path)) == 1  # its own writer will fail on it
    assert verify_log(log_path).ok


def _spooled_while_the_turn_is_held(log_path, waiter, holder, item) -> tuple[threading.Thread, list]:
    """`waiter` records `item` while `holder` (another process: its own flock) holds the turn;
    returns once the record waits in the spool, with the recording thread and what it returned."""
    assert holder._turn.try_take()
    returned = []
    thread = threading.Thread(target=lambda: returned.append(waiter.record(*item)))
    thread.start()
    deadline = time.monotonic() + 10
    while not spooled_files(log_path) and time.monotonic() < deadline:
        time.sleep(0.001)
    return thread, returned


def test_a_waiting_writer_returns_the_seq_another_writers_commit_gave_it(log_path):
    first, item = example_items(2)
    with DecisionLog(log_path) as waiter, DecisionLog(log_path) as leader:
        waiter.record(*first)  # a writer spools only records whose rule set the log holds
        thread, returned = _spooled_while_the_turn_is_held(log_path, waiter, leader, item)
        seq, settled = leader._appender.append([], [], leader._spool.waiting())
        leader._spool.remove(settled)
        thread.join(timeout=10)
        leader._turn.give_back()
    assert returned == [2] and seq == 2
    assert spooled_files(log_path) == []
    assert verify_log(log_path).records == 2


def test_a_waiting_writer_whose_record_a_stopped_writer_committed_returns_its_seq(log_path):
    """The writer that carried the record was stopped (kill, SIGTERM) after its commit, before
    removing the spool file: the record is logged, so its own writer must not fail on it."""
    first, item = example_items(2)
    with DecisionLog(log_path) as waiter, DecisionLog(log_path) as stopped:
        waiter.record(*first)
        thread, returned = _spooled_while_the_turn_is_held(log_path, waiter, stopped, item)
        stopped._appender.append([], [], stopped._spool.waiting())  # and stopped: its spool file stays
        stopped._turn.give_back()
        thread.join(timeout=10)
    assert returned == [2]
    assert spooled_files(log_path) == []
    assert verify_log(log_path).records == 2


def test_a_writer_that_waits_past_its_timeout_withdraws_its_record(log_path):
    first, item = example_items(2)
    with DecisionLog(log_path, timeout=0.2) as waiter, DecisionLog(log_path) as holder:
        waiter.record(*first)
        assert holder._turn.try_take()
        try:
            waiter.record(*item)
        except Exception as error:  # noqa: BLE001 - the type and text are what is checked
            assert type(error).__name__ == "AuditWriteError" and "database is locked" in str(error)
        else:
            raise AssertionError("record returned while another writer held the turn")
        finally:
            holder._turn.give_back()
    assert spooled_files(log_path) == []
    assert raw(log_path).execute("SELECT count(*) FROM decisions").fetchone()[0] == 1


def test_spool_files_hold_no_identifier_in_clear(log_path):
    DecisionLog(log_path).close()
    for item in example_items(5):
        spool_of(log_path).put([prepared(item)])
    content = b"".join(path.read_bytes() for path in spooled_files(log_path))
    assert b"hmac-sha256:" in content
    for flow in example_flows().values():
        for field in ("name", "id_number", "phone"):
            assert str(flow["applicant"][field]).encode() not in content


def test_the_spool_is_as_private_as_the_log(log_path):
    log_path.touch(mode=0o600)
    DecisionLog(log_path).close()
    directory = spool_directory(log_path)
    assert directory.stat().st_mode & 0o777 == 0o700
    assert (directory / "lock").stat().st_mode & 0o777 == 0o600


def queued(log) -> int:
    return len(log._queue._queued)


def wait_until(condition, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the writers to queue"
        time.sleep(0.001)


def record_in_threads(log, items) -> tuple[list[threading.Thread], dict]:
    outcomes = {}

    def record(item):
        try:
            outcomes[item[0]["decision_id"]] = log.record(*item)
        except Exception as error:  # noqa: BLE001 - the caller's view is what is checked
            outcomes[item[0]["decision_id"]] = error

    threads = [threading.Thread(target=record, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_threads_that_arrive_during_a_commit_share_the_next_one(log_path):
    first, *rest = example_items(4)
    with DecisionLog(log_path) as log, DecisionLog(log_path) as holder:
        log.record(*first)
        assert holder._turn.try_take()  # keeps this process's first commit waiting
        committing, outcomes = record_in_threads(log, rest[:1])
        wait_until(lambda: spooled_files(log_path))
        queued_threads, queued_outcomes = record_in_threads(log, rest[1:])
        wait_until(lambda: queued(log) == 2)
        holder._turn.give_back()
        for thread in committing + queued_threads:
            thread.join(timeout=10)
    outcomes.update(queued_outcomes)
    assert sorted(outcomes.values()) == [2, 3, 4]
    rows = dict(raw(log_path).execute("SELECT decision_id, recorded_at FROM decisions").fetchall())
    assert rows[rest[1][0]["decision_id"]] == rows[rest[2][0]["decision_id"]]  # one transaction
    assert verify_log(log_path).ok


def test_a_refused_record_fails_only_its_own_caller_among_threads_sharing_a_commit(log_path):
    first, second, good = example_items(3)
    reused_id = dict(second[0], decision_id=first[0]["decision_id"])  # another decision under a logged id
    with DecisionLog(log_path) as log, DecisionLog(log_path) as holder:
        log.record(*first)
        assert holder._turn.try_take()
        committing, outcomes = record_in_threads(log, [second])
        wait_until(lambda: spooled_files(log_path))
        queued_threads, queued_outcomes = record_in_threads(log, [(reused_id, *second[1:]), good])
        wait_until(lambda: queued(log) == 2)
        holder._turn.give_back()
        for thread in committing + queued_threads:
            thread.join(timeout=10)
    assert outcomes[second[0]["decision_id"]] == 2
    assert queued_outcomes[good[0]["decision_id"]] == 3
    refused = queued_outcomes[first[0]["decision_id"]]
    assert isinstance(refused, RecordRefused) and "UNIQUE constraint failed" in str(refused)
    assert verify_log(log_path).records == 3


def test_records_queued_when_the_log_closes_fail_instead_of_vanishing(log_path):
    first, item = example_items(2)
    log, holder = DecisionLog(log_path, timeout=0.5), DecisionLog(log_path)
    log.record(*first)
    assert holder._turn.try_take()
    committing, outcomes = record_in_threads(log, [item])
    wait_until(lambda: spooled_files(log_path))
    queued_threads, queued_outcomes = record_in_threads(log, [example_items(1, start=50)[0]])
    wait_until(lambda: queued(log) == 1)
    log.close()
    holder._turn.give_back()
    holder.close()
    for thread in committing + queued_threads:
        thread.join(timeout=10)
    [closed] = queued_outcomes.values()
    assert "it was closed" in str(closed)
    assert raw(log_path).execute("SELECT count(*) FROM decisions").fetchone()[0] == 1


def test_writers_that_alternate_extend_one_chain_though_each_remembers_an_older_head(log_path):
    """Each writer appends in one statement after the head it last wrote; when another
    process has moved the head, the log refuses the stale link and the writer rereads it."""
    items = example_items(6)
    with DecisionLog(log_path) as one, DecisionLog(log_path) as other:
        seqs = [(one if index % 2 == 0 else other).record(*item) for index, item in enumerate(items)]
    assert seqs == [1, 2, 3, 4, 5, 6]
    report = verify_log(log_path)
    assert report.ok and report.records == 6


def test_a_refused_record_leaves_the_writer_appending_at_the_true_head(log_path):
    first, second, third = example_items(3)
    with DecisionLog(log_path) as log:
        log.record(*first)
        log.record(*second)  # the writer now appends in one statement after seq 2
        reused_id = dict(third[0], decision_id=first[0]["decision_id"])
        try:
            log.record(reused_id, *third[1:])
        except RecordRefused as error:
            assert "UNIQUE constraint failed: decisions.decision_id" in str(error)
        else:
            raise AssertionError("a second decision under a logged decision id was accepted")
        assert log.record(*third) == 3
    assert verify_log(log_path).ok


def test_opening_the_log_while_another_writer_spools_does_not_fail(log_path, monkeypatch):
    """A writer's half-written .tmp file may be renamed between the tidy-up's listing of
    the spool and its look at the file's age (the race that once failed a writer's open)."""
    DecisionLog(log_path).close()
    half_written = spool_directory(log_path) / "00000000000000000001-1-0.tmp"
    half_written.write_text("[]")
    real_scandir = os.scandir

    @contextlib.contextmanager
    def listing_then_rename(directory):
        with real_scandir(directory) as found:
            entries = list(found)
        half_written.rename(half_written.with_suffix(".entry"))  # its writer finishes
        yield iter(entries)

    monkeypatch.setattr(os, "scandir", listing_then_rename)
    DecisionLog(log_path).close()
    assert half_written.with_suffix(".entry").exists()
