"""SIGINT / SIGTERM end certify, fuzz, bench and preflight with a marked report and exit 130 / 143.

Real subprocesses against loopback mocks. The signal is sent once the run has visibly started (its
first line on stdout), and with a mock that holds every answer back it lands mid-request. No timed
asserts: the generous `communicate(timeout=...)` only keeps a broken build from hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}
ENV.pop("CHATCERT_ENDPOINT", None)
CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}


def _chatcert(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "chatcert", *args],
        cwd=cwd,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_line(proc: subprocess.Popen[str], pattern: str) -> str:
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)
    raise AssertionError(f"process ended before printing {pattern!r}: {''.join(seen)}")


def _stop(proc: subprocess.Popen[str], sig: int) -> tuple[str, str]:
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    return out, err


@pytest.fixture(scope="module")
def slow_mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A mock that holds every answer back for a minute: a signal lands while a request waits."""
    cwd = tmp_path_factory.mktemp("slow_mock")
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "chatcert", "mock", "--port", "0", "--quiet",
            "--fault", "slow_headers", "--scenario", "delay_ms=60000",
        ],
        cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    match = re.search(r"http://127\.0\.0\.1:\d+", line)
    assert match, line
    yield match.group(0)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)


def _stale_certified_report(report: Path) -> None:
    report.mkdir()
    (report / "results.json").write_text(json.dumps({"certificate": {"verdict": "certified"}}))
    (report / "badge.svg").write_text("<svg>certified</svg>")


def _assert_interrupted_report(report: Path, signame: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((report / "results.json").read_text())
    assert doc["interrupted"] == signame
    assert doc["exit_code"] == (130 if signame == "SIGINT" else 143)
    assert doc["certificate"]["verdict"] != "certified"
    reasons = [r["reason"] for r in doc["results"] if r["outcome"] == "skipped"]
    assert any(reason.startswith("interrupted") for reason in reasons)
    junit = (report / "junit.xml").read_text()
    assert "interrupted" in junit
    assert f"Interrupted ({signame})" in (report / "report.html").read_text()
    assert "certified</svg>" not in (report / "badge.svg").read_text()
    assert not (report / "RUN-IN-PROGRESS.txt").exists()
    return doc


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_certify_interrupted_mid_request(tmp_path: Path, slow_mock: str, sig: signal.Signals) -> None:
    report = tmp_path / "rep"
    _stale_certified_report(report)
    proc = _chatcert("certify", "--endpoint", slow_mock, "--report-dir", str(report), cwd=tmp_path)
    _wait_for_line(proc, r"certifying")
    # The previous run's verdict is gone as soon as this run has started.
    deadline = time.monotonic() + 30
    while (report / "results.json").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (report / "results.json").exists()
    assert (report / "RUN-IN-PROGRESS.txt").exists()
    time.sleep(0.5)  # let the first request go out: the mock holds it back for a minute
    _out, err = _stop(proc, sig)
    assert proc.returncode == CODES[sig], err
    assert "Traceback" not in err
    assert err.strip().count("\n") == 0, err  # one line
    assert f"interrupted ({sig.name})" in err
    _assert_interrupted_report(report, sig.name)


def test_certify_embedded_mock_sigterm_keeps_finished_checks(tmp_path: Path) -> None:
    report = tmp_path / "rep"
    _stale_certified_report(report)
    proc = _chatcert("certify", "--report-dir", str(report), cwd=tmp_path)
    _wait_for_line(proc, r"\b(PASS|passed|FAIL|WARN|SKIP)\b|certifying")
    _out, err = _stop(proc, signal.SIGTERM)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    doc = _assert_interrupted_report(report, "SIGTERM")
    outcomes = {r["outcome"] for r in doc["results"]}
    assert "skipped" in outcomes


def test_certify_fuzz_interrupted(tmp_path: Path) -> None:
    report = tmp_path / "rep"
    proc = _chatcert(
        "certify", "--fuzz", "--area", "fuzz", "--max-examples", "400", "--report-dir", str(report),
        cwd=tmp_path,
    )  # fmt: skip
    _wait_for_line(proc, r"certifying")
    time.sleep(2)  # into the generated payloads
    _out, err = _stop(proc, signal.SIGINT)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    _assert_interrupted_report(report, "SIGINT")


def _wait_for_stderr(proc: subprocess.Popen[str], text: str) -> str:
    """Read stderr (the progress bar rewrites one line with \\r) until `text` shows."""
    assert proc.stderr is not None
    seen = ""
    while text not in seen:
        char = proc.stderr.read(1)
        if not char:
            raise AssertionError(f"process ended before printing {text!r}: {seen[-2000:]}")
        seen += char
    return seen


@pytest.mark.parametrize(("save", "workers"), [(False, "1"), (True, "1"), (False, "2")])
def test_bench_interrupted_keeps_finished_levels(tmp_path: Path, save: bool, workers: str) -> None:
    """Also across worker processes: the driver stops every worker and keeps the finished levels."""
    report = tmp_path / "bench"
    history = tmp_path / "history"
    extra = (["--save", "nightly"] if save else []) + ["--workers", workers]
    report.mkdir()
    (report / "bench.json").write_text('{"stale": "an older run"}')
    # Each answer waits 3 s: the signal sent as level c=2 starts lands while its requests wait.
    proc = _chatcert(
        "bench", "--concurrency", "1,2", "--requests", "2", "--warmup", "0",
        "--mock-scenario", "ttft_ms=3000", "--report-dir", str(report), "--history-dir", str(history),
        *extra, cwd=tmp_path,
    )  # fmt: skip
    before = _wait_for_stderr(proc, "c=2 [")
    assert not (report / "bench.json").exists()  # the older run's figures went when this one started
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    err = before + err
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted (SIGINT)" in err
    record = json.loads((report / "bench.json").read_text())
    assert record["interrupted"] == "SIGINT"
    assert [lvl["label"] for lvl in record["levels"]] == ["c=1"]
    assert record["levels"][0]["ok"] == 2
    if save:
        assert "not saved as 'nightly'" in err
        assert not list(history.glob("**/*nightly*"))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_preflight_interrupted_during_rehearsal(tmp_path: Path, sig: signal.Signals) -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "liquidai"
    folder = tmp_path / "liquidai"
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("__pycache__"))
    started = tmp_path / "script-started"
    script = folder / "vlm_infer.py"
    anchor = "    args = parser.parse_args(argv)\n"
    text = script.read_text()
    assert anchor in text
    # The rehearsed script says it runs, then hangs: the signal lands while preflight waits on it.
    script.write_text(
        text.replace(
            anchor,
            f"{anchor}    import pathlib, time\n\n"
            f"    pathlib.Path({str(started)!r}).write_text('x')\n    time.sleep(120)\n",
        )
    )
    report = tmp_path / "rep"
    report.mkdir()
    (report / "preflight.json").write_text(json.dumps({"verdict": "GO"}))
    proc = _chatcert(
        "preflight", str(folder / "liquidai.yaml"), "--report-dir", str(report), "--timeout", "300",
        cwd=tmp_path,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not started.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists(), proc.communicate(timeout=30)
    _out, err = _stop(proc, sig)
    assert proc.returncode == CODES[sig], err
    assert "Traceback" not in err
    assert f"interrupted ({sig.name})" in err
    doc = json.loads((report / "preflight.json").read_text())
    assert doc["verdict"] == "INTERRUPTED"
    assert doc["interrupted"] == sig.name
    assert doc["checks"]  # the checks that ran before the rehearsal are kept
