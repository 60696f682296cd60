"""The harness's own tests: the same examples and the same environment on every machine.

- Hypothesis: under the `ci` profile (`HYPOTHESIS_PROFILE=ci`, which tox sets, or `CI` set) every run
  draws the same examples, keeps no example database and has no deadline, so a submission's result
  does not depend on which random inputs that run happened to draw. Locally, each run draws new ones.
- Environment: the variables that point chatcert at a target, a profile, a history folder or a key are
  removed for every test (and the processes it starts), so a developer's or a CI job's own settings
  cannot send a test's traffic elsewhere or change what it expects. Tests that need one set it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

from chatcert.profiles import builtin_profiles, load_profile

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "default"))

_KEY_VARIABLES = sorted({key for name in builtin_profiles() if (key := load_profile(name).key_env)})
CLEARED = ["CHATCERT_ENDPOINT", "CHATCERT_PROFILE", "CHATCERT_BENCH_DIR", *_KEY_VARIABLES]


@pytest.fixture(autouse=True)
def _no_target_settings_from_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
