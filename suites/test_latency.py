"""Suite: latency benchmarks with pytest-benchmark (selected with ``-m latency``).

    pytest suites -m latency --benchmark-autosave
    pytest suites -m latency --benchmark-compare --benchmark-compare-fail=median:10%

One `chatcert bench` run per session (against --endpoint, or the embedded mock in its own process)
feeds every item. Each `test_latency[LEVEL-METRIC]` item's pytest-benchmark statistics ARE that
metric's samples (seconds), so `min`, `max`, `mean`, `median`, `stddev` and `iqr` in
--benchmark-compare-fail gate TTFT and ITL directly; `extra_info` carries p50/p90/p95/p99, mean
and stdev in milliseconds, throughput and the client-limited flag. Each percentile is also its own
one-value item (`test_latency_percentile[LEVEL-ttft_ms.p95]`), so `--benchmark-compare-fail=mean:10%`
compares the percentiles themselves. Environment: CHATCERT_BENCH_CONCURRENCY (default 1,4),
CHATCERT_BENCH_REQUESTS (default 20 per level), CHATCERT_BENCH_SCENARIO (the mock's latency, default
ttft_ms=50;itl_ms=10;chunks=32;jitter_ms=0).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from chatcert.bench import (
    DEFAULT_SCENARIO,
    BenchConfig,
    LevelSpec,
    load_payloads,
    parse_scenario,
    run_bench,
)
from chatcert.profiles import load_profile
from chatcert.targets import open_target

pytestmark = [pytest.mark.latency]

CONCURRENCY = [int(c) for c in os.environ.get("CHATCERT_BENCH_CONCURRENCY", "1,4").split(",") if c.strip()]
REQUESTS = int(os.environ.get("CHATCERT_BENCH_REQUESTS", "20"))
LEVELS = [f"c={c}" for c in CONCURRENCY]
METRICS = ("ttft_ms", "itl_ms")
PERCENTILES = ("p50", "p90", "p95", "p99")


@pytest.fixture(scope="session")
def latency_record(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """The session's one bench run (skipped unless the run selected `-m latency`)."""
    if "latency" not in (request.config.option.markexpr or ""):
        pytest.skip("latency benchmarks run only when selected with -m latency")
    opt = request.config.getoption
    profile = load_profile(str(opt("--profile")))
    scenario = parse_scenario(os.environ.get("CHATCERT_BENCH_SCENARIO", "")) or dict(DEFAULT_SCENARIO)
    config = BenchConfig(
        base_url="",
        model=opt("--model") or profile.model,
        levels=[LevelSpec(c, None, REQUESTS, None, c) for c in CONCURRENCY],
        payloads=load_payloads("text"),
        route=profile.route("chat") or "/v1/chat/completions",
        profile=profile.name,
        include_usage=profile.claims_capability("stream_usage"),
    )
    with open_target(
        profile,
        endpoint=opt("--endpoint"),
        api_key_env=opt("--api-key-env"),
        api_key_file=opt("--api-key-file"),
        mock_process=scenario,
    ) as target:
        config.base_url, config.is_mock, config.machine = target.url, target.is_mock, target.machine
        config.headers = target.auth_headers()
        if target.is_mock:
            config.scenario = scenario
        yield run_bench(config)


def _level(record: dict[str, Any], label: str) -> dict[str, Any]:
    for level in record["levels"]:
        if level["label"] == label:
            return dict(level)
    pytest.fail(f"the bench run has no level {label}")


def _values_s(record: dict[str, Any], label: str, metric: str) -> list[float]:
    samples = [s for s in record["samples"] if s["level"] == label and s["ok"] and not s["warmup"]]
    if metric == "itl_ms":
        return [g / 1000 for s in samples for g in s["itl_ms"]]
    return [s[metric] / 1000 for s in samples if s[metric] is not None]


def _extra_info(record: dict[str, Any], level: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        f"{metric}.{stat}": level["metrics"][metric][stat]
        for metric in (*METRICS, "tpot_ms", "e2e_ms", "client_lag_ms")
        for stat in (*PERCENTILES, "mean", "stdev")
    }
    info.update(
        level=level["label"],
        request_throughput_rps=level["request_throughput_rps"],
        output_throughput_tps=level["output_throughput_tps"],
        tokens_source=level["tokens_source"],
        client_limited=level["client"]["client_limited"],
        client_limited_reasons=level["client"]["reasons"],
        target=record["target"]["url"],
        scenario=record["target"].get("scenario"),
        event_loop=record["settings"].get("event_loop"),
        loadavg=record["machine"].get("loadavg"),
    )
    return info


def record_values(benchmark: Any, values_s: list[float]) -> None:
    """Make `values_s` (seconds) this item's pytest-benchmark samples.

    pytest-benchmark times a callable; a latency run has already measured its samples on its own
    clock. One pedantic round registers the item, then its data are replaced by the measured ones,
    which the statistics (computed lazily) and --benchmark-compare-fail then use.
    """
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable
        return
    stats.stats.data[:] = values_s


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("label", LEVELS)
def test_latency(benchmark: Any, latency_record: dict[str, Any], label: str, metric: str) -> None:
    level = _level(latency_record, label)
    values = _values_s(latency_record, label, metric)
    assert values, f"{label}: no {metric} samples ({level['failed']} failed: {level['errors']})"
    benchmark.group = f"latency {metric}"
    benchmark.extra_info.update(_extra_info(latency_record, level))
    record_values(benchmark, values)


@pytest.mark.parametrize("stat", [f"{m}.{p}" for m in METRICS for p in PERCENTILES])
@pytest.mark.parametrize("label", LEVELS)
def test_latency_percentile(benchmark: Any, latency_record: dict[str, Any], label: str, stat: str) -> None:
    level = _level(latency_record, label)
    metric, _, pct = stat.partition(".")
    value = level["metrics"][metric][pct]
    assert value is not None, f"{label}: no {stat}"
    benchmark.group = f"latency percentiles {stat}"
    benchmark.extra_info.update({"level": label, "stat": stat, "value_ms": value})
    record_values(benchmark, [value / 1000])
