"""Shared by the benchmark scripts: servers in their own pinned process, and three clients measured alike.

Every client runs a closed loop of C streams on this process's event loop, stamps each raw read
before parsing (chatcert: with the kernel's arrival stamp; chatcert-loop, aiohttp and httpx: with
perf_counter() when the loop delivers the read), and hands `(stamp, bytes)` pieces to the same
parser and the same formulas (chatcert.bench.events / metrics), so the figures differ only by
transport.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from itertools import pairwise
from pathlib import Path
from time import perf_counter
from typing import Any

import aiohttp
import httpx

from chatcert.bench import BenchConfig, LevelSpec, MockProcess, load_payloads, run_bench_async
from chatcert.bench.events import observe_stream
from chatcert.bench.metrics import Sample, percentile, steady_window

__all__ = [
    "CLIENTS",
    "InstantServer",
    "MockProcess",
    "default_loop",
    "load_line",
    "measure",
    "realtime",
    "server_for",
]

BODY = json.dumps(
    {
        "model": "default",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "max_tokens": 128,
        "stream_options": {"include_usage": True},
    }
).encode()
HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


def _cpu_times() -> list[int] | None:
    """The `cpu` line of /proc/stat (user nice system idle iowait irq softirq steal ...), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            return [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None


_LAST_TIMES = _cpu_times()


def load_line() -> str:
    """The load average and, on Linux, the CPU time the hypervisor took since the previous call (steal):
    a VM whose host is busy loses time that its own load average never shows."""
    global _LAST_TIMES
    one, five, _ = os.getloadavg()
    line = f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"
    now = _cpu_times()
    if now is not None and _LAST_TIMES is not None and len(now) > 7:
        total = sum(now[:8]) - sum(_LAST_TIMES[:8])
        if total > 0:
            line += f", steal {(now[7] - _LAST_TIMES[7]) / total:.1%} since the last line"
    _LAST_TIMES = now
    return line


class InstantServer:
    """benchmarks/instant_server.py in a child process, pinned to the first core like the mock."""

    def __init__(self) -> None:
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._restore: set[int] | None = None

    def __enter__(self) -> InstantServer:
        script = Path(__file__).with_name("instant_server.py")
        self._proc = subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True)
        assert self._proc.stderr is not None
        line = self._proc.stderr.readline()
        match = re.search(r"http://\S+", line)
        if not match:
            raise RuntimeError(f"instant server did not start: {line!r}")
        self.url = match.group(0)
        threading.Thread(target=self._proc.stderr.read, daemon=True).start()
        cores = sorted(os.sched_getaffinity(0))
        if len(cores) >= 2:
            self._restore = set(cores)
            os.sched_setaffinity(self._proc.pid, {cores[0]})
            os.sched_setaffinity(0, {cores[1]})
        return self

    def __exit__(self, *exc: object) -> None:
        if self._restore:
            os.sched_setaffinity(0, self._restore)
        if self._proc is not None:
            self._proc.terminate()
            self._proc.wait(timeout=5)


def server_for(kind: str) -> Any:
    if kind == "instant":
        return InstantServer()
    return MockProcess("compatible", {"ttft_ms": 50, "itl_ms": 10, "chunks": 32, "jitter_ms": 0})


def _sample(
    i: int, sent: float, end: float, parts: list[tuple[float, bytes]], offset: float, reads: int
) -> Sample:
    seen = observe_stream(parts)
    s = Sample(i, "", i < 0, sent, sent, sent, end, bool(seen.token_stamps), reads=reads)
    if seen.token_stamps:
        s.ttft_ms = (seen.token_stamps[0] - sent) * 1000
        s.e2e_ms = (end - sent) * 1000
        s.itl_ms = [(b - a) * 1000 for a, b in pairwise(seen.token_stamps)]
        s.output_tokens = seen.usage_tokens or len(seen.token_stamps)
        if seen.first_token_sent_at is not None:
            s.ttft_error_ms = s.ttft_ms - (seen.first_token_sent_at - (sent + offset)) * 1000
    s.client_lag_ms = [(st + offset - at) * 1000 for st, at in seen.sent_stamps]
    return s


async def _closed_loop(
    c: int, n: int, warmup: int, one: Callable[[int], Awaitable[Sample]], ramp_s: float = 0.0
) -> tuple[list[Sample], float, float, list[float]]:
    samples: list[Sample] = []
    counter = iter(range(warmup + n))
    lags: list[float] = []
    done = asyncio.Event()

    async def lag_monitor() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            t = loop.time()
            await asyncio.sleep(0.005)
            lags.append(max(0.0, (loop.time() - t - 0.005) * 1000))

    async def worker(position: int) -> None:
        if ramp_s and position:  # as chatcert's LevelSpec.ramp_s: worker i starts i * ramp / c later
            await asyncio.sleep(position * ramp_s / c)
        for i in counter:
            s = await one(i)
            s.warmup = i < warmup
            samples.append(s)

    mon = asyncio.ensure_future(lag_monitor())
    cpu0, wall0 = time.thread_time(), perf_counter()
    await asyncio.gather(*(worker(i) for i in range(c)))
    cpu, wall = time.thread_time() - cpu0, perf_counter() - wall0
    done.set()
    await mon
    return samples, cpu, wall, lags


async def _aiohttp(
    url: str, c: int, n: int, warmup: int, ramp_s: float = 0.0
) -> tuple[list[Sample], float, float, list[float]]:
    offset = time.time() - perf_counter()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> Sample:
            sent = perf_counter()
            parts: list[tuple[float, bytes]] = []
            async with session.post(url, data=BODY, headers=HEADERS) as resp:
                async for data in resp.content.iter_any():
                    parts.append((perf_counter(), data))
            return _sample(i, sent, parts[-1][0] if parts else perf_counter(), parts, offset, len(parts))

        return await _closed_loop(c, n, warmup, one, ramp_s)


async def _httpx_sharded(
    url: str, c: int, n: int, warmup: int, ramp_s: float = 0.0
) -> tuple[list[Sample], float, float, list[float]]:
    # One AsyncClient per 16 streams: httpx's pool cost grows with connections x requests.
    offset = time.time() - perf_counter()
    shards = [
        httpx.AsyncClient(limits=httpx.Limits(max_connections=16, max_keepalive_connections=16), timeout=60)
        for _ in range(max(1, (c + 15) // 16))
    ]
    try:

        async def one(i: int) -> Sample:
            client = shards[i % len(shards)]
            sent = perf_counter()
            parts: list[tuple[float, bytes]] = []
            async with client.stream("POST", url, content=BODY, headers=HEADERS) as resp:
                async for data in resp.aiter_raw():
                    parts.append((perf_counter(), data))
            return _sample(i, sent, parts[-1][0] if parts else perf_counter(), parts, offset, len(parts))

        return await _closed_loop(c, n, warmup, one, ramp_s)
    finally:
        for client in shards:
            await client.aclose()


async def _chatcert(
    url: str, c: int, n: int, warmup: int, ramp_s: float = 0.0, *, kernel_stamps: bool = True
) -> tuple[list[Sample], float, float, list[float]]:
    level = LevelSpec(c, None, n, None, warmup, ramp_s)
    config = BenchConfig(url, "default", [level], load_payloads("text"))
    config.include_usage = True
    config.kernel_stamps = kernel_stamps
    record = await run_bench_async(config)
    level = record["levels"][0]
    samples = []
    for s in record["samples"]:
        sample = Sample(
            s["index"],
            s["level"],
            s["warmup"],
            s["scheduled_s"],
            s["request_built_s"],
            s["headers_sent_s"],
            s["end_s"],
            s["ok"],
            ttft_ms=s["ttft_ms"],
            e2e_ms=s["e2e_ms"],
            reads=s["reads"],
            ttft_error_ms=s["ttft_error_ms"],
        )
        samples.append(sample)
    # Client lag and loop lag come from the record's own summaries (pooled there).
    lag = level["metrics"]["client_lag_ms"]
    samples[0].drivers["lag_summary"] = lag
    samples[0].drivers["reads"] = level["client"]["reads"]
    return samples, level["client"]["cpu_s"], level["wall_s"], [level["client"]["loop_lag_p99_ms"]]


CLIENTS: dict[
    str, Callable[[str, int, int, int, float], Awaitable[tuple[list[Sample], float, float, list[float]]]]
] = {
    "chatcert": _chatcert,  # kernel arrival stamps (SO_TIMESTAMPNS) where the platform gives them
    "chatcert-loop": functools.partial(_chatcert, kernel_stamps=False),  # stamps taken by the event loop
    "aiohttp": _aiohttp,
    "httpx-sharded": _httpx_sharded,
}


def run_on(loop: str, coro: Any) -> Any:
    """Run `coro` on a fresh asyncio or uvloop event loop."""
    if loop == "uvloop":
        return importlib.import_module("uvloop").run(coro)
    return asyncio.run(coro)


def realtime(on: bool) -> str:
    """Optionally run this process (and children started later) under SCHED_FIFO: on a shared,
    loaded machine other processes otherwise preempt the client for milliseconds at a time."""
    if not on:
        return "normal scheduling"
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    except (AttributeError, PermissionError, OSError) as exc:
        return f"normal scheduling (SCHED_FIFO refused: {exc})"
    return "SCHED_FIFO priority 10 (client and server)"


def default_loop() -> str:
    return "asyncio"  # chatcert's default; pass --loop uvloop to compare


def measure(
    client: str,
    url: str,
    c: int,
    n: int,
    truth_ttft_ms: float | None,
    loop: str = "asyncio",
    ramp_s: float = 0.0,
) -> dict[str, Any]:
    """Run one closed-loop level with `client` (workers started over `ramp_s`); return the figures."""
    samples, cpu, wall, loop_lags = run_on(loop, CLIENTS[client](url, c, n, c, ramp_s))
    measured = [s for s in samples if not s.warmup and s.ok]
    failed = sum(1 for s in samples if not s.warmup and not s.ok)
    window = steady_window(samples)
    ttft = sorted(s.ttft_ms for s in measured if s.ttft_ms is not None)
    err = sorted(s.ttft_error_ms for s in measured if s.ttft_error_ms is not None)
    if client.startswith("chatcert"):
        lag_summary = samples[0].drivers.get("lag_summary", {})
        lag_p50, lag_p99 = lag_summary.get("p50"), lag_summary.get("p99")
        loop_p99 = loop_lags[0]
    else:
        lags = sorted(g for s in samples if not s.warmup for g in s.client_lag_ms)
        lag_p50 = percentile(lags, 50) if lags else None
        lag_p99 = percentile(lags, 99) if lags else None
        loop_p99 = percentile(sorted(loop_lags), 99) if loop_lags else 0.0
    reads = samples[0].drivers.get("reads") or sum(s.reads for s in samples)
    out: dict[str, Any] = {
        "client": client,
        "streams": c,
        "requests": len(measured),
        "failed": failed,
        "rps": window.request_rps,
        "ttft_p50": percentile(ttft, 50) if ttft else None,
        "ttft_p99": percentile(ttft, 99) if ttft else None,
        "err_truth_p50": percentile(err, 50) if err else None,
        "err_truth_p99": percentile(err, 99) if err else None,
        "lag_p50": lag_p50,
        "lag_p99": lag_p99,
        "cpu_fraction": cpu / wall if wall else 0.0,
        "cpu_us_per_read": cpu / reads * 1e6 if reads else None,
        "loop_lag_p99": loop_p99,
    }
    if truth_ttft_ms is not None and ttft:
        out["err_nominal_p50"] = out["ttft_p50"] - truth_ttft_ms
        out["err_nominal_p99"] = out["ttft_p99"] - truth_ttft_ms
    return out
