"""requested_at selects the rules, so an engine decides a flow only around the time it is requested:
re-dating a denied flow to a year with other rules must not make it allowed."""
from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from engine import Engine, EngineError, FlowValidationError
from engine.cli import cli
from tests.conftest import EXAMPLES, PACKS, example

NOW = dt.datetime(2026, 11, 24, 2, 15, tzinfo=dt.timezone.utc)  # the examples' requested_at, 10:15 in Beijing


@pytest.fixture(scope="module")
def engine():
    with Engine(rules_dir=PACKS, clock=lambda: NOW) as built:
        yield built


def requested(offset: dt.timedelta, name: str = "student-on-credit") -> dict:
    return dict(example(name), requested_at=(NOW + offset).isoformat())


@pytest.mark.parametrize("offset", [dt.timedelta(0), -dt.timedelta(hours=23, minutes=59), dt.timedelta(minutes=4)])
def test_a_flow_requested_around_the_engines_clock_is_decided(engine, offset):
    assert engine.evaluate(requested(offset)).outcome == "deny"


@pytest.mark.parametrize("offset, problem", [
    (-dt.timedelta(hours=24, seconds=1), "is more than 1 day before the engine's clock (2026-11-24T02:15:00Z)"),
    (-dt.timedelta(days=365 * 6), "is more than 1 day before the engine's clock"),
    (dt.timedelta(minutes=5, seconds=1), "is more than 5 minutes after the engine's clock (2026-11-24T02:15:00Z)"),
])
def test_a_flow_requested_long_before_or_after_the_clock_is_refused(engine, offset, problem):
    with pytest.raises(FlowValidationError) as caught:
        engine.evaluate(requested(offset))
    [error] = caught.value.errors
    assert error.path == "requested_at" and problem in error.message and "give as_of" in error.message


def test_re_dating_a_denied_flow_does_not_make_it_allowed(engine):
    back_then = dict(example("student-on-credit"), requested_at="2020-06-01T10:00:00+08:00")
    with Engine(rules_dir=PACKS, max_request_age=None) as historical:
        assert historical.evaluate(back_then).outcome == "allow"  # the rule came later: what the check prevents
    with pytest.raises(FlowValidationError, match="requested_at: 2020-06-01T10:00:00"):
        engine.evaluate(back_then)
    assert engine.evaluate(back_then, as_of=NOW).outcome == "deny"  # the caller names the instant: its rules


def test_the_window_is_the_callers_to_narrow_or_lift(engine):
    with Engine(rules_dir=PACKS, clock=lambda: NOW, max_request_age=dt.timedelta(hours=1)) as narrow:
        with pytest.raises(FlowValidationError, match="more than 1 hour before"):
            narrow.evaluate(requested(-dt.timedelta(hours=2)))
    with Engine(rules_dir=PACKS, clock=lambda: NOW, max_request_age=None) as lifted:
        assert lifted.evaluate(requested(dt.timedelta(days=30))).outcome == "deny"


@pytest.mark.parametrize("age", [dt.timedelta(0), -dt.timedelta(hours=1), 24, "24h"])
def test_a_request_age_that_is_not_a_positive_timedelta_is_refused(age):
    with pytest.raises(EngineError, match="max_request_age must be a positive timedelta or None"):
        Engine(rules_dir=PACKS, max_request_age=age)


def test_a_person_deciding_files_decides_them_at_their_own_date(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["evaluate", "--no-audit", str(EXAMPLES / "student-on-credit.json")])
    assert result.exit_code == 0 and '"outcome": "deny"' in result.output
