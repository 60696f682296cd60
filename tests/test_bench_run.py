"""Latency runs against the mock in its own process: records, drivers, budgets, arrivals, the flag."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pytest

from chatcert import __version__
from chatcert._schemas import schema_errors
from chatcert.bench import BenchConfig, LevelSpec, MockProcess, load_payloads, run_bench, run_bench_async
from chatcert.bench.gcpause import GcPauses
from chatcert.budget import Budget

# Short, fast streams: 4 content chunks, the first after 5 ms.
FAST = {"ttft_ms": 5, "itl_ms": 2, "chunks": 4, "jitter_ms": 0}


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with MockProcess("compatible", FAST) as server:
        yield server


def _config(mock: MockProcess, *levels: LevelSpec, **kw: Any) -> BenchConfig:
    return BenchConfig(mock.url, "default", list(levels), load_payloads("text"), is_mock=True, **kw)


def test_a_run_records_every_request_with_its_drivers_and_stamps(mock: MockProcess) -> None:
    config = _config(mock, LevelSpec(1, None, 3, None, 1), LevelSpec(2, None, 4, None, 2), temperature=0.5)
    record = run_bench(config)
    assert schema_errors("harness/bench-run", record) == []
    assert [lvl["label"] for lvl in record["levels"]] == ["c=1", "c=2"]
    first, second = record["levels"]
    assert (first["requests"], first["warmup"], first["ok"]) == (3, 1, 3)
    assert (second["requests"], second["warmup"], second["ok"]) == (4, 2, 4)
    assert first["tokens_source"] == "usage"
    # Every measured request's content chunks were stamped by the mock: ITL pools chunks - 1 gaps each.
    assert first["metrics"]["itl_ms"]["count"] == 3 * (FAST["chunks"] - 1)
    assert first["metrics"]["ttft_error_ms"]["count"] == 3
    samples = record["samples"]
    assert len(samples) == 3 + 1 + 4 + 2
    for s in samples:
        d = s["drivers"]
        assert d["payload_class"] == "text" and d["temperature"] == 0.5 and d["max_tokens"] == 128
        assert d["host"] and d["chatcert_version"] == __version__
        assert d["concurrency"] == (1 if s["level"] == "c=1" else 2)
        assert s["scheduled_s"] <= s["request_built_s"] <= s["headers_sent_s"] <= s["end_s"]
        assert s["output_tokens"] == FAST["chunks"]
        assert s["tpot_ms"] == pytest.approx(
            (s["e2e_ms"] - s["ttft_ms"]) / (s["output_tokens"] - 1), abs=1e-3
        )
    assert sum(s["warmup"] for s in samples) == 3


def test_the_request_budget_stops_the_run(mock: MockProcess) -> None:
    budget = Budget(max_requests=3)
    record = run_bench(
        _config(mock, LevelSpec(1, None, 10, None, 0), LevelSpec(2, None, 5, None, 0), budget=budget)
    )
    assert budget.requests_sent == 3
    assert len(record["samples"]) == 3 and len(record["levels"]) == 1
    assert "request budget" in record["budget"]["exhausted"]


def test_the_token_budget_caps_max_tokens_before_sending(mock: MockProcess) -> None:
    budget = Budget(max_tokens=3)
    record = run_bench(_config(mock, LevelSpec(1, None, 5, None, 0), budget=budget, max_tokens=8))
    first = record["samples"][0]
    assert first["drivers"]["max_tokens"] == 3
    assert first["output_tokens"] == 3  # the mock honoured the capped max_tokens
    assert len(record["samples"]) == 1 and budget.tokens_spent == 3


def test_poisson_arrivals_follow_the_schedule_not_the_answers(mock: MockProcess) -> None:
    with MockProcess("compatible", {"ttft_ms": 150, "itl_ms": 1, "chunks": 2}) as slow:
        record = run_bench(_config(slow, LevelSpec(None, 40.0, 6, None, 1), seed=7))
    level = record["levels"][0]
    assert level["label"] == "rate=40" and level["mode"] == "rate"
    samples = sorted(record["samples"], key=lambda s: s["index"])
    scheduled = [s["scheduled_s"] for s in samples]
    assert scheduled == sorted(scheduled) and len(set(scheduled)) == len(scheduled)
    # Open loop: some request went out while the one before it was still streaming.
    assert any(b["headers_sent_s"] < a["end_s"] for a, b in pairwise(samples))
    assert all(s["dispatch_delay_ms"] >= 0 for s in samples)
    assert level["metrics"]["ttft_scheduled_ms"]["count"] == 6


def test_non_stream_requests_measure_ttft_as_the_whole_answer(mock: MockProcess) -> None:
    record = run_bench(_config(mock, LevelSpec(1, None, 2, None, 0), stream=False))
    for s in record["samples"]:
        assert s["ok"] and s["ttft_ms"] == s["e2e_ms"] and s["itl_ms"] == []
        assert s["tokens_source"] == "usage" and s["drivers"]["stream"] is False


def test_a_blocked_event_loop_marks_the_run_client_limited(mock: MockProcess) -> None:
    async def run_with_a_hog() -> dict[str, Any]:
        async def hog() -> None:
            while True:
                time.sleep(0.03)  # hold the loop as an overloaded client would
                await asyncio.sleep(0.005)

        task = asyncio.ensure_future(hog())
        try:
            return await run_bench_async(_config(mock, LevelSpec(1, None, 6, None, 0)))
        finally:
            task.cancel()

    record = asyncio.run(run_with_a_hog())
    client = record["levels"][0]["client"]
    assert record["client_limited"] is True and client["client_limited"] is True
    # The mock stamps its chunks, so what the hog did to the figures is measured: sends went out late
    # (dispatch delay) and/or arrivals were reported late (client lag, TTFT error).
    assert client["judged_by"] == "measured effect"
    assert any(
        r.startswith(("dispatch delay", "measured client lag", "TTFT error")) for r in client["reasons"]
    )
    assert client["gc"]["collections"] >= 0 and isinstance(client["gc"]["full_deferred"], bool)


def test_an_unreachable_target_fails_every_request_without_hanging() -> None:
    config = BenchConfig("http://127.0.0.1:9", "m", [LevelSpec(2, None, 30, None, 0)], load_payloads("text"))
    record = run_bench(config)
    level = record["levels"][0]
    assert level["ok"] == 0 and level["failed"] >= 1
    assert level["stopped"] and "failed requests in a row" in level["stopped"]
    assert any("cannot connect" in e for e in level["errors"])


def test_duration_mode_stops_sending_when_the_time_is_up(mock: MockProcess) -> None:
    record = run_bench(_config(mock, LevelSpec(2, None, None, 0.3, 2)))
    measured = [s for s in record["samples"] if not s["warmup"]]
    assert measured and record["levels"][0]["requests"] == len(measured)
    first = min(s["headers_sent_s"] for s in measured)
    # Nothing is scheduled after the duration; what was in flight drains.
    assert all(s["scheduled_s"] <= first + 0.3 for s in measured)


def test_the_key_is_sent_but_never_recorded() -> None:
    key = "sk-bench-secret-0123456789"
    with MockProcess("openai", FAST, api_key=key) as secured:
        url = secured.url.replace("http://", "http://user:" + key + "@")

        def run(headers: dict[str, str]) -> dict[str, Any]:
            config = BenchConfig(url, "gpt-4o-mini", [LevelSpec(1, None, 2, None, 0)], load_payloads("text"))
            config.headers = headers
            return run_bench(config)

        without = run({})
        record = run({"Authorization": f"Bearer {key}"})
    assert without["levels"][0]["errors"] == {"HTTP 401": 2}  # the mock does check the key
    assert record["levels"][0]["ok"] == 2
    assert key not in json.dumps(record)


def test_a_level_defers_full_collections_and_reports_the_pauses() -> None:
    before = gc.get_threshold()
    with GcPauses() as pauses:
        inside = gc.get_threshold()
        gc.collect(0)  # a young collection still runs, and is counted
    assert gc.get_threshold() == before
    summary = pauses.summary()
    assert summary["collections"] >= 1 and summary["pause_ms_max"] >= 0
    assert summary["pause_ms_total"] >= summary["pause_ms_max"]
    if sys.version_info < (3, 14):  # 3.14's incremental collector ignores the third threshold
        assert inside[2] > 10**6 and summary["full_deferred"]


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with GcPauses() as pauses:
            assert not gc.isenabled()
        assert not gc.isenabled() and not pauses.summary()["full_deferred"]
    finally:
        gc.enable()


def test_a_ramp_starts_the_workers_one_after_another() -> None:
    ramp = 0.4
    # Each request outlasts the ramp, so the first four sends are the four workers' first requests.
    with MockProcess("compatible", {"ttft_ms": 600, "itl_ms": 1, "chunks": 2, "jitter_ms": 0}) as slow:
        record = run_bench(_config(slow, LevelSpec(4, None, 1, None, 4, ramp)))
        together = run_bench(_config(slow, LevelSpec(4, None, 1, None, 4)))
    firsts = sorted(s["scheduled_s"] for s in record["samples"])[:4]
    assert record["levels"][0]["ramp_s"] == ramp
    # Worker i waits i * ramp / 4 (after worker 0 started) before it takes its first request; a sleep
    # never ends early, and lateness of any worker but the first only widens its distance.
    assert all(firsts[i] - firsts[0] >= i * ramp / 4 - 0.001 for i in range(1, 4))
    starts = sorted(s["headers_sent_s"] for s in together["samples"])[:4]
    assert starts[-1] < min(s["end_s"] for s in together["samples"])  # without one, all go out at once
