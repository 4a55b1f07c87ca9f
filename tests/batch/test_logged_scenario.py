"""A logged decision pinned as a scenario case runs with `licit rules test`, and fails once a rule
change would decide the flow otherwise."""
import datetime as dt
import shutil
import sqlite3

import pytest
from click.testing import CliRunner

from audit import AuditError
from engine import Engine
from engine.cli import cli
from engine.batch.logged_scenario import scenario_from_decision
from tests.batch.conftest import ALTER_FLOW, alter, copy_log, seeded
from tests.conftest import PACKS, example


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    return seeded(tmp_path_factory.mktemp("pinned") / "log.db", 300, seed=5, days=10)


@pytest.fixture
def logged(log, tmp_path):
    """A copy of the log, and a copy of the rule tree it was made with."""
    tree = tmp_path / "rules"
    shutil.copytree(PACKS, tree, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return copy_log(log, tmp_path / "log.db"), tree


def pick(db, where: str) -> tuple[str, str]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT l.decision_id, l.jurisdiction FROM decisions AS d JOIN decision_lookups AS l "
                            f"USING (seq) WHERE {where} ORDER BY seq").fetchone()


def rules_test(tree, code, pattern):
    return CliRunner().invoke(cli, ["rules", "test", str(tree), "-j", code, "-k", pattern])


def test_a_pinned_decision_runs_with_rules_test_and_catches_a_rule_change(logged):
    db, tree = logged
    decision_id, code = pick(db, "outcome = 'review' AND decision LIKE '%CN.CREDIT.APR_REVIEW%'")
    text = scenario_from_decision(db, decision_id, name="a real case of a high rate")
    assert "hmac-sha256:" in text and "CN.CREDIT.APR_REVIEW" in text
    (tree / code / "tests" / "pinned.yaml").write_text(text, encoding="utf-8")
    passed = rules_test(tree, code, "a real case of a high rate")
    assert passed.exit_code == 0 and "1 case: 1 passed, 0 failed" in passed.output, passed.output
    credit = tree / "CN" / "credit.yaml"
    credit.write_text(credit.read_text(encoding="utf-8").replace("value: 0.24", "value: 0.40"), encoding="utf-8")
    failed = rules_test(tree, code, "a real case of a high rate")
    assert failed.exit_code == 1 and "expected outcome review" in failed.output


def test_each_outcome_pins_and_passes(logged):
    db, tree = logged
    for outcome in ("allow", "conditional", "review", "deny"):
        decision_id, code = pick(db, f"outcome = '{outcome}'")
        (tree / code / "tests" / f"pinned_{outcome}.yaml").write_text(scenario_from_decision(db, decision_id),
                                                                      encoding="utf-8")
        result = rules_test(tree, code, decision_id)
        assert result.exit_code == 0 and "1 passed" in result.output, (outcome, result.output)


def test_a_record_that_does_not_verify_is_not_pinned(logged):
    db, _ = logged
    decision_id, _ = pick(db, "seq = 3")
    alter(db, ALTER_FLOW, 3)
    with pytest.raises(AuditError, match="does not verify in the log .* not pinned as a test"):
        scenario_from_decision(db, decision_id)


def test_a_decision_made_as_of_another_instant_pins_that_instant(tmp_path):
    db, tree = tmp_path / "log.db", tmp_path / "rules"
    shutil.copytree(PACKS, tree, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    flow = example("student-on-credit")  # denied since the student-loan notice of 2021-03-01
    with Engine(rules_dir=tree, audit_db=db) as engine:
        decision = engine.evaluate(flow, as_of=dt.datetime(2021, 2, 1, 12, tzinfo=dt.timezone.utc))
    assert decision.outcome == "allow"
    text = scenario_from_decision(db, decision.decision_id, name="a student before the notice")
    assert "as_of: '2021-02-01T12:00:00+00:00'" in text
    (tree / flow["jurisdiction"] / "tests" / "pinned.yaml").write_text(text, encoding="utf-8")
    result = rules_test(tree, flow["jurisdiction"], "a student before the notice")
    assert result.exit_code == 0 and "1 case: 1 passed" in result.output, result.output
