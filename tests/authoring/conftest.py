"""Fixtures of the rule-authoring tests: rule trees copied or written on the fly, and the CLI."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import click
import pytest

from engine.cli.errors import LicitGroup
from engine.cli.rules import rules_group

PACKS = Path(__file__).resolve().parents[2] / "jurisdictions"


@pytest.fixture(scope="session")
def authoring_cli() -> click.Group:
    """`licit rules` alone, with the authoring commands (test, lint, explain, diff), reporting errors as licit
    does (engine/cli/errors.py)."""
    return LicitGroup("rules", commands=rules_group.commands)


@pytest.fixture(scope="session")
def licit_cli() -> click.Group:
    """The real `licit` command."""
    from engine.cli import cli

    return cli


@pytest.fixture
def packs_copy(tmp_path) -> Path:
    """A copy of the shipped jurisdiction folders (rules and scenario tests), safe to change."""
    root = tmp_path / "jurisdictions"
    shutil.copytree(PACKS, root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def write(root: Path, files: dict[str, str]) -> Path:
    """Write {"CN/rules.yaml": "...yaml..."} under ``root`` (text is dedented) and return ``root``."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def rule(rule_id: str, when: str, *, effect: str = "deny", start: str = "2020-01-01", until: str | None = None,
         status: str = "verified", extra: tuple[str, ...] = ()) -> str:
    """One rule as an item of a `rules:` list; ``extra`` are more lines of the rule, like "action: x"."""
    lines = [f"- id: {rule_id}", f"  title: {rule_id}", f"  effect: {effect}", f"  when: {when}",
             f"  effective_from: {start}", *([f"  effective_until: {until}"] if until else []),
             f"  citation: {{source: test source, status: {status}}}", "  message: {zh: 测试, en: test}",
             "  remedy: fix it", *(f"  {line}" for line in extra)]
    return "".join(f"  {line}\n" for line in lines)
