"""tests/conftest.py: settings from outside never reach a test, and CI draws the same examples each run."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from conftest import CLEARED


def test_the_cleared_variables_include_every_profiles_key_and_the_target_settings() -> None:
    assert {"CHATCERT_ENDPOINT", "CHATCERT_PROFILE", "OPENAI_API_KEY", "PHARIA_TOKEN"} <= set(CLEARED)


def test_no_target_setting_or_key_from_outside_reaches_a_test() -> None:
    assert [name for name in CLEARED if name in os.environ] == []


@pytest.mark.skipif(
    not (os.environ.get("CI") or os.environ.get("HYPOTHESIS_PROFILE") == "ci"), reason="ci profile only"
)
def test_under_ci_hypothesis_draws_the_same_examples_every_run() -> None:
    current = settings.default
    assert current is not None and current.derandomize and current.database is None
