"""The contract examples' applicant is in every seeded log, so that the documentation's
`licit audit query --applicant-id 440301199001011234` finds decisions whatever the seed
(tests/test_docs.py runs that example itself)."""

from __future__ import annotations

import json

import pytest
from conftest import run

from engine.batch.traffic import EXAMPLE_PERSON


@pytest.mark.parametrize("seed", [1, 2, 3, None])
def test_the_example_applicant_is_in_every_seeded_log(tmp_path, seed):
    path = tmp_path / "s.db"
    assert run("seed", "--db", path, "--n", 5, *(["--seed", seed] if seed is not None else [])).exit_code == 0
    result = run("query", "--db", path, "--applicant-id", EXAMPLE_PERSON["id_number"], "--format", "json")
    assert len(json.loads(result.output)) >= 1
