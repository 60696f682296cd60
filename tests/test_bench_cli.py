"""`chatcert bench` end to end: files written, history saved, the gate's exit codes, usage errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatcert.cli import main

BASE = "ttft_ms=100;itl_ms=2;chunks=3;jitter_ms=0"
SLOW = "ttft_ms=1500;itl_ms=2;chunks=3;jitter_ms=0"  # TTFT 15 times the baseline's: no noise makes that


def _bench(tmp: Path, *extra: str, scenario: str = BASE, report: str = "report") -> int:
    argv = ["bench", "--requests", "3", "--concurrency", "1,2", "--mock-scenario", scenario, "--no-progress"]
    argv += ["--history-dir", str(tmp / "history"), "--report-dir", str(tmp / report), *extra]
    return main(argv)


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bench")
    assert _bench(tmp, "--save", "base") == 0
    return tmp


def test_a_run_writes_the_report_charts_and_the_history(
    baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = baseline / "report"
    names = {p.name for p in report.iterdir()}
    assert {"bench.json", "bench.html", "bench-ttft-cdf.svg", "bench-itl-cdf.svg"} <= names
    assert any(n.startswith("bench-trend-") for n in names)
    html = (report / "bench.html").read_text()
    assert html.count("<svg") >= 3 and "TTFT distribution" in html and "over saved runs" in html
    saved = json.loads((baseline / "history" / "base.json").read_text())
    assert saved["name"] == "base" and "samples" not in saved
    assert [lvl["label"] for lvl in saved["levels"]] == ["c=1", "c=2"]
    assert saved["target"]["mock"] is True and saved["target"]["scenario"]["ttft_ms"] == 100
    full = json.loads((report / "bench.json").read_text())
    assert len(full["samples"]) == 3 + 1 + 3 + 2  # measured plus warm-up (one per stream)


def test_an_unchanged_run_holds_the_gate(baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _bench(baseline, "--compare", "base", "--fail-on", "p50:+400%", report="same")
    out = capsys.readouterr().out
    assert code == 0, out
    assert "gate held" in out and "ttft_ms.p50" in out
    same = json.loads((baseline / "same" / "bench.json").read_text())["comparison"]
    assert same["baseline"] == "base"
    # Same scenario, model, profile and payload: no comparison caveat. Whether a run was client-limited
    # is measured (a loaded CI machine can make it so), so that caveat may appear and is all that may.
    assert all("client-limited" in caveat for caveat in same["caveats"]), same
    assert (
        '<div class="gate gate-held"><h2>Regression gate held</h2>'
        in (baseline / "same" / "bench.html").read_text()
    )


def test_a_slowed_down_server_trips_the_gate(baseline: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _bench(baseline, "--compare", "base", "--fail-on", "p50:+400%", scenario=SLOW, report="slow")
    captured = capsys.readouterr()
    assert code == 1
    assert "regression gate tripped" in captured.err and "TRIPPED" in captured.out
    # The stand-in for a slower server is another mock scenario: the gate judges, and says so.
    assert "WARNING: the comparison may mislead: different mock scenario" in captured.err
    caveats = json.loads((baseline / "slow" / "bench.json").read_text())["comparison"]["caveats"]
    assert any(c.startswith("different mock scenario") for c in caveats)
    # The report of the slowed run opens with the verdict (coloured), then the percentiles, then charts.
    page = (baseline / "slow" / "bench.html").read_text()
    body = page[page.index("<body>") :]
    assert body.index('<div class="gate gate-tripped"><h2>Regression gate TRIPPED</h2>') < body.index(
        "<h2>Percentiles"
    )
    assert body.index("<h2>Percentiles") < body.index("<h2>Levels") < body.index("<svg")


def test_comparing_without_rules_reports_but_never_fails(
    baseline: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bench(baseline, "--compare", "base", scenario=SLOW, report="slow2") == 0
    assert "compared with saved run 'base'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--fail-on", "p95:+10%"],  # a gate needs a baseline
        ["--compare", "nothing-saved"],
        ["--compare", "base", "--fail-on", "p97:+10%"],
        ["--payload", "no-such-file.json"],
        ["--mock-scenario", "status=500"],
        ["--rate", "5", "--concurrency", "1,2"],
        ["--rate", "5", "--ramp-up", "1"],
        ["--ramp-up", "-1"],
        ["--ramp-up", "nan"],
    ],
)
def test_unusable_input_exits_2_with_one_line(
    baseline: Path, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _bench(baseline, *argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("chatcert")


def test_levels_that_match_no_baseline_level_are_a_usage_error(baseline: Path) -> None:
    argv = ["bench", "--requests", "2", "--concurrency", "3", "--mock-scenario", BASE, "--no-progress", "-q"]
    argv += [
        "--history-dir",
        str(baseline / "history"),
        "--report-dir",
        str(baseline / "r3"),
        "--compare",
        "base",
    ]
    assert main(argv) == 2


def test_an_unreachable_endpoint_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [
        "bench",
        "--endpoint",
        "http://127.0.0.1:9",
        "--requests",
        "2",
        "--concurrency",
        "1",
        "--no-progress",
    ]
    assert main([*argv, "--report-dir", str(tmp_path), "--history-dir", str(tmp_path)]) == 1
    assert "no request succeeded" in capsys.readouterr().err


def test_the_progress_bar_goes_to_stderr(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "chatcert", "bench", "--requests", "2", "--concurrency", "1"]
    cmd += ["--mock-scenario", BASE, "--report-dir", str(tmp_path), "--history-dir", str(tmp_path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "c=1 [" in done.stderr and "3/3 req" in done.stderr
    assert "\r" not in done.stderr  # a pipe is no terminal: plain lines, no redraw frames
    assert "c=1 [" not in done.stdout and "TTFT p50" in done.stdout
