"""Many callers, one chain: no lost record, no gap, no fork, and a caller killed at
any instant leaves a log that verifies. (The writer itself killed: test_audit_writer.)"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import threading
import time

from conftest import example_items, raw

from audit import DecisionLog, verify_log

FORK = multiprocessing.get_context("fork")


def _write(path, start: int, count: int) -> None:
    with DecisionLog(path, timeout=30) as log:
        for item in example_items(count, start=start):
            log.record(*item)


def assert_single_gapless_chain(path, expected: int) -> None:
    report = verify_log(path)
    assert report.ok, report.problems
    assert report.records == report.head_seq == expected
    seqs = [seq for (seq,) in raw(path).execute("SELECT seq FROM decisions ORDER BY seq")]
    assert seqs == list(range(1, expected + 1))


def _write_after(start, path, first: int, count: int) -> None:
    start.wait()
    _write(path, first, count)


def test_workers_starting_together_on_a_new_log_all_write_to_it(tmp_path):
    """An enrollment service's workers start at once on a fresh machine: one creates
    the log, the others wait for it instead of failing. (Two of them switching the new
    file to WAL at the same instant once failed one; rounds make that instant likely.)"""
    for round_number in range(8):
        log_path = tmp_path / f"round-{round_number}.db"
        start = FORK.Barrier(4)
        writers = [FORK.Process(target=_write_after, args=(start, log_path, 1000 * n, 3)) for n in range(1, 5)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert [w.exitcode for w in writers] == [0, 0, 0, 0], f"round {round_number}"
        assert_single_gapless_chain(log_path, 12)


def test_threads_sharing_one_log_lose_nothing(log_path):
    with DecisionLog(log_path) as log:
        returned = []

        def worker(start):
            returned.extend(log.record(*item) for item in example_items(25, start=start))

        threads = [threading.Thread(target=worker, args=(1000 * n,)) for n in range(1, 5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(returned) == list(range(1, 101))
    assert_single_gapless_chain(log_path, 100)


def test_processes_each_with_their_own_log_keep_one_chain(log_path):
    DecisionLog(log_path).close()
    writers = [FORK.Process(target=_write, args=(log_path, 1000 * n, 40)) for n in range(1, 5)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    assert [w.exitcode for w in writers] == [0, 0, 0, 0]
    assert_single_gapless_chain(log_path, 160)
    decision_ids = raw(log_path).execute(
        "SELECT count(DISTINCT json_extract(decision, '$.decision_id')) FROM decisions").fetchone()[0]
    assert decision_ids == 160


def _write_forever(path, start: int) -> None:
    with DecisionLog(path, timeout=30) as log:
        number = start
        while True:
            log.record(*example_items(1, start=number)[0])
            number += 1


def test_a_caller_killed_at_any_instant_leaves_a_log_that_verifies(log_path):
    rng = random.Random(7)
    with DecisionLog(log_path) as held:  # keeps one writer serving the callers killed round after round
        for round_number in range(1, 7):
            caller = FORK.Process(target=_write_forever, args=(log_path, 100_000 * round_number))
            caller.start()
            time.sleep(rng.uniform(0.1, 0.6))
            os.kill(caller.pid, signal.SIGKILL)
            caller.join()
            report = verify_log(log_path)
            assert report.ok, report.problems
            assert report.records == report.head_seq
        assert report.records > 0
        assert held.record(*example_items(1, start=1)[0]) > report.head_seq  # writing carries on


def test_verify_while_a_writer_appends_reports_no_damage(log_path):
    DecisionLog(log_path).close()
    writer = FORK.Process(target=_write, args=(log_path, 1, 300))
    writer.start()
    reports = []
    while writer.is_alive():
        reports.append(verify_log(log_path))
    writer.join()
    assert reports and all(report.ok for report in reports), [r.problems for r in reports if not r.ok]
    assert_single_gapless_chain(log_path, 300)
