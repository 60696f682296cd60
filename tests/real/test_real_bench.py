"""Latency baseline of the real server: `chatcert bench` saves TTFT/ITL for text and for an image request,
then a second run is compared with it through the regression gate.

Kept small for CI (3 measured requests of 8 tokens per run, one warm-up); the numbers are not asserted,
only that they exist and that the save -> compare -> gate workflow holds with a loose rule (+500 %).
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from realserver import RealServer

from chatcert.cli import main

pytestmark = pytest.mark.real

REQUESTS = 3
LOAD = (
    "--concurrency",
    "1",
    "--requests",
    str(REQUESTS),
    "--warmup",
    "1",
    "--max-output-tokens",
    "8",
    "--timeout",
    "60",
    "--no-progress",
    "--no-pin",
)


@dataclass
class BenchRun:
    exit_code: int
    output: str
    record: dict[str, Any]


def bench(server: RealServer, history: Path, report: Path, *extra: str) -> BenchRun:
    argv = [
        "bench",
        "--endpoint",
        server.url,
        "--model",
        server.model_alias,
        "--history-dir",
        str(history),
        "--report-dir",
        str(report),
        *LOAD,
        *extra,
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(argv)
    record = json.loads((report / "bench.json").read_text(encoding="utf-8"))
    return BenchRun(code, out.getvalue(), record)


@pytest.mark.parametrize("payload", ["text", "image"])
def test_baseline_then_regression_gate(real_server: RealServer, tmp_path: Path, payload: str) -> None:
    history = tmp_path / "history"
    name = f"llama-cpp-{payload}"
    base = bench(real_server, history, tmp_path / "base", "--payload", payload, "--save", name)
    assert base.exit_code == 0, base.output
    assert (history / f"{name}.json").is_file()
    assert base.record["settings"]["payload"] == payload
    [level] = base.record["levels"]
    assert (level["ok"], level["failed"]) == (REQUESTS, 0), level["errors"]
    for metric in ("ttft_ms", "itl_ms"):
        stats = level["metrics"][metric]
        assert stats["count"] > 0 and stats["p95"] > 0, (metric, stats)

    again = bench(
        real_server,
        history,
        tmp_path / "again",
        "--payload",
        payload,
        "--compare",
        name,
        "--fail-on",
        "p95:+500%",
    )
    assert again.exit_code == 0, again.output
    assert "gate held" in again.output
