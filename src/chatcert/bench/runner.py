"""One latency run from start to record: levels in order on one event loop and one connection pool."""

from __future__ import annotations

import asyncio
import importlib
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatcert import __version__
from chatcert._redact import Redactor
from chatcert.bench.metrics import Sample
from chatcert.bench.payloads import Payload
from chatcert.bench.plan import RequestPlan
from chatcert.bench.progress import NullProgress, Progress
from chatcert.bench.records import level_record, machine_info, run_record
from chatcert.bench.reporter import BenchEvents, BenchReporter
from chatcert.bench.scheduler import LevelSpec, Scheduler
from chatcert.bench.selfcheck import ClientLimits
from chatcert.bench.transport import DEFAULT_MAX_BODY_BYTES, Pool
from chatcert.budget import Budget
from chatcert.errors import UsageError

__all__ = ["BenchConfig", "bench_record", "loop_name", "open_run", "run_bench", "run_bench_async"]


@dataclass
class BenchConfig:
    """What to measure. `headers` may hold the API key: it is sent, never recorded."""

    base_url: str
    model: str
    levels: Sequence[LevelSpec]
    payloads: Sequence[Payload]
    route: str = "/v1/chat/completions"
    profile: str = "compatible"
    headers: dict[str, str] = field(default_factory=dict)
    payload_spec: str = "text"
    stream: bool = True
    max_tokens: int = 128
    temperature: float | None = None
    cache_prompt: bool | None = None
    include_usage: bool = True
    verify_tls: bool = True
    deadline_s: float = 60.0
    stall_s: float = 20.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # a longer response body fails its request
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    progress: Progress = field(default_factory=NullProgress)
    limits: ClientLimits = field(default_factory=ClientLimits)
    is_mock: bool = False
    scenario: dict[str, float] | None = None
    machine: dict[str, Any] = field(default_factory=dict)  # extra facts, e.g. core pinning
    name: str | None = None
    loop: str = "asyncio"  # or "uvloop" when installed (no faster here: docs/benchmarks.md)
    kernel_stamps: bool = True  # arrival stamps from the kernel where it gives them (plain http, Linux)


def loop_name() -> str:
    """What the running event loop is, for the record: `uvloop X.Y` or `asyncio`."""
    loop = asyncio.get_running_loop()
    if type(loop).__module__.startswith("uvloop"):
        from importlib.metadata import version

        return f"uvloop {version('uvloop')}"
    return "asyncio"


def open_run(config: BenchConfig, machine: dict[str, Any]) -> tuple[Pool, Scheduler]:
    """The connection pool and the scheduler one process measures with (the driver's, or a worker's)."""
    plan = RequestPlan(
        url=config.base_url.rstrip("/") + config.route,
        headers={
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if config.stream else "application/json",
            "User-Agent": f"chatcert-bench/{__version__}",
            **config.headers,
        },
        payloads=list(config.payloads),
        model=config.model,
        stream=config.stream,
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        cache_prompt=config.cache_prompt,
        include_usage=config.include_usage,
    )
    pool = Pool(
        config.base_url,
        verify_tls=config.verify_tls,
        connect_timeout=min(10.0, config.deadline_s),
        max_body_bytes=config.max_body_bytes,
        kernel_stamps=config.kernel_stamps,
    )
    scheduler = Scheduler(
        pool,
        plan,
        budget=config.budget,
        deadline_s=config.deadline_s,
        stall_s=config.stall_s,
        progress=config.progress,
        common_drivers={"host": machine["host"], "chatcert_version": __version__},
        seed=config.seed,
    )
    return pool, scheduler


async def run_bench_async(config: BenchConfig, reporters: Sequence[BenchReporter] = ()) -> dict[str, Any]:
    """Run every level on the running loop; return the run record (with samples). `reporters` hear the
    run start, each level finish and the run finish (interrupted too), in that order."""
    events = BenchEvents(reporters)
    machine = {**machine_info(), **config.machine}
    pool, scheduler = open_run(config, machine)
    events.start(config)
    levels: list[dict[str, Any]] = []
    samples: list[Sample] = []
    interrupted: list[str] = []
    release = _trap_signals(interrupted)
    try:
        for spec in config.levels:
            try:
                outcome = await scheduler.run_level(spec)
            except asyncio.CancelledError:
                if not interrupted:
                    raise
                # The level under way is dropped (half a level is no measurement); finished ones stay.
                _uncancel()
                break
            levels.append(level_record(outcome, config.limits, loop_stamps="loop" in pool.stamp_sources))
            samples.extend(outcome.samples)
            events.level(levels[-1])
            if scheduler.budget_exhausted:
                break
    finally:
        release()
        pool.close()
    record = bench_record(
        config,
        levels,
        samples,
        machine,
        stamp_sources=pool.stamp_sources,
        stamp_fallbacks=pool.stamp_fallbacks,
        budget_exhausted=scheduler.budget_exhausted,
        interrupted=interrupted[0] if interrupted else None,
    )
    return events.finish(record)


def bench_record(
    config: BenchConfig,
    levels: list[dict[str, Any]],
    samples: list[Sample],
    machine: dict[str, Any],
    *,
    stamp_sources: set[str],
    stamp_fallbacks: Any,
    budget_exhausted: str | None,
    interrupted: str | None,
    event_loop: str | None = None,
) -> dict[str, Any]:
    """The run record of measured levels: what was asked, on what machine, and what it cost.
    `event_loop`: what ran the requests, when it is not the loop this is called on (workers)."""
    end = machine_info()
    machine["loadavg_end"] = end["loadavg"]
    budget = config.budget
    record = run_record(
        levels,
        samples,
        name=config.name,
        target={
            "url": _redacted(config),
            "route": config.route,
            "profile": config.profile,
            "model": config.model,
            "mock": config.is_mock,
            "scenario": config.scenario,
        },
        settings={
            "payload": config.payload_spec,
            "payload_classes": sorted({p.payload_class for p in config.payloads}),
            "stream": config.stream,
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
            "cache_prompt": config.cache_prompt,
            "include_usage": config.include_usage,
            "levels": [
                {
                    "label": s.label,
                    "concurrency": s.concurrency,
                    "rate": s.rate,
                    "requests": s.requests,
                    "duration_s": s.duration_s,
                    "warmup": s.warmup,
                    "ramp_s": s.ramp_s,
                }
                for s in config.levels
            ],
            "deadline_s": config.deadline_s,
            "stall_s": config.stall_s,
            "max_body_bytes": config.max_body_bytes,
            "seed": config.seed,
            "transport": "chatcert asyncio HTTP/1.1 (stamps each read before parsing)",
            "stamps": _stamps(stamp_sources),
            "stamp_fallbacks": stamp_fallbacks,
            "event_loop": event_loop or loop_name(),
        },
        machine=machine,
        budget={
            "max_requests": budget.max_requests,
            "max_tokens": budget.max_tokens,
            "requests_sent": budget.requests_sent,
            "tokens_spent": budget.tokens_spent,
            "exhausted": budget_exhausted,
        },
    )
    record["interrupted"] = interrupted
    return record


def _trap_signals(interrupted: list[str]) -> Callable[[], None]:
    """While levels run, SIGINT/SIGTERM cancel the run's task (appending the signal's name) instead of
    raising wherever the loop happens to be: the finished levels survive into the record.

    Returns the function that puts the previous handlers back. Outside the main thread (a loop run
    by a test harness, say) nothing is trapped.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    if task is None or threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def on_signal(sig: signal.Signals) -> None:
        if not interrupted:
            interrupted.append(sig.name)
            task.cancel()

    for sig in previous:
        loop.add_signal_handler(sig, on_signal, sig)

    def release() -> None:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)

    return release


def _uncancel() -> None:
    """Python >= 3.11 counts cancellations; the caught one is handled: later awaits must go on."""
    task = asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)
    if uncancel is not None:
        uncancel()


_STAMPS = {
    "kernel": "kernel (SO_TIMESTAMPNS: when the network stack received the bytes)",
    "loop": "event loop (perf_counter() first thing in data_received)",
}


def _stamps(sources: set[str]) -> str:
    """What stamped the arrivals of a run, for its record."""
    if not sources:
        return "none (no connection was opened)"
    if len(sources) > 1:
        return "mixed: " + "; ".join(_STAMPS[s] for s in sorted(sources))
    return _STAMPS[next(iter(sources))]


def _redacted(config: BenchConfig) -> str:
    keys = ("authorization", "x-api-key")
    secrets = [v.split(" ", 1)[-1] for k, v in config.headers.items() if k.lower() in keys]
    return Redactor([s for s in secrets if s]).url(config.base_url)


def run_bench(config: BenchConfig, reporters: Sequence[BenchReporter] = ()) -> dict[str, Any]:
    """Synchronous wrapper: a fresh event loop for the run (asyncio's, or uvloop's when asked)."""
    if config.loop not in ("uvloop", "asyncio"):
        raise UsageError(f"unknown event loop {config.loop!r}: asyncio or uvloop")
    if config.loop == "uvloop":
        try:
            uvloop = importlib.import_module("uvloop")  # optional: not a dependency of chatcert
        except ImportError:
            raise UsageError("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        result: dict[str, Any] = uvloop.run(run_bench_async(config, reporters))
        return result
    return asyncio.run(run_bench_async(config, reporters))
