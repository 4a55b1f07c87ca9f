"""Shared fixtures: the shipped packs, the contract examples, and small rule trees written on the fly."""
from __future__ import annotations

import copy
import json
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
PACKS = REPO / "jurisdictions"


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def shipped_engine():
    from engine import Engine

    engine = Engine(rules_dir=PACKS, max_request_age=None)  # the examples and cases are dated
    yield engine
    engine.close()


@pytest.fixture
def compliant_flow() -> dict:
    return copy.deepcopy(example("baitiao-split-compliant"))


@pytest.fixture
def write_tree(tmp_path):
    """Write {"CN/rules.yaml": "...yaml..."} under a fresh folder and return the folder."""
    def write(files: dict[str, str]) -> Path:
        root = tmp_path / "tree"
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root
    return write


RULE = """\
  - id: {id}
    title: {id}
    effect: {effect}
    when: {when}
    effective_from: {start}
    citation: {{source: test source, status: illustrative}}
    message: {{zh: 测试, en: test}}
    remedy: fix it
"""


def rule_yaml(rule_id: str, when: str, effect: str = "deny", start: str = "2020-01-01") -> str:
    return RULE.format(id=rule_id, when=when, effect=effect, start=start)
