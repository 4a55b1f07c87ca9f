"""Replaying every logged decision: under the rule set stored for it, whatever the rule folders hold
now; a record that does not verify is reported, not replayed; nothing is written to the log."""
import hashlib
import json
import shutil
import sqlite3

import pytest

from audit import AuditError
from audit.canonical import canonical_json, record_hash, record_text
from audit.spans import CHAIN_LINK, Selection
from engine.batch.impact import draft_impact
from engine.batch.replay import RULESET, ReplayItem, _Replayer, decision_differences, replay_log
from engine.matching import ENVIRONMENT, available_matchers
from audit.schema import open_reader
from tests.batch.conftest import ALTER_FLOW, alter, copy_log, seeded, writable
from tests.conftest import PACKS


@pytest.fixture(scope="module")
def packs_log(tmp_path_factory):
    """A log of 600 decisions made on a copy of the shipped packs, and that copy."""
    root = tmp_path_factory.mktemp("packs")
    tree = root / "rules"
    shutil.copytree(PACKS, tree, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return seeded(root / "log.db", 600, rules_dir=tree, seed=7), tree


@pytest.fixture
def log_copy(packs_log, tmp_path):
    """A copy of the module's log, to alter, and the rule tree it was made on."""
    db, tree = packs_log
    return copy_log(db, tmp_path / "log.db"), tree


def replay(db, selection=Selection(), workers=1):
    items = []
    summary = replay_log(db, selection, workers=workers, on_item=items.append)
    return summary, items


def test_every_decision_replays_identical(packs_log):
    summary, items = replay(packs_log[0])
    assert (summary.identical, summary.different, summary.replayed, items) == (600, 0, 600, [])
    assert summary.all_identical


def test_replay_is_identical_after_the_rule_files_on_disk_change(log_copy, tmp_path):
    db, tree = log_copy
    changed = tmp_path / "changed"
    shutil.copytree(tree, changed)
    credit = changed / "CN" / "credit.yaml"
    credit.write_text(credit.read_text(encoding="utf-8").replace("value: 0.24", "value: 0.15"), encoding="utf-8")
    # the change matters: deciding the logged flows on the changed files gives other outcomes
    assert draft_impact(db, changed, workers=1).changed > 0
    shutil.rmtree(tree)
    shutil.copytree(changed, tree)  # the folder the log was made from now holds the changed rules
    summary, items = replay(db)
    assert (summary.identical, items) == (600, [])


def test_a_decision_whose_rule_files_were_deleted_still_replays(log_copy):
    db, tree = log_copy
    shutil.rmtree(tree)
    summary, items = replay(db, Selection(jurisdiction="CN-GD-SZ"))
    assert summary.identical > 50 and summary.replayed == summary.identical and items == []


def test_a_record_whose_chain_link_does_not_verify_is_reported_not_replayed(log_copy):
    db, _ = log_copy
    alter(db, ALTER_FLOW, 42)
    summary, items = replay(db)
    assert [(item.seq, item.status, item.kind) for item in items] == [(42, "not replayable", CHAIN_LINK)]
    assert items[0].reason == "its stored hash does not match its content"
    assert (summary.identical, summary.not_replayable[CHAIN_LINK], summary.all_identical) == (599, 1, False)


def test_a_log_rewritten_consistently_replays_different_and_says_what_differed(log_copy):
    """A forger who rewrites a decision and every hash after it passes the chain check; replay
    still catches the decision, as the rules it names decide otherwise."""
    db, _ = log_copy
    conn = sqlite3.connect(db)
    seq, decision = next((seq, json.loads(text)) for seq, text in conn.execute(
        "SELECT seq, decision FROM decisions WHERE decision ->> '$.outcome' = 'deny' ORDER BY seq DESC"))
    # the last: less to rehash
    conn.close()
    decision["outcome"] = "allow"
    _rewrite_chain(db, seq, decision)
    summary, items = replay(db)
    assert (summary.different, summary.identical, summary.not_replayable) == (1, 599, {})
    assert items == [ReplayItem(seq, decision["decision_id"],
                                differences={"outcome": {"logged": "allow", "replayed": "deny"}})]


def test_a_missing_rule_set_is_a_reason_not_a_crash(log_copy):
    db, _ = log_copy
    alter(db, "DELETE FROM rulesets WHERE digest = (SELECT decision ->> '$.ruleset.digest' FROM decisions WHERE seq = 1)")
    summary, items = replay(db)
    assert summary.not_replayable[RULESET] == len(items) > 0
    assert all(item.reason.startswith("no rule set sha256:") and item.reason.endswith("in the log") for item in items)


def test_replay_decides_with_the_built_in_matcher_unless_told_otherwise(packs_log, monkeypatch):
    db, _ = packs_log
    conn, _ = open_reader(db)
    digest = conn.execute("SELECT ruleset_digest FROM decision_lookups LIMIT 1").fetchone()[0]
    try:
        monkeypatch.delenv(ENVIRONMENT, raising=False)
        assert _Replayer(conn).rulesets.engine(digest).matcher == "python"
        for named in available_matchers():
            assert _Replayer(conn, named).rulesets.engine(digest).matcher == named
            monkeypatch.setenv(ENVIRONMENT, named)
            assert _Replayer(conn).rulesets.engine(digest).matcher == named
    finally:
        conn.close()


@pytest.mark.skipif("durable" not in available_matchers(), reason="durable_rules does not import here")
def test_each_matcher_replays_the_log_identical(packs_log):
    # the log was made with the default matcher where durable_rules imports: durable
    db, _ = packs_log
    for matcher in ("durable", "python"):
        summary = replay_log(db, workers=2, matcher=matcher)
        assert (summary.identical, summary.replayed) == (600, 600), matcher


def test_workers_give_the_same_result_as_one_process(packs_log):
    db, _ = packs_log
    selection = Selection(jurisdiction="CN")
    assert replay(db, selection, workers=2) == replay(db, selection, workers=1)


def test_nothing_is_written_to_the_log(log_copy):
    db, _ = log_copy
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    replay(db)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("content", [b"not a database at all\n" * 100, b""])
def test_a_foreign_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "foreign.db"
    path.write_bytes(content)
    with pytest.raises(AuditError, match="is not a Licit decision log"):
        replay(path)


def test_a_corrupted_log_is_one_clear_error(log_copy):
    db, _ = log_copy
    data = bytearray(db.read_bytes())
    data[len(data) // 2:len(data) // 2 + 8192] = b"\xff" * 8192  # two pages of the records' b-tree
    db.write_bytes(bytes(data))
    with pytest.raises(AuditError, match=r"^cannot read decision log .*: database disk image is malformed$"):
        replay(db)


def test_decision_differences_name_each_field_and_rule():
    logged = {"decision_id": "a", "evaluated_at": "t1", "outcome": "deny", "as_of": "x",
              "findings": [{"rule_id": "R1", "title": "one"}, {"rule_id": "R2", "title": "two"}]}
    replayed = {"decision_id": "b", "evaluated_at": "t2", "outcome": "review", "as_of": "x",
                "findings": [{"rule_id": "R2", "title": "TWO"}, {"rule_id": "R3", "title": "three"}]}
    assert decision_differences(logged, replayed) == {
        "outcome": {"logged": "deny", "replayed": "review"},
        "findings": {"only_logged": ["R1"], "only_replayed": ["R3"], "changed": ["R2"]}}
    assert decision_differences(logged, {**logged, "decision_id": "c", "evaluated_at": "t3"}) == {}
    swapped = {**logged, "findings": logged["findings"][::-1]}
    assert decision_differences(logged, swapped) == {"findings": {"order": {"logged": ["R1", "R2"],
                                                                            "replayed": ["R2", "R1"]}}}


def _rewrite_chain(db, seq: int, decision: dict) -> None:
    """Replace the decision of `seq` and recompute its hash and every later one, as a forger would."""
    conn = writable(db)
    rows = conn.execute("SELECT seq, recorded_at, evaluated_at, duration_us, prev_hash, decision, flow FROM decisions "
                        "WHERE seq >= ? ORDER BY seq", (seq - 1,)).fetchall()
    prev_hash = conn.execute("SELECT hash FROM decisions WHERE seq = ?", (seq - 1,)).fetchone()[0]
    for number, recorded_at, evaluated_at, duration_us, _, text, flow in rows[1:]:
        if number == seq:
            text = canonical_json(decision)
            conn.execute("UPDATE decisions SET decision = ? WHERE seq = ?", (text, number))
        digest = record_hash(record_text(text.encode(), duration_us, evaluated_at, flow.encode(), prev_hash,
                                         recorded_at, number))
        conn.execute("UPDATE decisions SET prev_hash = ?, hash = ? WHERE seq = ?", (prev_hash, digest, number))
        prev_hash = digest
    conn.close()
