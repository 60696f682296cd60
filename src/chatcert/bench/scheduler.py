"""Sends a level's requests: fixed concurrency (closed loop) or Poisson arrivals (open loop).

Closed loop: `concurrency` workers each send the next request as soon as their previous one ends;
its scheduled time is the moment the worker came free. Open loop: arrival times are drawn up front
(exponential gaps, seeded) and never wait for answers, so a slow server cannot slow the schedule
down (no coordinated omission); a concurrency cap, when given, makes late requests queue, and the
queueing shows in `sent - scheduled`. The first `warmup` requests of a level are sent and flagged,
never counted. Every send reserves budget first (max_tokens capped to what remains).
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from itertools import pairwise
from time import perf_counter
from typing import Any

from chatcert.bench.events import observe_json, observe_stream
from chatcert.bench.gcpause import GcPauses
from chatcert.bench.metrics import Sample
from chatcert.bench.plan import RequestPlan
from chatcert.bench.progress import NullProgress, Progress
from chatcert.bench.transport import Connection, Pool, RawResponse, TransportError
from chatcert.budget import Budget, BudgetExhausted

__all__ = ["LevelOutcome", "LevelSpec", "Scheduler"]

_LAG_INTERVAL_S = 0.005
_WATCH_INTERVAL_S = 0.1


@dataclass(frozen=True)
class LevelSpec:
    """One level of a run. `rate` set: open loop, `concurrency` caps in-flight requests (None: no cap).

    `ramp_s` (closed loop): worker i sends its first request `i * ramp_s / concurrency` after the
    level starts, so the streams run out of phase, as independent users do; 0 starts them together.
    """

    concurrency: int | None = 1
    rate: float | None = None
    requests: int | None = 10
    duration_s: float | None = None
    warmup: int = 0
    ramp_s: float = 0.0

    @property
    def label(self) -> str:
        if self.rate is None:
            return f"c={self.concurrency}"
        cap = f",c<={self.concurrency}" if self.concurrency else ""
        return f"rate={self.rate:g}{cap}"


@dataclass
class LevelOutcome:
    spec: LevelSpec
    samples: list[Sample] = field(default_factory=list)
    loop_lag_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0
    wall_s: float = 0.0
    reads: int = 0
    stopped: str | None = None
    gc: dict[str, Any] = field(default_factory=dict)


class Scheduler:
    """Runs levels against one connection pool, on the running event loop."""

    def __init__(
        self,
        pool: Pool,
        plan: RequestPlan,
        *,
        budget: Budget | None = None,
        origin: float | None = None,
        deadline_s: float = 60.0,
        stall_s: float = 20.0,
        progress: Progress | None = None,
        common_drivers: dict[str, Any] | None = None,
        seed: int = 0,
        max_failures: int = 20,
    ) -> None:
        self.pool = pool
        self.plan = plan
        self.budget = budget or Budget()
        self.origin = perf_counter() if origin is None else origin
        # perf_counter -> wall clock, for comparing arrivals with the mock's x_mock_sent_at stamps.
        self.wall_offset = time.time() - perf_counter()
        self.deadline_s = deadline_s
        self.stall_s = stall_s
        self.progress = progress or NullProgress()
        self.common_drivers = dict(common_drivers or {})
        self.seed = seed
        self.max_failures = max_failures
        self.budget_exhausted: str | None = None
        self._inflight: dict[Connection, float] = {}
        self._stop: str | None = None
        self._failures = 0
        # (perf_counter, thread CPU, pool reads) when the level's first measured request went out.
        self._mark: tuple[float, float, int] | None = None

    async def run_level(self, spec: LevelSpec) -> LevelOutcome:
        outcome = LevelOutcome(spec)
        self._stop = None
        self._failures = 0
        self._mark = None
        lags: list[tuple[float, float]] = []
        total = spec.warmup + spec.requests if spec.requests is not None else None
        self.progress.start(spec.label, total, spec.duration_s)
        done = asyncio.Event()
        monitor = asyncio.ensure_future(self._lag_monitor(lags, done))
        watchdog = asyncio.ensure_future(self._watchdog(done))
        # Full collections wait until the level is over (chatcert.bench.gcpause); the pauses that remain
        # are reported beside the client's other figures.
        with GcPauses() as pauses:
            cpu0, wall0, reads0 = time.thread_time(), perf_counter(), self.pool.reads
            try:
                if spec.rate is None:
                    await self._closed(spec, outcome.samples)
                else:
                    await self._open(spec, outcome.samples)
            finally:
                # The client's own figures cover the measured part only: warm-up opens connections in a
                # burst.
                wall1, cpu1, reads1 = perf_counter(), time.thread_time(), self.pool.reads
                start, cpu_start, reads_start = self._mark or (wall0, cpu0, reads0)
                outcome.cpu_s, outcome.wall_s, outcome.reads = (
                    cpu1 - cpu_start,
                    wall1 - start,
                    reads1 - reads_start,
                )
                done.set()
                await asyncio.gather(monitor, watchdog, return_exceptions=True)
                self.progress.finish()
        outcome.gc = pauses.summary()
        outcome.samples.sort(key=lambda s: s.index)
        since = self._mark[0] if self._mark else wall0
        outcome.loop_lag_ms = [lag for at, lag in lags if at >= since]
        outcome.stopped = self._stop
        return outcome

    # -- arrival processes -----------------------------------------------------------------------
    async def _closed(self, spec: LevelSpec, samples: list[Sample]) -> None:
        total = spec.warmup + spec.requests if spec.requests is not None else None
        next_index = 0
        stop_at: float | None = None

        workers = max(1, spec.concurrency or 1)

        async def worker(position: int) -> None:
            nonlocal next_index, stop_at
            if spec.ramp_s > 0 and position:
                await asyncio.sleep(position * spec.ramp_s / workers)
            while self._stop is None:
                index = next_index
                now = perf_counter()
                if (total is not None and index >= total) or (stop_at is not None and now >= stop_at):
                    return
                next_index = index + 1
                warm = index < spec.warmup
                if not warm and spec.duration_s and stop_at is None:
                    stop_at = now + spec.duration_s
                sample = await self._one(index, now, warm, spec)
                if sample is not None:
                    samples.append(sample)

        await asyncio.gather(*(worker(i) for i in range(workers)))

    async def _open(self, spec: LevelSpec, samples: list[Sample]) -> None:
        assert spec.rate is not None and spec.rate > 0
        total = spec.warmup + spec.requests if spec.requests is not None else None
        rng = random.Random(f"{self.seed}:{spec.label}")
        cap = asyncio.Semaphore(spec.concurrency) if spec.concurrency else None
        tasks: set[asyncio.Future[None]] = set()
        at = perf_counter()
        index = 0
        stop_at: float | None = None

        async def queued(i: int, scheduled: float, warm: bool) -> None:
            waited = 0.0
            if cap is not None:
                before = perf_counter()
                await cap.acquire()
                waited = perf_counter() - before
            try:
                sample = await self._one(i, scheduled, warm, spec, queued_s=waited)
            finally:
                if cap is not None:
                    cap.release()
            if sample is not None:
                samples.append(sample)

        while self._stop is None and (total is None or index < total):
            at += rng.expovariate(spec.rate)
            if stop_at is not None and at >= stop_at:
                break
            delay = at - perf_counter()
            while delay > 0:  # uvloop's timers round to whole ms and may wake a little early
                await asyncio.sleep(delay)
                delay = at - perf_counter()
            warm = index < spec.warmup
            if not warm and spec.duration_s and stop_at is None:
                stop_at = at + spec.duration_s
            task = asyncio.ensure_future(queued(index, at, warm))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            index += 1
        if tasks:
            await asyncio.gather(*tasks)

    # -- one request -------------------------------------------------------------------------------
    async def _one(
        self, index: int, scheduled: float, warm: bool, spec: LevelSpec, queued_s: float = 0.0
    ) -> Sample | None:
        if not warm and self._mark is None:
            self._mark = (perf_counter(), time.thread_time(), self.pool.reads)
        try:
            granted = self.budget.reserve(self.plan.max_tokens)
        except BudgetExhausted as exc:
            self._stop = self.budget_exhausted = str(exc)
            return None
        request = self.plan.request(index, granted)
        built = perf_counter()
        resp, error = await self._exchange(request)
        sample = self._sample(index, spec, warm, scheduled, built, resp, error, granted)
        sample.queued_ms = queued_s * 1000
        self.progress.advance(sample.ok)
        if sample.ok:
            self._failures = 0
        else:
            self._failures += 1
            if self._failures >= self.max_failures and self._stop is None:
                self._stop = f"stopped after {self._failures} failed requests in a row ({sample.error})"
        return sample

    async def _exchange(self, request: bytes) -> tuple[RawResponse, str | None]:
        # One attempt only, never a re-send: a server that closes a kept-alive connection after reading
        # the request may have run (and billed) it. The failure is this sample's; the pool drops the
        # closed connection, so the next request opens a fresh one.
        resp = RawResponse()
        try:
            conn = await self.pool.acquire()
        except TransportError as exc:
            return resp, str(exc)
        try:
            waiter = conn.send(request, resp, self.deadline_s)
            self._inflight[conn] = resp.sent
            await waiter
            return resp, None
        except TransportError as exc:
            return resp, str(exc)
        finally:
            self._inflight.pop(conn, None)
            self.pool.release(conn)

    def _sample(
        self,
        index: int,
        spec: LevelSpec,
        warm: bool,
        scheduled: float,
        built: float,
        resp: RawResponse,
        error: str | None,
        granted: int,
    ) -> Sample:
        origin = self.origin
        sent = resp.sent or built
        drivers = {
            **self.plan.drivers(index, granted),
            "concurrency": spec.concurrency,
            "rate": spec.rate,
            **self.common_drivers,
        }
        sample = Sample(
            index=index,
            level=spec.label,
            warmup=warm,
            scheduled_s=scheduled - origin,
            built_s=built - origin,
            sent_s=sent - origin,
            end_s=(resp.end or perf_counter()) - origin,
            ok=False,
            status=resp.status,
            reads=resp.reads,
            drivers=drivers,
        )
        if error is not None:
            sample.error = error
            self.budget.settle(granted, 0)  # nothing was generated for us
            return sample
        if resp.status != 200:
            sample.error = f"HTTP {resp.status}"
            self.budget.settle(granted, 0)
            return sample
        streamed = "text/event-stream" in resp.headers.get("content-type", "")
        seen = observe_stream(resp.parts) if streamed else observe_json(resp.body, resp.end)
        self.budget.settle(granted, seen.usage_tokens)
        offset = self.wall_offset
        sample.client_lag_ms = [(stamp + offset - sent_at) * 1000 for stamp, sent_at in seen.sent_stamps]
        if seen.error or not seen.token_stamps:
            sample.error = seen.error or "no token-bearing delta in the response"
            return sample
        stamps = seen.token_stamps
        sample.ok = True
        sample.ttft_ms = (stamps[0] - sent) * 1000
        if seen.first_token_sent_at is not None:
            # The mock's truth: its send stamp of that delta, from the moment we sent the request.
            truth_ms = (seen.first_token_sent_at - (sent + offset)) * 1000
            sample.ttft_error_ms = sample.ttft_ms - truth_ms
        sample.e2e_ms = (resp.end - sent) * 1000
        sample.itl_ms = [(b - a) * 1000 for a, b in pairwise(stamps)]
        if seen.usage_tokens is not None:
            sample.output_tokens, sample.tokens_source = seen.usage_tokens, "usage"
        else:
            sample.output_tokens, sample.tokens_source = len(stamps), "chunks"
        return sample

    # -- background tasks ----------------------------------------------------------------------------
    async def _lag_monitor(self, lags: list[tuple[float, float]], done: asyncio.Event) -> None:
        """Timer lateness: how long a callback that is due waits for the loop (the stamps wait as long)."""
        while not done.is_set():
            before = perf_counter()
            await asyncio.sleep(_LAG_INTERVAL_S)
            after = perf_counter()
            lags.append((after, max(0.0, (after - before - _LAG_INTERVAL_S) * 1000)))

    async def _watchdog(self, done: asyncio.Event) -> None:
        """Abort responses past the deadline or silent past the stall bound; redraw the progress bar."""
        while not done.is_set():
            await asyncio.sleep(_WATCH_INTERVAL_S)
            now = perf_counter()
            for conn, sent in list(self._inflight.items()):
                if now - sent > self.deadline_s:
                    conn.abort(f"deadline of {self.deadline_s:g} s passed")
                elif now - max(sent, conn.last_read) > self.stall_s:
                    conn.abort(f"nothing received for {self.stall_s:g} s (stall bound)")
            self.progress.refresh()
