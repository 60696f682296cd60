"""`chatcert bench --workers N`: shares that add up to the level, a merge that equals the one-process
computation, one budget for every worker, and a dead worker that ends its level incomplete, not hung."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatcert.bench.metrics import Sample
from chatcert.bench.mockproc import MockProcess
from chatcert.bench.payloads import load_payloads
from chatcert.bench.records import check_record, level_record
from chatcert.bench.runner import BenchConfig
from chatcert.bench.scheduler import LevelOutcome, LevelSpec
from chatcert.bench.workers import WorkerPlan, merge_outcomes, run_bench_workers, split_level
from chatcert.budget import Budget
from chatcert.cli import main
from chatcert.profiles import load_profile

MODEL = load_profile("compatible").model


@given(
    concurrency=st.one_of(st.none(), st.integers(1, 300)),
    rate=st.one_of(st.none(), st.floats(0.1, 1000)),
    requests=st.one_of(st.none(), st.integers(0, 5000)),
    warmup=st.integers(0, 50),
    workers=st.integers(1, 16),
)
def test_the_shares_add_up_to_the_level(
    concurrency: int | None, rate: float | None, requests: int | None, warmup: int, workers: int
) -> None:
    spec = LevelSpec(concurrency, rate, requests, None if requests is not None else 5.0, warmup)
    shares = split_level(spec, workers)
    assert len(shares) == workers
    if concurrency is not None:
        assert sum(s.concurrency or 0 for s in shares) == concurrency
        running = [s for s in shares if s.concurrency]
        assert len(running) == min(workers, concurrency)  # no worker gets requests and no stream
        assert max(s.concurrency or 0 for s in running) - min(s.concurrency or 0 for s in running) <= 1
        assert all(s.requests == 0 and s.warmup == 0 for s in shares if not s.concurrency)
    if rate is not None:  # independent Poisson streams of rate r/N sum to one of rate r
        assert sum(s.rate or 0 for s in shares) == pytest.approx(rate)
    if requests is not None:
        assert sum(s.requests or 0 for s in shares) == requests
    assert sum(s.warmup for s in shares) == warmup
    assert all(s.duration_s == spec.duration_s and s.ramp_s == spec.ramp_s for s in shares)


@st.composite
def _sample(draw: st.DrawFn, index: int) -> Sample:
    sent = draw(st.floats(0.0, 20.0, allow_nan=False))
    ok = draw(st.booleans())
    e2e = draw(st.floats(1.0, 2000.0))
    gaps = draw(st.lists(st.floats(0.1, 50.0), max_size=6))
    return Sample(
        index=index,
        level="c=8",
        warmup=draw(st.booleans()) and index % 5 == 0,
        scheduled_s=sent,
        built_s=sent,
        sent_s=sent,
        end_s=sent + e2e / 1000,
        ok=ok,
        status=200 if ok else 503,
        error=None if ok else "HTTP 503",
        ttft_ms=draw(st.floats(0.5, e2e)) if ok else None,
        e2e_ms=e2e if ok else None,
        itl_ms=gaps if ok else [],
        output_tokens=len(gaps) + 1 if ok else 0,
        reads=len(gaps) + 1,
    )


@st.composite
def _worker_outcomes(draw: st.DrawFn) -> list[LevelOutcome]:
    spec = LevelSpec(8, None, 100)
    outcomes = []
    for w in range(draw(st.integers(1, 4))):
        count = draw(st.integers(0, 12))
        samples = [draw(_sample(w * 100 + i)) for i in range(count)]
        lags = draw(st.lists(st.floats(0.0, 5.0), max_size=5))
        outcomes.append(LevelOutcome(spec, samples, lags, cpu_s=0.1 * (w + 1), wall_s=2.0, reads=count))
    return outcomes


def _figures(record: dict[str, Any]) -> dict[str, Any]:
    keep = ("requests", "ok", "failed", "errors", "warmup", "window", "request_throughput_rps")
    metrics = {k: v for k, v in record["metrics"].items() if k != "loop_lag_ms"}
    return {**{k: record[k] for k in keep}, "output": record["output_throughput_tps"], "metrics": metrics}


@settings(max_examples=60, deadline=None)
@given(_worker_outcomes())
def test_the_merged_level_is_the_one_process_computation(outcomes: list[LevelOutcome]) -> None:
    """Percentiles, counts and the steady window over the concatenated records, exactly (no sketch)."""
    spec = outcomes[0].spec
    merged = level_record(merge_outcomes(spec, outcomes))
    concatenated = [s for o in outcomes for s in o.samples]
    one_process = level_record(LevelOutcome(spec, concatenated, [g for o in outcomes for g in o.loop_lag_ms]))
    assert _figures(merged) == _figures(one_process)
    assert merged["metrics"]["loop_lag_ms"] == one_process["metrics"]["loop_lag_ms"]


def _config(url: str, levels: list[LevelSpec], **extra: Any) -> BenchConfig:
    return BenchConfig(
        base_url=url, model=MODEL, levels=levels, payloads=load_payloads("text"), is_mock=True, **extra
    )


def test_two_workers_against_the_embedded_mock_end_to_end(tmp_path: Path) -> None:
    args = ["bench", "--workers", "2", "--concurrency", "2,4", "--requests", "12", "--no-progress"]
    code = main([*args, "--report-dir", str(tmp_path), "--mock-scenario", "ttft_ms=5;itl_ms=1;chunks=4"])
    assert code == 0
    record = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    check_record(record)
    assert record["machine"]["workers"] == 2
    for level in record["levels"]:
        rows = level["workers"]
        assert [r["worker"] for r in rows] == [0, 1]
        assert sum(r["requests"] for r in rows) == level["requests"] == 12
        assert level["ok"] == 12 and level["stopped"] is None
        assert all(r["client"] is not None and "client_limited" in r["client"] for r in rows)


def test_one_budget_holds_across_workers() -> None:
    with MockProcess("compatible", {"ttft_ms": 2, "itl_ms": 1, "chunks": 4}, pin=False) as mock:
        config = _config(mock.url, [LevelSpec(4, None, 40)], budget=Budget(max_requests=15))
        record = run_bench_workers(config, WorkerPlan(2))
    assert record["budget"]["requests_sent"] == 15
    assert record["budget"]["exhausted"] == "request budget spent (15 requests)"
    assert record["levels"][0]["requests"] == 15  # not 15 per worker


def test_a_killed_worker_ends_its_level_incomplete_and_keeps_the_others_data() -> None:
    def kill_worker_one() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [p for p in multiprocessing.active_children() if p.name == "chatcert-bench-worker-1"]
            if found and found[0].pid:
                time.sleep(0.8)  # mid-level: its requests take 0.5 s each
                os.kill(found[0].pid, signal.SIGKILL)
                return
            time.sleep(0.05)

    with MockProcess("compatible", {"ttft_ms": 100, "itl_ms": 50, "chunks": 8}, pin=False) as mock:
        config = _config(mock.url, [LevelSpec(4, None, 24), LevelSpec(4, None, 8)])
        killer = threading.Thread(target=kill_worker_one)
        killer.start()
        started = time.monotonic()
        record = run_bench_workers(config, WorkerPlan(2))
        killer.join()
    assert time.monotonic() - started < 30
    (level,) = record["levels"]  # the next level never started
    assert level["stopped"].startswith("incomplete: worker 1 died")
    assert [r["worker"] for r in level["workers"]] == [0]
    assert level["requests"] == 12 and level["ok"] == 12  # worker 0's share, kept


def test_an_unusable_workers_value_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["bench", "--workers", "zero"])
    assert exited.value.code == 2
    assert "expected a number of workers or auto" in capsys.readouterr().err


def test_a_hung_worker_is_given_up_at_the_levels_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stopped worker (SIGSTOP) answers nothing: the level ends incomplete at its deadline, the
    worker is killed, and the other worker's share is kept."""
    import chatcert.bench.workers as workers

    monkeypatch.setattr(workers, "_LEVEL_SLACK_S", 1.0)

    def stop_worker_one() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            found = [p for p in multiprocessing.active_children() if p.name == "chatcert-bench-worker-1"]
            if found and found[0].pid:
                time.sleep(0.8)
                os.kill(found[0].pid, signal.SIGSTOP)
                return
            time.sleep(0.05)

    with MockProcess("compatible", {"ttft_ms": 100, "itl_ms": 50, "chunks": 8}, pin=False) as mock:
        config = _config(mock.url, [LevelSpec(4, None, 12)], deadline_s=2.0, stall_s=2.0)
        stopper = threading.Thread(target=stop_worker_one)
        stopper.start()
        started = time.monotonic()
        record = run_bench_workers(config, WorkerPlan(2))
        stopper.join()
    # The level's own deadline: 3 rounds of 2 s for each share, plus the 1 s of slack set above.
    assert time.monotonic() - started < 20
    (level,) = record["levels"]
    assert level["stopped"] == "incomplete: worker 1 gave no answer within the level's deadline"
    assert [r["worker"] for r in level["workers"]] == [0] and level["ok"] == 6
