"""The verdict claims only what ran: an `incomplete` certificate, levels not assessed, paid profiles'
spending decision, and the free key check that stops a run before any paid request (issue 14, 1-2)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from chatcert._schemas import schema_errors
from chatcert.cli import main
from chatcert.client import Target
from chatcert.completeness import incompleteness, run_cause
from chatcert.engine import RunConfig, start_run
from chatcert.outcomes import CheckResult, Outcome
from chatcert.profiles import load_profile
from chatcert.registry import all_checks, all_probes
from chatcert.reporting.certificate import badge_svg, certificate, level_standing
from mock_server.runner import MockServer

README_LIQUIDAI = ["certify", "--profile", "liquidai", "--max-requests", "40", "--max-tokens", "800"]
RIGHT_KEY = "chatcert-right-key-8d1f0c"


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def results(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "results.json").read_text())
    assert schema_errors("harness/results", doc) == []
    return doc


def verdict_block(out: str) -> list[str]:
    """The terminal's verdict: from the first 'certificate:' line to the report paths."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("certificate:"))
    return [line for line in lines[start:] if not line.endswith((".json", ".xml", ".html", ".svg"))]


# -- 1. no certificate without the evidence -----------------------------------------------------------


def test_the_readme_liquidai_command_is_incomplete_in_every_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli([*README_LIQUIDAI, "--report-dir", str(tmp_path), "-q"], capsys)
    assert code == 1
    doc = results(tmp_path)
    budget_skipped = [r for r in doc["results"] if r["reason"].startswith("budget:")]
    must_skipped = sorted(r["id"] for r in budget_skipped if r["level"] in ("MUST", "PROFILE"))
    assert must_skipped, "the budget kept no MUST check from running: the test proves nothing"
    assert doc["summary"]["failed"] == doc["summary"]["errored"] == 0

    cert = doc["certificate"]
    assert cert["verdict"] == "incomplete" and cert["complete"] is False
    assert cert["incomplete"]["count"] == len(must_skipped)
    assert sorted(cert["incomplete"]["checks"]) == must_skipped
    assert cert["incomplete"]["causes"]["budget"]["count"] == len(must_skipped)
    assert cert["levels"]["vision"] == "incomplete" and "vision" not in cert["earned"]
    assert doc["exit_code"] == 1
    # The budget says it ran out and which checks it skipped (every level, SHOULD ones too).
    assert doc["budget"]["exhausted"].startswith("request budget spent (40 of 40")
    assert doc["budget"]["skipped"] == [r["id"] for r in budget_skipped]

    block = verdict_block(out)
    assert block[0].startswith(
        f"certificate: INCOMPLETE: {len(must_skipped)} MUST checks did not run (budget:"
    )
    budget_line = next(line for line in block if line.startswith("budget ran out"))
    assert f"it skipped {len(budget_skipped)} checks" in budget_line
    assert budget_skipped[0]["id"] in budget_line
    assert "certified" not in out.replace("not certified", "")
    assert err.strip().splitlines() == [err.strip()] and "certificate incomplete" in err

    props = {
        p.get("name"): p.get("value") for p in ET.parse(tmp_path / "junit.xml").getroot().iter("property")
    }
    assert props["certificate"] == "incomplete" and props["certificate_complete"] == "false"
    assert props["must_checks_not_run"] == str(len(must_skipped))
    assert props["certificate_statement"] == block[0]
    assert "certificate: INCOMPLETE" in (tmp_path / "report.html").read_text()
    assert "incomplete" in (tmp_path / "badge.svg").read_text()


def test_a_tiny_budget_is_incomplete_not_certified(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        ["certify", "--profile", "liquidai", "--max-requests", "5", "--report-dir", str(tmp_path)], capsys
    )
    doc = results(tmp_path)
    assert code == 1 and doc["certificate"]["verdict"] == "incomplete"
    assert doc["certificate"]["earned"] == [] or all(
        doc["certificate"]["levels"][lv] == "earned" for lv in doc["certificate"]["earned"]
    )
    assert verdict_block(out)[0].startswith("certificate: INCOMPLETE: ")
    assert doc["budget"]["requests_sent"] == 5


def test_allow_incomplete_exits_0_and_still_says_incomplete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(
        [*README_LIQUIDAI, "--allow-incomplete", "--report-dir", str(tmp_path), "-q"], capsys
    )
    assert code == 0, err
    doc = results(tmp_path)
    assert doc["certificate"]["verdict"] == "incomplete" and doc["certificate"]["incomplete_allowed"] is True
    assert doc["exit_code"] == 0
    first = verdict_block(out)[0]
    assert first.startswith("certificate: INCOMPLETE: ") and "--allow-incomplete" in first
    assert "incomplete" in (tmp_path / "badge.svg").read_text()


def test_allow_incomplete_does_not_hide_a_failure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer("compatible", defects=("finish_reason_empty_string",)) as server:
        code, _, _ = cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--max-requests",
                "12",
                "--allow-incomplete",
                "--report-dir",
                str(tmp_path),
                "-q",
            ],
            capsys,
        )
    doc = results(tmp_path)
    assert doc["summary"]["failed"] >= 1
    assert code == 1 and doc["certificate"]["verdict"] == "not certified"


def test_levels_outside_the_selected_areas_are_not_assessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(
        ["certify", "--profile", "liquidai", "--area", "streaming", "--report-dir", str(tmp_path)], capsys
    )
    assert code == 0
    cert = results(tmp_path)["certificate"]
    assert cert["verdict"] == "certified" and cert["earned"] == ["streaming"]
    assert cert["not_earned"] == []
    others = {level: standing for level, standing in cert["levels"].items() if level != "streaming"}
    assert others and set(others.values()) == {"not assessed"}
    block = verdict_block(out)
    assert block[0] == "certificate: certified"
    assert "not assessed: core, vision" in block[-1] and "not earned" not in block[-1]


def _result(level: str, outcome: Outcome, reason: str = "", area: str = "vision") -> CheckResult:
    return CheckResult(
        id=f"c{abs(hash((level, outcome, reason, area))) % 10**6}",
        area=area,
        level=level,
        source="test",
        description="",
        outcome=outcome,
        reason=reason,
    )


@pytest.mark.parametrize(
    ("reason", "cause"),
    [
        ("budget: request budget spent (3 of 3 requests sent)", "budget"),
        ("interrupted", "interrupted"),
        ("interrupted by SIGINT", "interrupted"),
        ("stopped: the key was refused: ...", "stopped"),
        ("run deadline passed", "run deadline"),
        ("capability not claimed: vision", None),
        ("not exercised: no tool call came back", None),
        ("costly: run with --costly", None),
        ("needs an API key (set X and pass --api-key-env)", None),
    ],
)
def test_only_the_runs_own_reasons_count_as_did_not_run(reason: str, cause: str | None) -> None:
    assert run_cause(_result("MUST", Outcome.SKIPPED, reason)) == cause
    # A SHOULD that did not run costs a warning, not the certificate.
    assert not incompleteness([_result("SHOULD", Outcome.SKIPPED, reason)])
    assert bool(incompleteness([_result("PROFILE", Outcome.SKIPPED, reason)])) is (cause is not None)


def _run(results_: list[CheckResult], allow_incomplete: bool = False) -> Any:
    config = RunConfig(
        profile=load_profile("compatible"),
        target=Target("http://127.0.0.1:9", "bearer", None),
        allow_incomplete=allow_incomplete,
    )
    run = start_run(config)
    run.results.extend(results_)
    return run


def test_standing_and_exit_code_follow_the_evidence() -> None:
    passed = _result("MUST", Outcome.PASSED, area="streaming")
    interrupted = _result("MUST", Outcome.SKIPPED, "interrupted", area="vision")
    seen = _result("MUST", Outcome.PASSED, area="vision")
    run = _run([passed, interrupted, seen])
    assert level_standing(run)["streaming"] == "earned"
    assert level_standing(run)["vision"] == "incomplete"
    assert level_standing(run)["tools"] == "not assessed"
    assert run.exit_code == 1 and certificate(run)["verdict"] == "incomplete"
    allowed = _run([passed, interrupted, seen], allow_incomplete=True)
    assert allowed.exit_code == 0 and certificate(allowed)["verdict"] == "incomplete"
    assert "incomplete" in badge_svg(certificate(allowed))
    failed = _result("MUST", Outcome.FAILED, area="vision")
    failed.message = "wrong"
    broken = _run([passed, interrupted, failed], allow_incomplete=True)
    assert broken.exit_code == 1 and certificate(broken)["verdict"] == "not certified"
    assert level_standing(broken)["vision"] == "not earned"
    assert certificate(broken)["incomplete"]["count"] == 1  # still said, under the failure
    whole = _run([passed, seen, _result("SHOULD", Outcome.SKIPPED, "budget: token budget spent")])
    assert whole.exit_code == 0 and certificate(whole)["verdict"] == "certified"


# -- 2. paid profiles need a spending decision --------------------------------------------------------


@pytest.mark.parametrize("command", [["certify"], ["certify", "--fuzz"], ["bench", "--requests", "2"]])
def test_a_paid_endpoint_without_a_budget_is_refused_before_any_request(
    command: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("liquidai") as server:
        argv = [*command, "--endpoint", server.url, "--profile", "liquidai", "--report-dir", str(tmp_path)]
        code, _, err = cli(argv, capsys)
        assert server.journal() == []
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    for option in ("--max-requests", "--max-tokens", "--no-budget"):
        assert option in lines[0]


def test_no_budget_is_a_decision_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer("liquidai") as server:
        base = ["--endpoint", server.url, "--profile", "liquidai"]
        code, out, err = cli(
            ["certify", *base, "--no-budget", "--report-dir", str(tmp_path / "c"), "-q"], capsys
        )
        assert code == 0, err
        assert "certificate: certified" in out
        code, _, err = cli(
            [
                "bench",
                *base,
                "--no-budget",
                "--requests",
                "2",
                "--concurrency",
                "1",
                "--no-progress",
                "--report-dir",
                str(tmp_path / "b"),
            ],
            capsys,
        )
        assert code == 0, err
        code, _, err = cli(["certify", *base, "--no-budget", "--max-requests", "3"], capsys)
        assert code == 2 and "--no-budget" in err
        # A dry run sends nothing, so it needs no decision.
        code, _, _ = cli(["certify", *base, "--dry-run"], capsys)
        assert code == 0
        assert len(server.journal()) == results(tmp_path / "c")["budget"]["requests_sent"] + 2 + 1


def test_a_free_profile_and_the_embedded_mock_need_no_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server:
        code, _, err = cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--area",
                "streaming",
                "--report-dir",
                str(tmp_path / "free"),
                "-q",
            ],
            capsys,
        )
        assert code == 0, err
    # The embedded mock costs nothing, whatever the profile says.
    code, _, err = cli(
        [
            "certify",
            "--profile",
            "liquidai",
            "--area",
            "streaming",
            "--report-dir",
            str(tmp_path / "mock"),
            "-q",
        ],
        capsys,
    )
    assert code == 0, err


def _paid_probe_ids() -> set[str]:
    return {name for name, probe in all_probes().items() if not probe.free}


@pytest.mark.parametrize(
    ("profile", "key_route"), [("libertai", "/libertai/auth/check"), ("pharia", "/v1/models")]
)
def test_a_refused_key_stops_the_run_before_any_paid_request(
    profile: str,
    key_route: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    variable = load_profile(profile).key_env
    assert variable
    monkeypatch.setenv(variable, "chatcert-a-wrong-key")
    with MockServer(profile, api_key=RIGHT_KEY) as server:
        code, out, err = cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--profile",
                profile,
                "--no-budget",
                "--report-dir",
                str(tmp_path),
                "-q",
            ],
            capsys,
        )
        journal = server.journal()
    doc = results(tmp_path)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "the key was refused" in lines[0] and variable in lines[0], err
    assert key_route in lines[0]
    # No paid probe was sent: every request the server saw came from a free probe.
    assert len(journal) == doc["budget"]["requests_sent"]
    assert not [e for e in journal if e["method"] == "POST" and e["status"] == 200]
    checks = {c.id: c for c in all_checks()}
    paid = _paid_probe_ids()
    for r in doc["results"]:
        if r["requests"]:
            assert not set(checks[r["id"]].probes) & paid, r["id"]
    stopped = [r for r in doc["results"] if r["reason"].startswith("stopped: the key was refused")]
    assert len(stopped) > 40
    # One cause, named once: the checks the stop kept from running fold under the refused key.
    assert {r["caused_by"] for r in stopped} == {"auth_refused"}
    assert [c["id"] for c in doc["causes"]][:1] == ["auth_refused"]
    assert doc["certificate"]["key_refused"] and doc["certificate"]["verdict"] == "not certified"
    assert "run stopped early: the key was refused" in out


def test_an_accepted_key_lets_the_run_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LIBERTAI_API_KEY", RIGHT_KEY)
    with MockServer("libertai", api_key=RIGHT_KEY) as server:
        code, _, err = cli(
            [
                "certify",
                "--endpoint",
                server.url,
                "--profile",
                "libertai",
                "--no-budget",
                "--report-dir",
                str(tmp_path),
                "-q",
            ],
            capsys,
        )
    doc = results(tmp_path)
    assert code == 0, err
    assert doc["certificate"]["key_refused"] is None and doc["certificate"]["verdict"] == "certified"
    assert not [r for r in doc["results"] if r["reason"].startswith("stopped:")]
