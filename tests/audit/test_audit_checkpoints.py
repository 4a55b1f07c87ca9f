"""Signed checkpoints (Ed25519) and the checkpoints the writer writes by itself."""

from __future__ import annotations

import json
import os
import shutil
import stat
import time

import pytest
from conftest import REPO, assert_one_line_error, example_flows, example_items, run

from audit import AuditError, AuditInputError, AuditWriteError, CheckpointPolicy, DecisionLog, verify_log
from audit.checkpoints import write_checkpoint
from audit.signing import generate_keys, key_id, load_private_key, load_public_key


@pytest.fixture
def keys(tmp_path):
    private, public = tmp_path / "signing.pem", tmp_path / "signing.pub.pem"
    generate_keys(private, public)
    return private, public


@pytest.fixture
def signed(filled_log, keys, tmp_path):
    checkpoint = tmp_path / "head.json"
    write_checkpoint(filled_log, checkpoint, keys[0])
    return checkpoint


def test_keygen_writes_a_private_key_only_its_owner_reads_and_replaces_nothing(tmp_path):
    result = run("keygen", "--private", tmp_path / "k.pem", "--public", tmp_path / "k.pub.pem")
    assert result.exit_code == 0 and "key sha256:" in result.output
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600
    assert (tmp_path / "k.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "k.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    before = (tmp_path / "k.pem").read_bytes()
    again = run("keygen", "--private", tmp_path / "k.pem", "--public", tmp_path / "other.pub.pem")
    assert_one_line_error(again, "already exists", exit_code=2)
    assert (tmp_path / "k.pem").read_bytes() == before and not (tmp_path / "other.pub.pem").exists()


def test_key_files_written_a_few_bytes_at_a_time_are_written_whole(tmp_path, monkeypatch):
    write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: write(fd, bytes(data[:7])))  # short writes, as near a full disk
    generate_keys(tmp_path / "k.pem", tmp_path / "k.pub.pem")
    monkeypatch.undo()
    assert key_id(load_private_key(tmp_path / "k.pem").public_key()) == key_id(load_public_key(tmp_path / "k.pub.pem"))


def test_a_signed_checkpoint_verifies_with_its_public_key(filled_log, signed, keys):
    result = run("verify", "--db", filled_log, "--checkpoint", signed, "--public-key", keys[1])
    assert result.exit_code == 0 and "holds checkpoint head seq 12, signed by sha256:" in result.output


def test_a_checkpoint_edited_after_signing_is_refused(filled_log, signed, keys):
    head = json.loads(signed.read_text())
    head["created_at"] = "2020-01-01T00:00:00.000000Z"  # any change, even one that keeps it well-formed
    signed.write_text(json.dumps(head))
    result = run("verify", "--db", filled_log, "--checkpoint", signed, "--public-key", keys[1])
    assert_one_line_error(result, "its signature does not match its content, so it was changed after it was signed")


def test_a_checkpoint_signed_by_another_key_is_refused(filled_log, signed, tmp_path):
    generate_keys(tmp_path / "other.pem", tmp_path / "other.pub.pem")
    result = run("verify", "--db", filled_log, "--checkpoint", signed, "--public-key", tmp_path / "other.pub.pem")
    assert_one_line_error(result, "was signed by another key")


def test_an_unsigned_checkpoint_against_a_public_key_is_refused(filled_log, keys, tmp_path):
    unsigned = tmp_path / "unsigned.json"
    write_checkpoint(filled_log, unsigned)
    result = run("verify", "--db", filled_log, "--checkpoint", unsigned, "--public-key", keys[1])
    assert_one_line_error(result, "is not signed, but a public key was given")
    assert run("verify", "--db", filled_log, "--checkpoint", unsigned).exit_code == 0  # without a key: as before


def test_a_signature_stripped_of_a_field_is_malformed_input(filled_log, signed, keys):
    head = json.loads(signed.read_text())
    del head["signature"]["value"]
    signed.write_text(json.dumps(head))
    result = run("verify", "--db", filled_log, "--checkpoint", signed, "--public-key", keys[1])
    assert_one_line_error(result, "signature.value must be 128 lowercase hex digits", exit_code=2)


def test_a_private_key_others_can_read_or_reached_through_a_symlink_is_refused(filled_log, keys, tmp_path):
    private, _ = keys
    os.chmod(private, 0o644)
    with pytest.raises(AuditInputError, match="accessible to other users"):
        write_checkpoint(filled_log, tmp_path / "a.json", private)
    os.chmod(private, 0o600)
    (tmp_path / "link.pem").symlink_to(private)
    with pytest.raises(AuditInputError, match="symbolic link"):
        write_checkpoint(filled_log, tmp_path / "b.json", tmp_path / "link.pem")
    assert not (tmp_path / "a.json").exists() and not (tmp_path / "b.json").exists()


def test_a_public_key_given_without_a_checkpoint_is_a_usage_error(filled_log, keys):
    assert_one_line_error(run("verify", "--db", filled_log, "--public-key", keys[1]), "give the checkpoint too",
                          exit_code=2)


def test_the_writer_writes_signed_checkpoints_every_n_records_and_when_it_stops(log_path, keys, tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    policy = CheckpointPolicy(directory, every=5, seconds=3600, sign_key=keys[0])
    with DecisionLog(log_path, checkpoints=policy) as log:
        for item in example_items(12):
            log.record(*item)
    written = sorted(path.name for path in directory.iterdir())
    assert written == [f"{log_path.name}.{seq:012d}.checkpoint.json" for seq in (5, 10, 12)]
    for name in written:
        report = verify_log(log_path, directory / name, keys[1])
        assert report.ok and report.checkpoint_signed_by is not None


def test_the_writer_writes_a_checkpoint_after_t_seconds(log_path, tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    with DecisionLog(log_path, checkpoints=CheckpointPolicy(directory, every=1000, seconds=0.2)) as log:
        log.record(*example_items(1)[0])
        written = directory / f"{log_path.name}.000000000001.checkpoint.json"
        deadline = time.monotonic() + 10
        while not written.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert written.exists() and verify_log(log_path, written).ok


def test_automatic_checkpoints_are_off_unless_asked_for(log_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with DecisionLog(log_path) as log:
        log.record(*example_items(1)[0])
    assert sorted(os.listdir(tmp_path)) == [log_path.name]


def test_the_environment_turns_automatic_checkpoints_on_for_the_engine(log_path, tmp_path, monkeypatch):
    from engine import Engine

    directory = tmp_path / "from-environment"
    directory.mkdir()
    monkeypatch.setenv("LICIT_AUDIT_CHECKPOINT_DIR", str(directory))
    monkeypatch.setenv("LICIT_AUDIT_CHECKPOINT_EVERY", "2")
    with Engine(rules_dir=REPO / "jurisdictions", audit_db=log_path, max_request_age=None) as engine:
        for flow in list(example_flows().values())[:4]:
            engine.evaluate(flow)
    assert sorted(path.name for path in directory.iterdir()) == [
        f"{log_path.name}.{seq:012d}.checkpoint.json" for seq in (2, 4)]


def test_a_missing_checkpoint_directory_is_refused_when_the_log_is_opened(log_path, tmp_path):
    with pytest.raises(AuditError, match="checkpoint directory .* does not exist"):
        DecisionLog(log_path, checkpoints=CheckpointPolicy(tmp_path / "absent"))


def test_a_checkpoint_that_cannot_be_written_fails_its_batch_closed(log_path, tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    with DecisionLog(log_path, checkpoints=CheckpointPolicy(directory, every=2, seconds=3600)) as log:
        log.record(*example_items(1)[0])
        shutil.rmtree(directory)  # the operator's directory is gone
        with pytest.raises(AuditWriteError, match="automatic checkpoint"):
            log.record(*example_items(1, start=2)[0])
        directory.mkdir()
        assert log.record(*example_items(1, start=3)[0]) == 3  # tried again with the next batch
    assert verify_log(log_path).records == 3
    assert (directory / f"{log_path.name}.000000000003.checkpoint.json").exists()


def test_callers_asking_for_other_checkpoints_than_the_writers_are_refused(log_path, tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    with DecisionLog(log_path, checkpoints=CheckpointPolicy(directory)):
        with pytest.raises(AuditError, match="every writer of a log must ask for the same"):
            DecisionLog(log_path)
