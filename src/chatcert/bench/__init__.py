"""Latency benchmarks: a lean streaming transport, schedulers, metrics, history, gate and report.

Typical use (what `chatcert bench` does)::

    from chatcert.bench import BenchConfig, LevelSpec, MockProcess, load_payloads, run_bench

    with MockProcess("compatible", {"ttft_ms": 50, "itl_ms": 10, "chunks": 32}) as mock:
        record = run_bench(BenchConfig(mock.url, "default", [LevelSpec(concurrency=4, requests=40)],
                                       load_payloads("text"), is_mock=True))
    print(record["levels"][0]["metrics"]["ttft_ms"]["p95"])
"""

from __future__ import annotations

from chatcert.bench.gate import Comparison, Rule, caveats, compare, parse_rules
from chatcert.bench.metrics import FORMULAS, Sample, percentile, steady_window, summarize
from chatcert.bench.mockproc import DEFAULT_SCENARIO, MockProcess, parse_scenario, scenario_header
from chatcert.bench.payloads import Payload, image_bucket, load_payloads
from chatcert.bench.progress import NullProgress, Progress, ProgressBar
from chatcert.bench.records import check_record, history_dir, load_saved, save_run, saved_runs
from chatcert.bench.reporter import BenchReporter
from chatcert.bench.runner import BenchConfig, run_bench, run_bench_async
from chatcert.bench.scheduler import LevelSpec
from chatcert.bench.selfcheck import ClientLimits

__all__ = [
    "DEFAULT_SCENARIO",
    "FORMULAS",
    "BenchConfig",
    "BenchReporter",
    "ClientLimits",
    "Comparison",
    "LevelSpec",
    "MockProcess",
    "NullProgress",
    "Payload",
    "Progress",
    "ProgressBar",
    "Rule",
    "Sample",
    "caveats",
    "check_record",
    "compare",
    "history_dir",
    "image_bucket",
    "load_payloads",
    "load_saved",
    "parse_rules",
    "parse_scenario",
    "percentile",
    "run_bench",
    "run_bench_async",
    "save_run",
    "saved_runs",
    "scenario_header",
    "steady_window",
    "summarize",
]
