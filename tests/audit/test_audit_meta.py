"""The log's meta rows are outside the hash chain: verify checks their keys and forms,
and a checkpoint's meta digest catches a well-formed rewrite."""

from __future__ import annotations

import json

import pytest
from conftest import assert_one_line_error, drop_triggers, raw, run

from audit import verify_log, write_checkpoint
from audit.redaction import key_check


def tamper_meta(path, statement: str, params: tuple = ()) -> None:
    conn = raw(path)
    drop_triggers(conn)
    conn.execute(statement, params)
    conn.close()


def meta_problems(path, checkpoint=None) -> list[str]:
    return [p.detail for p in verify_log(path, checkpoint).problems if p.kind == "meta changed"]


def first_recorded_at(path) -> str:
    return raw(path).execute("SELECT recorded_at FROM decisions WHERE seq = 1").fetchone()[0]


@pytest.mark.parametrize(
    "statement, params, named",
    [
        ("DELETE FROM meta WHERE key = 'created_at'", (), "missing: created_at"),
        ("DELETE FROM meta WHERE key = 'key_check'", (), "missing: key_check"),
        ("INSERT INTO meta VALUES ('note', 'added later')", (), "added: note"),
        ("UPDATE meta SET value = 'yesterday' WHERE key = 'created_at'", (), "created_at must be"),
        ("UPDATE meta SET value = '2026-11-24T02:15:00Z' WHERE key = 'created_at'", (), "created_at must be"),
        ("UPDATE meta SET value = '2026-02-30T02:15:00.000000Z' WHERE key = 'created_at'", (), "created_at must be"),
        ("UPDATE meta SET value = '9999-01-01T00:00:00.000000Z' WHERE key = 'created_at'", (), "after seq 1"),
        ("UPDATE meta SET value = 'not a key check' WHERE key = 'key_check'", (), "key_check must be"),
        ("UPDATE meta SET value = upper(value) WHERE key = 'key_check'", (), "key_check must be"),
        ("UPDATE meta SET value = 'md5' WHERE key = 'hash_algorithm'", (), "hash_algorithm must be"),
    ],
)
def test_a_meta_edit_is_meta_changed(filled_log, statement, params, named):
    tamper_meta(filled_log, statement, params)
    details = meta_problems(filled_log)
    assert len(details) == 1 and named in details[0]


def test_meta_changed_is_reported_by_the_cli_as_broken(filled_log):
    tamper_meta(filled_log, "INSERT INTO meta VALUES ('note', 'added later')")
    result = run("verify", "--db", filled_log)
    assert result.exit_code == 1 and "log: meta changed - " in result.output and "added: note" in result.output


def test_a_changed_format_marker_is_one_line_refusing_the_file(filled_log):
    tamper_meta(filled_log, "UPDATE meta SET value = 'something-else' WHERE key = 'format'")
    assert_one_line_error(run("verify", "--db", filled_log), "is not a Licit decision log (format 'something-else')")


@pytest.mark.parametrize(
    "key, value",
    [("key_check", key_check(b"another key of sixteen chars")), ("created_at", "2020-01-01T00:00:00.000000Z")],
)
def test_a_well_formed_meta_rewrite_is_caught_by_a_checkpoint(filled_log, tmp_path, key, value):
    checkpoint = tmp_path / "head.json"
    write_checkpoint(filled_log, checkpoint)
    assert json.loads(checkpoint.read_text())["meta_digest"].startswith("sha256:")
    tamper_meta(filled_log, "UPDATE meta SET value = ? WHERE key = ?", (value, key))
    assert meta_problems(filled_log) == []  # well-formed: only the checkpoint can tell
    details = meta_problems(filled_log, checkpoint)
    assert len(details) == 1 and "differ from the checkpoint" in details[0]
    result = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert result.exit_code == 1 and "log: meta changed - " in result.output


def test_an_older_checkpoint_without_a_meta_digest_is_accepted_and_says_so(filled_log, tmp_path):
    checkpoint = tmp_path / "head.json"
    write_checkpoint(filled_log, checkpoint)
    head = json.loads(checkpoint.read_text())
    del head["meta_digest"]
    checkpoint.write_text(json.dumps(head))
    result = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert result.exit_code == 0 and "holds checkpoint head seq 12" in result.output
    assert "meta not covered" in result.output
    covered = tmp_path / "new.json"
    write_checkpoint(filled_log, covered)
    assert "meta not covered" not in run("verify", "--db", filled_log, "--checkpoint", covered).output
    tamper_meta(filled_log, "UPDATE meta SET value = ? WHERE key = 'key_check'", (key_check(b"another key, 16+"),))
    broken = run("verify", "--db", filled_log, "--checkpoint", checkpoint)
    assert broken.exit_code == 1 and broken.output.splitlines()[-1] == (
        "note: meta not covered: the checkpoint predates meta digests"
    )


def test_an_intact_logs_meta_passes_and_its_created_at_precedes_its_first_record(filled_log):
    assert verify_log(filled_log).ok
    created_at = raw(filled_log).execute("SELECT value FROM meta WHERE key = 'created_at'").fetchone()[0]
    assert created_at <= first_recorded_at(filled_log)
