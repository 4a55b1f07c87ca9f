"""`licit audit seed` writes real decisions: made by the engine on the rule packs, about
synthetic flows, each logged with its rule set so that an auditor can replay it."""
import datetime as dt
import json
import os
import sqlite3

import pytest
from click.testing import CliRunner

from audit import get_decision, load_ruleset
from engine import Engine
from engine.cli import cli
from tests.conftest import PACKS


@pytest.fixture(autouse=True)
def audit_key(monkeypatch):
    monkeypatch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")


def licit(*args):
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def seeded(path, count, *options):
    result = licit("audit", "seed", "--db", path, "--n", count, "--rules", PACKS, *options)
    assert result.exit_code == 0, result.output
    return path


def rows(path, sql="SELECT decision_id, outcome, jurisdiction, ruleset_digest FROM decision_lookups ORDER BY seq"):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture(scope="module")
def seeded_log(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:  # the autouse key fixture is per test
        patch.setenv("LICIT_AUDIT_KEY", "test-key-0123456789abcdef")
        yield seeded(tmp_path_factory.mktemp("seed") / "seeded.db", 1000, "--seed", 3)


def test_seeded_decisions_replay_to_the_same_outcome_and_rules(seeded_log):
    """Replay on the stored rule files: the sample holds each outcome and each jurisdiction."""
    records = rows(seeded_log)
    sample = {}
    for decision_id, outcome, jurisdiction, _ in records:
        sample.setdefault(outcome, decision_id)
        sample.setdefault(jurisdiction, decision_id)
    sample["last"] = records[-1][0]
    assert len(sample) == 4 + 5 + 1
    for decision_id in sample.values():
        replay = licit("audit", "replay", "--db", seeded_log, decision_id, "--format", "json")
        assert replay.exit_code == 0, replay.output
        result = json.loads(replay.output)
        assert result["identical"] and result["digest_matches"], result


def test_seeded_decisions_store_the_shipped_packs_they_were_made_with(seeded_log):
    engine = Engine(rules_dir=PACKS, max_request_age=None)
    records = rows(seeded_log)
    for code in engine.jurisdictions:
        digests = {digest for _, _, jurisdiction, digest in records if jurisdiction == code}
        assert digests == {engine.tree.compiled[code].digest}
        assert load_ruleset(seeded_log, digests.pop())["files"] == engine.tree.files(code)
    assert licit("audit", "verify", "--db", seeded_log).exit_code == 0


def test_a_seeded_log_varies_in_outcomes_jurisdictions_and_fired_rules(seeded_log):
    outcomes = [outcome for _, outcome, _, _ in rows(seeded_log)]
    assert {outcome: outcomes.count(outcome) > 20 for outcome in ("deny", "review", "conditional", "allow")} == {
        "deny": True, "review": True, "conditional": True, "allow": True}
    assert outcomes.count("allow") > len(outcomes) / 2  # most enrollment flows comply
    assert {jurisdiction for _, _, jurisdiction, _ in rows(seeded_log)} == {"CN", "CN-BJ", "CN-GD", "CN-GD-SZ",
                                                                            "CN-SH"}
    fired = {rule_id for (rule_id,) in rows(seeded_log, "SELECT DISTINCT rule_id FROM findings")}
    assert len(fired) >= 15 and "CN.CTPL.LUMP_SUM" in fired  # the docs' query examples find it


def test_each_decision_is_made_when_its_flow_was_requested_spread_over_the_days(seeded_log):
    """evaluated_at follows requested_at (the as_of the rules were chosen for) within a second,
    in log order, over the last 365 days."""
    now = dt.datetime.now(dt.timezone.utc)
    times = [(dt.datetime.fromisoformat(evaluated), dt.datetime.fromisoformat(as_of)) for evaluated, as_of in
             rows(seeded_log, "SELECT evaluated_at, decision ->> '$.as_of' FROM decisions ORDER BY seq")]
    assert [evaluated for evaluated, _ in times] == sorted(evaluated for evaluated, _ in times)
    assert all(dt.timedelta(0) < evaluated - as_of < dt.timedelta(seconds=1) for evaluated, as_of in times)
    assert now - dt.timedelta(days=366) < times[0][0] < now - dt.timedelta(days=364) and times[-1][0] <= now
    ids = [decision_id for decision_id, *_ in rows(seeded_log)]
    assert ids == sorted(ids)  # as the engine makes them: in the order of the decisions' times


def test_the_same_seed_gives_the_same_flows_and_decisions_apart_from_ids_and_times(tmp_path):
    def content(path):
        records = []
        for decision_id, *_ in rows(path):
            record = get_decision(path, decision_id)
            decision, flow = record["decision"], record["flow"]
            for moment in ("decision_id", "evaluated_at", "as_of"):
                del decision[moment]
            del flow["requested_at"]
            for product in flow["products"]:
                del product["start_date"]  # days after requested_at
            records.append((decision, flow, record["ruleset_digest"]))
        return records

    first, again = (content(seeded(tmp_path / name, 120, "--seed", 5)) for name in ("a.db", "b.db"))
    assert first == again
    assert content(seeded(tmp_path / "other.db", 120, "--seed", 6)) != first


def test_days_reaching_before_any_rule_is_in_force_are_refused_before_anything_is_written(tmp_path):
    result = licit("audit", "seed", "--db", tmp_path / "s.db", "--n", 10, "--rules", PACKS, "--days", 10_000)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "no rule of CN is in force before 2006-07-01" in result.output and len(result.output.splitlines()) == 1
    assert os.listdir(tmp_path) == []


def test_a_rule_tree_that_does_not_load_seeds_nothing(write_tree, tmp_path):
    broken = write_tree({"CN/broken.yaml": "rules:\n  - id: CN.BROKEN\n    title: x\n"})
    result = licit("audit", "seed", "--db", tmp_path / "s.db", "--n", 10, "--rules", broken)
    assert result.exit_code == 1 and "rule set does not load" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s.db").exists() and not (tmp_path / "s.db-spool").exists()


# The seed's own process, stopped by a signal once it has decided a few flows into its new log.
_STOPPED_SEED = """
import os, signal, sys
import engine.batch.seed
from engine.cli import main

synthetic_flows = engine.batch.seed.synthetic_flows
stop = getattr(signal, sys.argv.pop(1))


def stopped_after_three(*args, **kwargs):
    for number, flow in enumerate(synthetic_flows(*args, **kwargs)):
        if number == 3:
            os.kill(os.getpid(), stop)
        yield flow


engine.batch.seed.synthetic_flows = stopped_after_three
main()
"""


@pytest.mark.parametrize("signal_name, exit_code", [("SIGTERM", 143), ("SIGHUP", 129)])
def test_a_seed_stopped_by_kill_or_a_closed_terminal_removes_its_partial_log(tmp_path, signal_name, exit_code):
    """As docs/guarantees.md says of an interrupted seed: a partial log would block the retry."""
    import subprocess
    import sys

    from tests.conftest import REPO

    (tmp_path / "notes.txt").write_text("not the seed's")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    stopped = subprocess.run([sys.executable, "-c", _STOPPED_SEED, signal_name, "audit", "seed", "--n", "100",
                              "--db", tmp_path / "s.db", "--rules", PACKS], env=env, capture_output=True, text=True)
    assert stopped.returncode == exit_code, stopped.stderr  # as a shell reports a command the signal ended
    assert "Traceback" not in stopped.stderr
    assert os.listdir(tmp_path) == ["notes.txt"]
    assert licit("audit", "seed", "--db", tmp_path / "s.db", "--n", 5, "--rules", PACKS).exit_code == 0
