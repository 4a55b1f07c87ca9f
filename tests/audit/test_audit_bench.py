"""The benchmark helpers `licit bench --audit` calls produce real measurements."""

from __future__ import annotations

from conftest import example_items

from audit.bench import audit_benchmark, bare_commit_rate, record_rate, typical_row_bytes


def test_bare_commit_and_record_rates_are_measured_beside_the_log(log_path):
    assert 1000 < typical_row_bytes(example_items(20)) < 10_000
    assert bare_commit_rate(log_path, row_bytes=2000, commits=30) > 0
    assert record_rate(log_path, example_items(20), processes=2) > 0
    assert list(log_path.parent.iterdir()) == []  # temporary logs are removed


def test_audit_benchmark_reports_the_targets_inputs(log_path):
    result = audit_benchmark(log_path, example_items(20), processes=2)
    assert set(result) == {
        "bare_commits_per_s",
        "records_per_s_1_process",
        "records_per_s_2_processes",
        "record_cost_in_bare_commits",
        "speedup_2_processes",
    }
    assert result["record_cost_in_bare_commits"] > 0
