"""Latency of vLLM's server: `chatcert bench` saves TTFT/ITL, a second run goes through the regression gate,
and a gate that cannot hold trips (exit 1).

Kept small for CI (3 measured requests of 8 tokens, one warm-up); the figures are not asserted (speed
belongs in docs/benchmarks.md), only that they exist and that save -> compare -> gate works both ways.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from vllmserver import VllmServer

from chatcert.cli import main

pytestmark = pytest.mark.vllm

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
    "120",
    "--no-progress",
    "--no-pin",
)


@dataclass
class BenchRun:
    exit_code: int
    output: str
    record: dict[str, Any]


def bench(server: VllmServer, history: Path, report: Path, *extra: str) -> BenchRun:
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


def test_baseline_then_regression_gate(vllm_server: VllmServer, tmp_path: Path) -> None:
    history = tmp_path / "history"
    base = bench(vllm_server, history, tmp_path / "base", "--save", "vllm-text")
    assert base.exit_code == 0, base.output
    assert (history / "vllm-text.json").is_file()
    [level] = base.record["levels"]
    assert (level["ok"], level["failed"]) == (REQUESTS, 0), level["errors"]
    for metric in ("ttft_ms", "itl_ms"):
        stats = level["metrics"][metric]
        assert stats["count"] > 0 and stats["p95"] > 0, (metric, stats)

    held = bench(vllm_server, history, tmp_path / "held", "--compare", "vllm-text", "--fail-on", "p95:+500%")
    assert held.exit_code == 0, held.output
    assert "gate held" in held.output

    # A baseline a thousand times faster than this server (its TTFT p95 divided by 1000) trips the same
    # kind of rule: the gate is not vacuous.
    saved = history / "vllm-text.json"
    record = json.loads(saved.read_text(encoding="utf-8"))
    for entry in record["levels"]:
        entry["metrics"]["ttft_ms"]["p95"] /= 1000
    (history / "vllm-fast.json").write_text(json.dumps(record), encoding="utf-8")
    gate = ("--compare", "vllm-fast", "--fail-on", "p95:+10%")
    tripped = bench(vllm_server, history, tmp_path / "tripped", *gate)
    assert tripped.exit_code == 1, tripped.output
