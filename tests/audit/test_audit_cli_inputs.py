"""`licit audit` at the edges of its input: dates at the ends of time, huge numbers,
forged checkpoints, a seed that fails. A result or one line and exit 2, never a traceback."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner
from conftest import assert_one_line_error, example_flows, run

from audit import AuditError, DecisionLog
from audit.errors import AuditInputError
from audit.times import lower_bound, upper_bound
from engine.batch.seed import seed_log
from engine.cli import cli


def count(result) -> int:
    assert result.exit_code == 0, result.output
    return len(json.loads(result.output))


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--until", "9999-12-31"], 12),  # the last day there is: no upper bound
        (["--until", "9999-12-31T23:59:59.999999Z"], 12),
        (["--since", "0001-01-01T00:00:00+08:00"], 12),  # before the year 1 in UTC: no lower bound
        (["--since", "0999-01-01"], 12),  # a three-digit year once sorted after 2026
        (["--since", "9999-12-31T23:00:00-08:00"], 0),  # after the year 9999 in UTC: nothing is later
        (["--until", "0001-01-01T00:00:00+08:00"], 0),
        (["--limit", 10**20], 12),  # beyond SQLite's integers: at most that many is all of them
    ],
)
def test_query_bounds_at_the_ends_of_time_and_huge_limits_are_answers(filled_log, args, expected):
    assert count(run("query", "--db", filled_log, "--format", "json", *args)) == expected


def test_stats_at_the_end_of_time_and_a_huge_top(filled_log):
    result = run("stats", "--db", filled_log, "--until", "9999-12-31", "--top", 10**20, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["decisions"] == 12


def test_bounds_keep_their_fixed_width_text_form():
    assert lower_bound("0999-01-01") == "0999-01-01T00:00:00.000000Z"
    assert upper_bound("0999-01-01T08:00:00+08:00") == "0999-01-01T00:00:00.000001Z"


@pytest.mark.parametrize("args", [["--limit", -1], ["--top", 0]])
def test_out_of_range_counts_exit_2(filled_log, args):
    command = "query" if args[0] == "--limit" else "stats"
    result = run(command, "--db", filled_log, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output


@pytest.fixture
def checkpoint(filled_log, tmp_path):
    path = tmp_path / "head.json"
    assert run("checkpoint", "--db", filled_log, "--output", path).exit_code == 0
    return path


@pytest.mark.parametrize(
    "field, value",
    [
        ("seq", -5),
        ("seq", 0),
        ("seq", True),
        ("seq", 10**30),
        ("seq", 12.0),
        ("seq", "12"),
        ("hash", "A" * 64),
        ("hash", "0" * 63),
        ("hash", None),
        ("ruleset_digests", ["sha256:xyz"]),
        ("ruleset_digests", "sha256:" + "0" * 64),
        ("created_at", 5),
        ("meta_digest", None),
        ("meta_digest", "sha256:xyz"),
    ],
)
def test_a_forged_checkpoint_field_is_one_line_naming_file_and_field(filled_log, checkpoint, field, value):
    head = json.loads(checkpoint.read_text())
    head[field] = value
    checkpoint.write_text(json.dumps(head))
    result = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert_one_line_error(result, f"checkpoint {checkpoint}: {field} must be", exit_code=2)


def test_a_checkpoint_without_a_field_is_refused(filled_log, checkpoint):
    head = json.loads(checkpoint.read_text())
    del head["created_at"]
    checkpoint.write_text(json.dumps(head))
    assert_one_line_error(run("verify", "--db", filled_log, "--checkpoint", checkpoint), "created_at", exit_code=2)


def test_a_checkpoint_file_over_a_mebibyte_is_refused(filled_log, checkpoint):
    checkpoint.write_text(checkpoint.read_text() + " " * (1 << 20))  # still a valid checkpoint as JSON
    result = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert_one_line_error(result, f"checkpoint {checkpoint} is larger than 1 MiB", exit_code=2)


def test_an_endless_file_as_a_checkpoint_is_refused_without_reading_it(filled_log):
    result = run("verify", "--db", filled_log, "--checkpoint", "/dev/zero")
    assert_one_line_error(result, "checkpoint /dev/zero is not a regular file", exit_code=2)


def test_a_fifo_as_a_checkpoint_is_refused_without_waiting_for_a_writer(filled_log, tmp_path):
    fifo = tmp_path / "head.json"
    os.mkfifo(fifo)
    result = run("verify", "--db", filled_log, "--checkpoint", fifo)  # used to wait forever for a writer
    assert_one_line_error(result, f"checkpoint {fifo} is not a regular file", exit_code=2)


def test_a_checkpoint_nested_too_deeply_to_parse_is_not_json(filled_log, checkpoint):
    checkpoint.write_text("[" * 100_000)  # well under 1 MiB
    result = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert_one_line_error(result, f"checkpoint {checkpoint} is not JSON", exit_code=2)


def test_an_empty_log_gets_no_checkpoint(log_path, tmp_path):
    DecisionLog(log_path).close()
    result = run("checkpoint", "--db", log_path, "--output", tmp_path / "head.json")
    assert_one_line_error(result, "the log is empty")
    assert not (tmp_path / "head.json").exists()


def test_a_seed_with_a_short_key_creates_nothing_and_a_retry_succeeds(tmp_path):
    path = tmp_path / "s1.db"
    assert_one_line_error(run("seed", "--db", path, "--n", 5, env={"LICIT_AUDIT_KEY": "short"}), "too short")
    assert os.listdir(tmp_path) == []
    assert run("seed", "--db", path, "--n", 5).exit_code == 0


def test_a_seed_that_fails_midway_removes_what_it_created(tmp_path):
    path = tmp_path / "s.db"
    (tmp_path / "notes.txt").write_text("not the seed's")

    def fail(_written, _total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        seed_log(path, 5, progress=fail)
    assert os.listdir(tmp_path) == ["notes.txt"]


@pytest.mark.parametrize("days", ["inf", "nan", "-1", "1e9"])
def test_seed_days_must_be_a_sensible_span(tmp_path, days):
    result = run("seed", "--db", tmp_path / "s.db", "--n", 3, "--days", days)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert os.listdir(tmp_path) == []


def test_seed_log_refuses_bad_arguments_as_input_errors(tmp_path):
    for kwargs in ({"days": float("inf")}, {"days": 0}, {"days": 1e-6}):  # 1e-6: shorter than a flow's latency
        with pytest.raises(AuditInputError):
            seed_log(tmp_path / "s.db", 3, **kwargs)
    with pytest.raises(AuditInputError):
        seed_log(tmp_path / "s.db", 10**20)
    (tmp_path / "taken.db").write_text("")
    with pytest.raises(AuditError, match="already exists"):
        seed_log(tmp_path / "taken.db", 3)
    assert sorted(os.listdir(tmp_path)) == ["taken.db"]


def test_an_applicant_id_is_read_from_a_file_or_standard_input(filled_log, tmp_path):
    id_number = example_flows()["student-on-credit"]["applicant"]["id_number"]
    (tmp_path / "id.txt").write_text(id_number + "\n")
    by_argument = run("query", "--db", filled_log, "--applicant-id", id_number, "--format", "json").output
    by_file = run("query", "--db", filled_log, "--applicant-id-file", tmp_path / "id.txt", "--format", "json").output
    by_stdin = CliRunner().invoke(cli, ["audit", "query", "--db", str(filled_log), "--applicant-id-file", "-",
                                        "--format", "json"], input=id_number + "\n").output
    assert len(json.loads(by_argument)) == 12 and by_file == by_argument == by_stdin


def test_an_applicant_id_file_that_is_empty_not_text_or_given_with_the_id_is_refused(filled_log, tmp_path):
    (tmp_path / "empty.txt").write_text("\n")
    assert_one_line_error(run("query", "--db", filled_log, "--applicant-id-file", tmp_path / "empty.txt"),
                          "holds no id number", exit_code=2)
    (tmp_path / "id.txt").write_text("440301199001011234\n")
    assert_one_line_error(run("query", "--db", filled_log, "--applicant-id", "1", "--applicant-id-file",
                              tmp_path / "id.txt"), "not both", exit_code=2)
    (tmp_path / "binary.txt").write_bytes(b"\xff\xfe\x00440301\n")
    assert_one_line_error(run("query", "--db", filled_log, "--applicant-id-file", tmp_path / "binary.txt"),
                          "is not UTF-8 text", exit_code=2)
