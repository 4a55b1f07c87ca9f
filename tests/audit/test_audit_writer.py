"""One writer per log: callers in threads and processes share its commits; a writer
killed at any instant fails its waiting callers closed, at once, and the next caller
starts another; nothing committed is lost or committed twice; the socket beside the
log is trusted only when it is this user's and speaks this Licit's protocol."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import queue
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import example_items, raw

from audit import AuditWriteError, DecisionLog, RecordRefused, find_decisions, verify_log
from audit.schema import expected_schema
from audit.writer import protocol
from audit.writer.client import _WRITER
from audit.writer.endpoint import Endpoint

FORK = multiprocessing.get_context("fork")


def writer_pid(log: DecisionLog) -> int:
    return log._writer.pid


def state(pid: int) -> str:
    """R, S, T (stopped), Z (zombie)... as /proc says; X once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ")[1][0]
    except FileNotFoundError:
        return "X"


def alive(pid: int) -> bool:
    return state(pid) not in "XZ"


def stop(pid: int) -> None:
    """SIGSTOP, and wait until it has taken effect (a signal is delivered when the process next runs)."""
    os.kill(pid, signal.SIGSTOP)
    wait_until(lambda: state(pid) == "T")


def wait_until(condition, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def recorded_at(path, decision_ids) -> dict[str, str]:
    rows = raw(path).execute("SELECT json_extract(decision, '$.decision_id'), recorded_at FROM decisions")
    return {decision_id: at for decision_id, at in rows if decision_id in decision_ids}


def _record_when_told(path, item, ready, go) -> None:
    with DecisionLog(path, timeout=30) as log:
        ready.set()
        go.wait(30)
        log.record(*item)


def test_threads_and_processes_share_one_commit(log_path):
    """While the writer is held (SIGSTOP), requests from threads and processes queue up in
    its socket; once it runs they are committed together: one transaction, one recorded_at."""
    items = example_items(6, start=500)
    with DecisionLog(log_path, timeout=30) as log:
        go = FORK.Event()
        children = []
        for item in items[3:]:
            ready = FORK.Event()
            children.append(FORK.Process(target=_record_when_told, args=(log_path, item, ready, go)))
            children[-1].start()
            assert ready.wait(30)  # connected and greeted
        for _ in range(2):  # a connection greeted for each thread, as a busy service's threads hold
            log._writer._give_back(log._writer._dial(time.monotonic() + 10))
        pid = writer_pid(log)
        stop(pid)
        try:
            go.set()
            threads = [threading.Thread(target=log.record, args=item) for item in items[:3]]
            for thread in threads:
                thread.start()
            time.sleep(1.5)  # every caller has sent its request
        finally:
            os.kill(pid, signal.SIGCONT)
        for joined in (*threads, *children):
            joined.join(30)
    assert [child.exitcode for child in children] == [0, 0, 0]
    times = recorded_at(log_path, {item[0]["decision_id"] for item in items})
    assert len(times) == 6 and len(set(times.values())) == 1, "one commit for three threads and three processes"
    assert verify_log(log_path).ok


def _record_until(log: DecisionLog, first: int, received, stop) -> None:
    """Record until `stop` is set (or the process is killed); report each sequence number received,
    and each failure."""
    number = first
    while not stop.is_set():
        item = example_items(1, start=number)[0]
        try:
            received.put((item[0]["decision_id"], log.record(*item)))
        except AuditWriteError as error:
            received.put((item[0]["decision_id"], f"failed: {error}"))
        number += 1


def _keep_recording(path, first: int, received) -> None:
    with DecisionLog(path, timeout=20) as log:
        _record_until(log, first, received, threading.Event())


def test_a_writer_killed_at_any_instant_fails_its_callers_closed_and_loses_nothing(log_path):
    """SIGKILL the writer at random instants, mid-batch, while three processes and two
    threads record: callers waiting fail at once; the next request starts a new writer;
    every decision a caller was told is logged is in the log, once, at that seq."""
    DecisionLog(log_path).close()
    received = FORK.Queue()
    callers = [FORK.Process(target=_keep_recording, args=(log_path, 100_000 * n, received)) for n in range(1, 4)]
    for caller in callers:
        caller.start()
    rng = random.Random(13)
    outcomes, killed = [], set()
    deadline = time.monotonic() + 60
    try:
        with DecisionLog(log_path, timeout=20) as log:
            thread_stop, here = threading.Event(), queue.SimpleQueue()  # this process's threads: no feeder thread
            threads = [threading.Thread(target=_record_until, args=(log, 10_000_000 * n, here, thread_stop))
                       for n in (1, 2)]
            for thread in threads:
                thread.start()
            for _ in range(5):
                time.sleep(rng.uniform(0.3, 1.0))
                pid = log._writer.pid
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
                wait_until(lambda: not alive(pid) or time.monotonic() > deadline)
            time.sleep(0.5)
            thread_stop.set()
            for thread in threads:
                thread.join(30)
            last_writer = log._writer.pid
    finally:
        for caller in callers:
            caller.kill()
            caller.join()
    wait_until(lambda: not alive(last_writer))  # it commits what it had received before its last caller left
    while not here.empty():
        outcomes.append(here.get())
    with contextlib.suppress(queue.Empty):
        while True:
            outcomes.append(received.get(timeout=1))
    committed = {decision_id: seq for decision_id, seq in outcomes if isinstance(seq, int)}
    failures = [seq for _, seq in outcomes if not isinstance(seq, int)]
    assert committed and failures, "the run should see both commits and callers failed closed"
    assert all("its writer ended before answering" in failure for failure in failures), failures[:3]
    report = verify_log(log_path)
    assert report.ok, report.problems
    stored = dict(raw(log_path).execute("SELECT json_extract(decision, '$.decision_id'), seq FROM decisions"))
    assert len(stored) == report.records  # no decision id twice
    for decision_id, seq in committed.items():
        assert stored.get(decision_id) == seq  # every decision a caller received is there, at its seq
    with DecisionLog(log_path) as log:
        assert log._writer.pid not in killed
        assert log.record(*example_items(1, start=1)[0]) == report.head_seq + 1


def test_a_hung_writer_fails_its_callers_after_their_timeout(log_path):
    with DecisionLog(log_path, timeout=1) as log:
        pid = writer_pid(log)
        stop(pid)
        try:
            started = time.monotonic()
            with pytest.raises(AuditWriteError, match="did not answer within 1 s"):
                log.record(*example_items(1)[0])
            assert time.monotonic() - started < 5
        finally:
            os.kill(pid, signal.SIGCONT)


def test_the_last_caller_to_close_stops_the_writer_and_leaves_the_log_closed(log_path):
    first, second = DecisionLog(log_path), DecisionLog(log_path)
    pid = writer_pid(first)
    assert writer_pid(second) == pid  # one writer for both
    first.record(*example_items(1)[0])
    first.close()
    assert alive(pid)
    second.close()
    wait_until(lambda: not alive(pid))
    assert sorted(os.listdir(log_path.parent)) == [log_path.name]  # no -wal, -shm or socket left


def test_a_refused_record_fails_only_its_own_caller_in_a_shared_commit(log_path):
    items = example_items(3, start=700)
    with DecisionLog(log_path, timeout=30) as log:
        log.record(*items[0])
        pid = writer_pid(log)
        outcomes = {}

        def record(name, item):
            try:
                outcomes[name] = log.record(*item)
            except AuditWriteError as error:
                outcomes[name] = error

        stop(pid)
        try:
            threads = [threading.Thread(target=record, args=("again", items[0])),
                       threading.Thread(target=record, args=("new", items[1]))]
            for thread in threads:
                thread.start()
            time.sleep(1)
        finally:
            os.kill(pid, signal.SIGCONT)
        for thread in threads:
            thread.join(30)
    assert isinstance(outcomes["again"], RecordRefused) and "already holds decision" in str(outcomes["again"])
    assert outcomes["new"] == 2
    assert verify_log(log_path).ok


def test_a_stale_socket_beside_the_log_is_replaced(log_path):
    DecisionLog(log_path).close()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(Endpoint(log_path).path))  # a writer that died without removing its socket
    stale.close()
    with DecisionLog(log_path) as log:
        assert log.record(*example_items(1)[0]) == 1
    assert verify_log(log_path).ok


def test_a_file_planted_at_the_socket_path_is_refused(log_path):
    DecisionLog(log_path).close()
    Endpoint(log_path).path.write_text("not a socket")
    with pytest.raises(AuditWriteError, match="is not a socket: refused"):
        DecisionLog(log_path)


def _listen_as_nobody(path: str, ready) -> None:
    os.setgid(65534)
    os.setuid(65534)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    ready.set()
    time.sleep(30)


def test_a_socket_of_another_user_beside_the_log_is_refused(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root, to act as another user")
    shared = Path("/tmp") / f"licit-writer-{os.getpid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    try:
        path = shared / "licit-audit.db"
        DecisionLog(path).close()
        ready = FORK.Event()
        impostor = FORK.Process(target=_listen_as_nobody, args=(str(Endpoint(path).path), ready))
        impostor.start()
        assert ready.wait(10)
        with pytest.raises(AuditWriteError, match="belongs to another user"):
            DecisionLog(path)
        impostor.kill()
        impostor.join()
    finally:
        subprocess.run(["rm", "-rf", str(shared)], check=True)


def _fake_writer_of_another_version(path: str, ready, stop) -> None:
    """Holds the log's writer lock, as a live writer of another Licit version would, and
    greets callers with its own protocol number."""
    import fcntl

    lock = os.open(path, os.O_RDONLY)
    fcntl.flock(lock, fcntl.LOCK_EX)
    endpoint = Endpoint(path)
    listener, _ = endpoint.listen()
    ready.set()
    listener.settimeout(0.2)
    while not stop.is_set():
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            continue
        connection.recv(1 << 16)
        status = os.stat(path)
        connection.sendall(protocol.hello({"protocol": 99, "schema_version": 3, "pid": os.getpid(),
                                           "device": status.st_dev, "inode": status.st_ino}))
        connection.close()


def test_a_writer_of_another_licit_version_is_refused(log_path):
    DecisionLog(log_path).close()
    ready, stop = FORK.Event(), FORK.Event()
    fake = FORK.Process(target=_fake_writer_of_another_version, args=(str(log_path), ready, stop))
    fake.start()
    try:
        assert ready.wait(10)
        with pytest.raises(AuditWriteError, match="speaks protocol 99 .* another Licit version writes this log"):
            DecisionLog(log_path, timeout=2)
    finally:
        stop.set()
        fake.join(10)
    assert verify_log(log_path).ok


def test_a_caller_of_another_licit_version_is_refused_by_the_writer(log_path):
    with DecisionLog(log_path):
        connection = Endpoint(log_path).connect(5)
        connection.sendall(protocol.hello({"protocol": 99, "schema_version": 3}))
        connection.settimeout(5)
        reply = connection.recv(1 << 16)
        connection.close()
    assert reply[4:5] == protocol.ERROR and b"another Licit version writes this log" in reply


def test_two_writers_starting_at_once_leave_one_serving(log_path):
    DecisionLog(log_path).close()
    command = [sys.executable, "-c", _WRITER, str(log_path), "--key-check", _key_check(log_path), "--timeout", "5"]
    starting = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    verdicts = sorted(process.communicate(timeout=30)[0].decode().strip() for process in starting)
    assert verdicts == ["busy", "ready"]
    with DecisionLog(log_path) as log:
        assert log.record(*example_items(1)[0]) == 1
    assert verify_log(log_path).ok


def _key_check(path) -> str:
    return raw(path).execute("SELECT value FROM meta WHERE key = 'key_check'").fetchone()[0]


def leave_underived(path: Path, derived: int) -> None:
    """The log as a writer killed before deriving its last records leaves it: derived rows
    only up to seq `derived` (removed here behind the triggers, which are then put back)."""
    conn = raw(path)
    triggers = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall())
    for name in triggers:
        conn.execute(f"DROP TRIGGER {name}")
    for table in ("decision_lookups", "findings", "obligations"):
        conn.execute(f"DELETE FROM {table} WHERE seq > ?", (derived,))
    for sql in triggers.values():
        conn.execute(sql)
    conn.close()
    assert sorted(expected_schema(2).items()) == sorted(
        sqlite3.connect(path).execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL "
                                      "AND name != 'sqlite_sequence'").fetchall())


def test_queries_find_records_committed_but_not_yet_derived(filled_log):
    everything = find_decisions(filled_log, limit=0)
    by_rule = find_decisions(filled_log, rule="CN.CTPL.LUMP_SUM", limit=0)
    leave_underived(filled_log, derived=7)
    assert raw(filled_log).execute("SELECT max(seq) FROM decision_lookups").fetchone()[0] == 7
    assert find_decisions(filled_log, limit=0) == everything
    assert find_decisions(filled_log, rule="CN.CTPL.LUMP_SUM", limit=0) == by_rule
    assert find_decisions(filled_log, limit=3) == everything[:3]
    assert verify_log(filled_log).ok
    with DecisionLog(filled_log):  # a new writer derives what its predecessor left
        pass
    assert raw(filled_log).execute("SELECT max(seq) FROM decision_lookups").fetchone()[0] == 12
    assert find_decisions(filled_log, limit=0) == everything


def test_a_derived_row_forged_ahead_of_the_writer_is_found_by_verify_and_stops_the_writer(filled_log):
    leave_underived(filled_log, derived=10)
    conn = raw(filled_log)  # the triggers let rows be added for a record not yet derived (seq 11 has a finding)
    conn.execute("INSERT INTO findings VALUES (11, 0, 'CN.FORGED', 'CN', 'deny', '2026-01-01T00:00:00.000000Z', "
                 "'deny')")
    conn.close()
    report = verify_log(filled_log)
    assert not report.ok and report.first_problem.kind == "normalised rows changed"
    with pytest.raises(AuditWriteError, match="the log was altered"):
        with DecisionLog(filled_log) as log:
            log.record(*example_items(1, start=99)[0])
    assert verify_log(filled_log).records == 12


def test_no_identifier_reaches_the_writer_in_clear(log_path, monkeypatch):
    """The writer needs no key and is given none: callers redact before they send."""
    monkeypatch.setenv("LICIT_AUDIT_KEY", "a-key-the-writer-must-not-see-0123")
    with DecisionLog(log_path) as log:
        pid = writer_pid(log)
        environment = Path(f"/proc/{pid}/environ").read_bytes()
        assert b"a-key-the-writer-must-not-see" not in environment
        assert json.loads(json.dumps(log.record(*example_items(1)[0]))) == 1
