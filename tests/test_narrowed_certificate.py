"""A level is never earned on part of its evidence: --check/--area leaving out one of its MUST checks
makes it `not assessed`, and a run that assessed no level whole ends `not assessed`, not `certified`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatcert.cli import main


def _certify(tmp_path: Path, *args: str) -> tuple[int, dict[str, object]]:
    code = main(["certify", "--report-dir", str(tmp_path), "--color", "never", *args])
    cert = json.loads((tmp_path / "results.json").read_text())["certificate"]
    return code, cert


def test_one_check_earns_no_level(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, cert = _certify(tmp_path, "--check", "models_list_ok")
    assert code == 0
    assert cert["verdict"] == "not assessed"
    assert cert["earned"] == [] and "core" in cert["not_assessed"]  # type: ignore[operator]
    out = capsys.readouterr().out
    assert "certificate: not assessed: every selected check passed" in out
    assert "not assessed" in (tmp_path / "badge.svg").read_text()


def test_a_whole_area_still_earns_its_level(tmp_path: Path) -> None:
    code, cert = _certify(tmp_path, "--area", "vision")
    assert code == 0
    assert cert["verdict"] == "certified" and cert["earned"] == ["vision"]


def test_leaving_out_one_must_check_of_a_level_does_not_earn_it(tmp_path: Path) -> None:
    code, cert = _certify(tmp_path, "--check", "vision_png_*", "--check", "vision_jpeg_*")
    assert code == 0
    assert cert["verdict"] == "not assessed" and "vision" in cert["not_assessed"]  # type: ignore[operator]


def test_leaving_out_only_should_checks_still_earns(tmp_path: Path) -> None:
    # Every vision MUST check is a vision_* one; image_url_not_fetched_by_server (SHOULD) is left out.
    code, cert = _certify(tmp_path, "--check", "vision_*")
    assert code == 0
    assert cert["earned"] == ["vision"]
