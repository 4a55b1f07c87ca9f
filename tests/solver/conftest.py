"""Fixtures of the solver tests: engines without a decision log, and the solver's view of a flow."""
from __future__ import annotations

import pytest

from tests.test_property import CONSTRUCTS, construct_engine  # noqa: F401  (a fixture: every construct of the language)

__all__ = ["CONSTRUCTS"]
