"""The acceptance run: `chatcert certify --fuzz --max-examples 50 --seed 1` passes for every profile.

Marked `fuzz` (select or deselect with -m); it runs in CI by default: about 5 s per profile on the mock.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import chatcert.checks.fuzz  # noqa: F401  (registers the fuzz area until chatcert.checks imports it)
from chatcert.cli import main


@pytest.mark.fuzz
@pytest.mark.parametrize("profile", ["openai", "compatible", "liquidai", "pharia", "libertai"])
def test_full_fuzz_certification_passes(profile: str, tmp_path: Path) -> None:
    argv = ["certify", "--profile", profile, "--fuzz", "--max-examples", "50", "--seed", "1"]
    code = main([*argv, "--report-dir", str(tmp_path), "-q"])
    doc = json.loads((tmp_path / "results.json").read_text())
    broken = [(r["id"], r["message"]) for r in doc["results"] if r["outcome"] in ("failed", "errored")]
    assert code == 0 and not broken, broken
    fuzz = {r["id"]: r for r in doc["results"] if r["area"] == "fuzz"}
    assert len(fuzz) == 5 and {r["outcome"] for r in fuzz.values()} == {"passed"}
    # Fifty valid and fifty invalid payloads, on top of the ordinary checks.
    assert sum(r["requests"] for r in fuzz.values()) >= 101
