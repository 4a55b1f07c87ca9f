"""What a rule tree may hold: every entry that looks like a rule or scenario file is read whole or is a
located error, and a tree with any such error is refused whole (validate, lint, test and the engine)."""
from __future__ import annotations

import os
import shutil

import pytest
from click.testing import CliRunner

from engine.cli import cli
from engine.core import Engine
from engine.facts import flow_vocabulary
from rules import RuleSetError, load_rules
from rules.lint import lint_rules
from rules.checker import MAX_LIST_ITEMS
from rules.loader import MAX_DATED_ENTRIES
from rules.treefiles import MAX_FILE_BYTES
from tests.conftest import PACKS, rule_yaml
from tests.privileges import as_nobody, shared_folder

VOCABULARY = flow_vocabulary()


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "jurisdictions"
    shutil.copytree(PACKS, root, ignore=shutil.ignore_patterns("__pycache__"))
    return root


def refused(root) -> list[str]:
    with pytest.raises(RuleSetError) as caught:
        load_rules(root, VOCABULARY)
    return [str(error) for error in caught.value.errors]


def assert_refused_everywhere(root, expected: str) -> None:
    """The loader, validate, lint, test and the engine all refuse the tree with the located line."""
    assert any(expected in line for line in refused(root)), refused(root)
    for command in (["rules", "validate", str(root)], ["rules", "lint", str(root)], ["rules", "test", str(root)]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1 and expected in result.output, (command, result.output)
        assert "Traceback" not in result.output
    assert any(expected in str(error) for error in lint_rules(root, VOCABULARY).errors)
    with pytest.raises(RuleSetError):
        Engine(rules_dir=root)


def dangling_symlink(path):
    path.symlink_to(path.parent / "missing.yaml")


def fifo(path):
    os.mkfifo(path)


def folder(path):
    path.mkdir()


@pytest.mark.parametrize("make, why", [(dangling_symlink, "which does not exist"),
                                       (fifo, "not a regular file (a FIFO)"),
                                       (folder, "not a regular file (a folder)")])
def test_an_entry_named_like_a_rule_file_that_is_not_one_refuses_the_tree(tree, make, why):
    make(tree / "CN" / "extra.yaml")
    assert_refused_everywhere(tree, "CN/extra.yaml:1:1: unreadable_file: ")
    assert any(why in line for line in refused(tree))


def test_the_same_entries_among_scenario_files_fail_the_tests(tree):
    os.mkfifo(tree / "CN" / "tests" / "extra.yaml")
    result = CliRunner().invoke(cli, ["rules", "test", str(tree)])
    assert result.exit_code == 1 and "CN/tests/extra.yaml:1:1: unreadable_file: not a regular file (a FIFO)" \
        in result.output, result.output


def test_a_rule_file_the_user_may_not_read_refuses_the_tree():
    with shared_folder() as shared:
        root = shared / "jurisdictions"
        shutil.copytree(PACKS, root, ignore=shutil.ignore_patterns("__pycache__"))
        (root / "CN" / "privacy.yaml").chmod(0o600)
        outcome = as_nobody(load_rules, root, VOCABULARY)
        assert outcome.startswith("RuleSetError:"), outcome
        assert "CN/privacy.yaml:1:1: unreadable_file: cannot read this file: Permission denied" in outcome
        (root / "CN" / "privacy.yaml").chmod(0o644)
        (root / "CN-SH").chmod(0o700)
        outcome = as_nobody(load_rules, root, VOCABULARY)
        assert "CN-SH:1:1: unreadable_file: cannot list this folder: Permission denied" in outcome, outcome


def test_symlinks_inside_the_tree_are_followed(tree):
    shared = tree / ".shared"
    shared.mkdir()
    (tree / "CN" / "credit.yaml").rename(shared / "credit.yaml")
    (tree / "CN" / "credit.yaml").symlink_to("../.shared/credit.yaml")
    (tree / "CN-XX").symlink_to("CN-BJ")  # a folder may be a link too (CN-BJ's pilot exceptions hold here too)
    loaded = load_rules(tree, VOCABULARY)
    assert "CN.CREDIT.STUDENT" in {rule.id for rule in loaded.jurisdictions["CN"].rules}
    assert loaded.files("CN-XX")["CN-XX/pilots.yaml"] == \
        (tree / "CN-BJ" / "pilots.yaml").read_text()


def test_a_symlink_out_of_the_tree_is_refused_and_its_files_never_stored(tree, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "extra.yaml").write_text("rules:\n" + rule_yaml("CN.X.ONE", "applicant.age < 200"))
    (tree / "CN" / "extra.yaml").symlink_to(outside / "extra.yaml")
    assert_refused_everywhere(tree, "CN/extra.yaml:1:1: outside_tree: extra.yaml leads to ")
    (tree / "CN" / "extra.yaml").unlink()
    shutil.move(tree / "CN-GD-SZ", outside / "CN-GD-SZ")
    (tree / "CN-GD-SZ").symlink_to(outside / "CN-GD-SZ")
    assert_refused_everywhere(tree, "CN-GD-SZ:1:1: outside_tree: CN-GD-SZ leads to ")


@pytest.mark.parametrize("relative, expected", [
    ("CN/extra.YAML", "CN/extra.YAML:1:1: misplaced_file: extra.YAML: YAML files of a rule tree end in .yaml"),
    ("extra.yaml", "extra.yaml:1:1: misplaced_file: extra.yaml is outside every jurisdiction folder"),
])
def test_yaml_files_nothing_would_read_are_refused(tree, relative, expected):
    (tree / relative).write_text("rules:\n" + rule_yaml("CN.X.ONE", "applicant.age < 200"))
    assert_refused_everywhere(tree, expected)


def test_hidden_entries_are_not_part_of_the_tree(tree):
    (tree / "CN" / ".#credit.yaml").symlink_to("root@host.1234:1700000000")  # an editor's lock file
    (tree / "CN" / ".credit.yaml.swp").write_bytes(b"\0\1binary")
    (tree / ".git").mkdir()
    (tree / ".git" / "config.yaml").write_text("not: [rules")
    assert load_rules(tree, VOCABULARY).digest("CN") == load_rules(PACKS, VOCABULARY).digest("CN")


@pytest.mark.parametrize("name", ["CN-GD\n", "CN-GD ", "cn-gd", "CN-A-B-C-D", "CN-TOOLONG7"])
def test_a_folder_is_a_jurisdiction_only_if_its_whole_name_is_a_usable_code(tree, name):
    (tree / name).mkdir()
    (tree / name / "a.yaml").write_text("jurisdiction: {name: {zh: 测试, en: test}}\n")
    assert_refused_everywhere(tree, ": invalid_jurisdiction_code: folder ")


def test_a_code_as_deep_as_a_flow_may_name_loads(tree):
    (tree / "CN-GD-SZ-NS").mkdir()
    (tree / "CN-GD-SZ-NS" / "a.yaml").write_text("jurisdiction: {name: {zh: 南山, en: Nanshan}}\n")
    assert load_rules(tree, VOCABULARY).chain("CN-GD-SZ-NS") == ["CN", "CN-GD", "CN-GD-SZ", "CN-GD-SZ-NS"]


def test_a_file_larger_than_the_cap_is_refused_after_reading_at_most_the_cap(tree):
    with (tree / "CN" / "big.yaml").open("w") as file:
        file.write("# " + "x" * MAX_FILE_BYTES + "\n")
    assert_refused_everywhere(tree, f"CN/big.yaml:1:1: file_too_large: larger than {MAX_FILE_BYTES:,} bytes")


def test_a_file_of_exactly_the_cap_loads(tree):
    text = (tree / "CN" / "credit.yaml").read_text()
    padding = MAX_FILE_BYTES - len(text.encode()) - 1
    (tree / "CN" / "credit.yaml").write_text(text + "#" + "x" * padding)
    assert load_rules(tree, VOCABULARY).jurisdictions["CN"].rules


def parameter_list(count: int) -> str:
    values = ", ".join(f"P{index}" for index in range(count))
    return f"parameters:\n  pilots:\n    type: list[string]\n    values: [{{from: 2020-01-01, value: [{values}]}}]\n"


def test_a_list_longer_than_the_cap_is_refused_at_its_first_value_past_it(write_tree):
    error = refused(write_tree({"CN/a.yaml": parameter_list(MAX_LIST_ITEMS + 1)}))
    before = "    values: [{from: 2020-01-01, value: [" + ", ".join(f"P{i}" for i in range(MAX_LIST_ITEMS)) + ", "
    column = len(before) + 1
    assert error == [f"{write_tree({})}/CN/a.yaml:4:{column}: list_too_long: a list of 501 values; a list holds "
                     f"at most {MAX_LIST_ITEMS}"]
    written = "[" + ", ".join(map(str, range(MAX_LIST_ITEMS + 1))) + "]"
    [error] = refused(write_tree({"CN/a.yaml": "rules:\n" + rule_yaml("CN.A.ONE", f"applicant.age in {written}")}))
    assert ": list_too_long: a list of 501 values; a list holds at most 500" in error


def test_lists_of_the_cap_load_and_match_even_negated_on_a_nullable_field(write_tree):
    rules = "rules:\n" + rule_yaml("CN.A.ONE", "channel.pilot_id in params.pilots and "
                                               "channel.platform_id not in params.pilots")
    tree = load_rules(write_tree({"CN/a.yaml": parameter_list(MAX_LIST_ITEMS) + rules}), VOCABULARY)
    assert [effective.rule.id for effective in tree.compiled["CN"].segments[-1].rules] == ["CN.A.ONE"]


def test_a_jurisdiction_holding_more_dated_entries_than_the_cap_is_refused(write_tree):
    rules = "".join(rule_yaml(f"CN.A.R{index}", "applicant.is_student") for index in range(MAX_DATED_ENTRIES + 1))
    errors = refused(write_tree({"CN/a.yaml": "rules:\n" + rules}))
    line = 2 + 8 * MAX_DATED_ENTRIES
    assert errors == [f"{write_tree({})}/CN/a.yaml:{line}:5: too_many_entries: CN holds 1,001 rule versions, "
                      f"exceptions, disables and parameter values; a jurisdiction holds at most 1,000, and this is "
                      f"the first past them"]


def test_a_file_reached_through_a_folder_linked_out_of_the_tree_is_refused(tree, tmp_path):
    shutil.move(tree / "CN" / "tests", tmp_path / "elsewhere")
    (tree / "CN" / "tests").symlink_to(tmp_path / "elsewhere")
    result = CliRunner().invoke(cli, ["rules", "test", str(tree)])
    assert result.exit_code == 1, result.output
    assert f"CN/tests/credit.yaml:1:1: outside_tree: credit.yaml leads to {tmp_path / 'elsewhere'}/credit.yaml, " \
           "outside the rule tree" in result.output
