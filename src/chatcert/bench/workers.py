"""A latency run across worker processes: `chatcert bench --workers N`.

One client core reads about 22k chunks/s (docs/benchmarks.md); past that, every figure measures the
client. Each worker is a process pinned to a core of its own, with its own event loop, connections and
scheduler (the one-process code, `runner.open_run`), and runs its share of each level: concurrency and
request counts split as evenly as integers allow, a rate split r/N (independent Poisson streams of rate
r/N sum to a Poisson stream of rate r). The driver runs the levels in lockstep (no worker starts level
k+1 before every worker has finished level k, so levels never overlap) and merges the workers'
per-request samples. Every worker stamps with the same clock (CLOCK_MONOTONIC is system-wide on Linux)
from the driver's origin, so the merged level is computed by exactly the code and from exactly the
records one process would have had: percentiles are exact, the steady window is cut on one timeline.
Each worker's CPU, loop lag and client-limited verdict stay in the level under `workers`.

The budget is one for the whole run: a worker reserves each request's tokens from counters the driver
owns (shared memory, one lock) before it sends. A worker that dies or hangs ends its level
`incomplete: worker N ...`; the other workers' records of that level are kept, and no later level
starts. Ctrl-C reaches the driver (workers ignore SIGINT): it stops the workers and keeps the levels
that finished.

This is for the cores of one machine. Across machines, use an existing engine (Ray); chatcert has no
cluster protocol of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any

from chatcert.bench.metrics import Sample
from chatcert.bench.progress import NullProgress
from chatcert.bench.records import level_record, machine_info
from chatcert.bench.reporter import BenchEvents, BenchReporter
from chatcert.bench.runner import BenchConfig, bench_record, open_run, run_bench
from chatcert.bench.scheduler import LevelOutcome, LevelSpec
from chatcert.budget import Budget
from chatcert.errors import HarnessError, UsageError
from chatcert.interrupt import Interrupted

__all__ = [
    "SharedBudget",
    "WorkerPlan",
    "auto_workers",
    "merge_outcomes",
    "run_bench_on_workers",
    "run_bench_workers",
    "split_level",
    "worker_cores",
]

# How long the driver waits for a level beyond what its requests may take.
_LEVEL_SLACK_S = 30.0
_START_TIMEOUT_S = 60.0


def _share(total: int, index: int, workers: int) -> int:
    return total // workers + (1 if index < total % workers else 0)


def split_level(spec: LevelSpec, workers: int) -> list[LevelSpec]:
    """Each worker's share of a level; the shares add up to the level. A level with fewer streams than
    workers runs on as many workers as it has streams: the others sit it out (an idle share)."""
    active = workers if spec.concurrency is None else max(1, min(workers, spec.concurrency))
    shares = []
    for i in range(workers):
        if i >= active:
            shares.append(replace(spec, concurrency=0, rate=None, requests=0, warmup=0))
            continue
        shares.append(
            replace(
                spec,
                concurrency=None if spec.concurrency is None else _share(spec.concurrency, i, active),
                rate=None if spec.rate is None else spec.rate / active,
                requests=None if spec.requests is None else _share(spec.requests, i, active),
                warmup=_share(spec.warmup, i, active),
            )
        )
    return shares


def idle_share(spec: LevelSpec) -> bool:
    """A share with nothing to send: no stream to run, or no request to make."""
    return spec.concurrency == 0 or (spec.requests == 0 and spec.duration_s is None and spec.warmup == 0)


def worker_cores(reserved: Sequence[int] = ()) -> list[int]:
    """The cores workers may be pinned to: the usable ones less those the embedded mock is pinned to
    (all usable ones when that leaves none)."""
    try:
        usable = set(os.sched_getaffinity(0))
    except AttributeError:  # no affinity on this platform: workers run unpinned
        return []
    return sorted(usable - set(reserved)) or sorted(usable)


def auto_workers(reserved: Sequence[int] = ()) -> int:
    """`--workers auto`: one worker per core the embedded mock is not pinned to (at least 1)."""
    return max(1, len(worker_cores(reserved)) or os.cpu_count() or 1)


class SharedBudget(Budget):
    """The run's one budget, in shared memory: every worker reserves from the same counters."""

    def __init__(self, max_requests: int | None, max_tokens: int | None, ctx: Any) -> None:
        super().__init__(max_requests=max_requests, max_tokens=max_tokens)
        self._shared_lock = ctx.Lock()
        self._requests = ctx.RawValue("q", 0)
        self._tokens = ctx.RawValue("q", 0)

    def refresh(self) -> None:
        """Copy the shared counters into this copy's fields (what reports read)."""
        self.requests_sent, self.tokens_spent = int(self._requests.value), int(self._tokens.value)

    def _publish(self) -> None:
        self._requests.value, self._tokens.value = self.requests_sent, self.tokens_spent

    def reserve(self, wanted_tokens: int) -> int:
        # Budget's own rules, applied to the shared counters under the one cross-process lock.
        with self._shared_lock:
            self.refresh()
            granted = super().reserve(wanted_tokens)
            self._publish()
            return granted

    def settle(self, reserved: int, used: int | None) -> None:
        with self._shared_lock:
            self.refresh()
            super().settle(reserved, used)
            self._publish()

    def shortfall(self, requests: int, tokens: int) -> str | None:
        with self._shared_lock:
            self.refresh()
        return super().shortfall(requests, tokens)


@dataclass(frozen=True)
class WorkerPlan:
    """Where the workers run: how many, and the cores to pin them to (round robin; none: unpinned)."""

    workers: int
    cores: tuple[int, ...] = ()

    def core(self, index: int) -> int | None:
        return self.cores[index % len(self.cores)] if self.cores else None


def _worker_main(index: int, config: BenchConfig, core: int | None, origin: float, conn: Connection) -> None:
    """A worker process: ignore Ctrl-C (the driver stops it), pin, then run each share it is sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):  # the driver went away
        asyncio.run(_serve(config, origin, conn))


async def _serve(config: BenchConfig, origin: float, conn: Connection) -> None:
    machine = machine_info()
    pool, scheduler = open_run(config, machine)
    scheduler.origin = origin  # one timeline for every worker (system-wide monotonic clock)
    loop = asyncio.get_running_loop()
    conn.send(("ready", os.getpid()))
    try:
        while True:
            spec = await loop.run_in_executor(None, conn.recv)
            if spec is None:
                break
            outcome = LevelOutcome(spec) if idle_share(spec) else await scheduler.run_level(spec)
            cpu = time.process_time()
            conn.send(("level", outcome, sorted(pool.stamp_sources), scheduler.budget_exhausted, cpu))
    finally:
        pool.close()


def merge_outcomes(spec: LevelSpec, outcomes: Sequence[LevelOutcome]) -> LevelOutcome:
    """One level as one process would have recorded it: every worker's samples on one timeline. The
    client's own figures take the busiest worker's CPU and wall time (per-worker figures are kept apart)."""
    merged = LevelOutcome(spec)
    for outcome in outcomes:
        merged.samples.extend(outcome.samples)
        merged.loop_lag_ms.extend(outcome.loop_lag_ms)
        merged.reads += outcome.reads
        merged.stopped = merged.stopped or outcome.stopped
    merged.samples.sort(key=lambda s: (s.scheduled_s, s.sent_s))
    busiest = max(outcomes, key=lambda o: o.cpu_s, default=None)
    if busiest is not None:
        merged.cpu_s, merged.wall_s, merged.gc = busiest.cpu_s, max(o.wall_s for o in outcomes), busiest.gc
    return merged


def _worker_row(
    index: int, where: dict[str, Any], outcome: LevelOutcome, config: BenchConfig
) -> dict[str, Any]:
    own = level_record(outcome, config.limits) if outcome.samples else None
    return {
        "worker": index,
        **where,  # {"core": N} for a local process, {"node": ID} for a Ray actor
        "requests": own["requests"] if own else 0,
        "cpu_s": round(outcome.cpu_s, 4),
        "wall_s": round(outcome.wall_s, 4),
        "client": own["client"] if own else None,
    }


def run_bench_on_workers(
    config: BenchConfig,
    workers: int,
    *,
    warn: Callable[[str], None] = lambda _: None,
    reporters: Sequence[BenchReporter] = (),
) -> dict[str, Any]:
    """`--workers`: one process (1), N worker processes, or (0) one per core the embedded mock is not
    pinned to. Workers are pinned round robin to those cores; `warn` hears when some must share one.
    `reporters` hear the run's events (`chatcert.bench.reporter`)."""
    pinning = config.machine.get("pinning") or {}
    reserved = [pinning["server_core"]] if pinning.get("pinned") else []
    count = workers or auto_workers(reserved)
    if count == 1:
        return run_bench(config, reporters)
    cores = worker_cores(reserved)
    if cores and count > len(cores):
        warn(
            f"{count} workers on {len(cores)} free core(s): some workers share a core, and so do their "
            "CPU and loop-lag figures"
        )
    return run_bench_workers(config, WorkerPlan(count, tuple(cores)), reporters)


Collected = tuple[dict[int, LevelOutcome], list[str], set[str], str | None]


@dataclass
class Driven:
    """What the levels run across workers gave: level records, every sample, stamp sources, and why
    the run stopped early (budget spent, interrupted), if it did."""

    levels: list[dict[str, Any]] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    sources: set[str] = field(default_factory=set)
    exhausted: str | None = None
    interrupted: str | None = None

    def record(self, config: BenchConfig, machine: dict[str, Any], event_loop: str) -> dict[str, Any]:
        """The run record of these levels (`config.budget`: the whole run's, counted across workers)."""
        return bench_record(
            config,
            self.levels,
            self.samples,
            machine,
            stamp_sources=self.sources,
            stamp_fallbacks=0,
            budget_exhausted=self.exhausted,
            interrupted=self.interrupted,
            event_loop=event_loop,
        )


def drive_levels(
    config: BenchConfig,
    workers: int,
    dispatch: Callable[[list[LevelSpec]], None],
    collect: Callable[[list[LevelSpec]], Collected],
    where: Callable[[int], dict[str, Any]],
    events: BenchEvents | None = None,
) -> Driven:
    """The driver's lockstep, whatever carries the workers (processes here, Ray actors in
    `chatcert.bench.ray_workers`): send each worker its share of a level, collect every outcome (or why
    a worker has none), merge, and only then start the next level. A level a worker failed ends the
    run `incomplete`; Ctrl-C ends it keeping the finished levels. `where(i)`: where worker i runs,
    {"core": N} or {"node": ID}. `events` hears the run start and each level finish (the caller, which
    builds the record, announces the finish)."""
    events = events or BenchEvents()
    driven = Driven()
    events.start(config)
    try:
        for spec in config.levels:
            shares = split_level(spec, workers)
            config.progress.start(spec.label, None, spec.duration_s)
            dispatch(shares)
            outcomes, problems, seen, spent = collect(shares)
            level_samples = [s for o in outcomes.values() for s in o.samples]
            for sample in level_samples:
                config.progress.advance(sample.ok)
            config.progress.finish()
            level = level_record(merge_outcomes(spec, list(outcomes.values())), config.limits)
            rows = [_worker_row(i, where(i), outcomes[i], config) for i in sorted(outcomes)]
            level["workers"] = rows
            level["client"]["client_limited"] = level["client"]["client_limited"] or any(
                r["client"] is not None and r["client"]["client_limited"] for r in rows
            )
            if problems:
                level["stopped"] = "incomplete: " + "; ".join(problems)
            driven.levels.append(level)
            events.level(level)
            driven.samples.extend(level_samples)
            driven.sources.update(seen)
            driven.exhausted = driven.exhausted or spent
            if problems or driven.exhausted:
                break
    except Interrupted as stop:
        driven.interrupted = stop.signame
    except KeyboardInterrupt:
        driven.interrupted = "SIGINT"
    return driven


def run_bench_workers(
    config: BenchConfig, plan: WorkerPlan, reporters: Sequence[BenchReporter] = ()
) -> dict[str, Any]:
    """Run `config`'s levels across `plan.workers` processes and return one merged run record;
    `reporters` hear the run's events."""
    events = BenchEvents(reporters)
    if plan.workers < 1:
        raise UsageError("--workers must be at least 1")
    ctx = multiprocessing.get_context("spawn")
    budget = config.budget
    shared = SharedBudget(budget.max_requests, budget.max_tokens, ctx) if budget.limited else Budget()
    worker_config = replace(config, budget=shared, progress=NullProgress(), machine={})
    origin = time.perf_counter()
    machine = {**machine_info(), **config.machine, "workers": plan.workers, "worker_cores": list(plan.cores)}
    procs: list[Any] = []
    conns: list[Connection] = []

    def dispatch(shares: list[LevelSpec]) -> None:
        for conn, share in zip(conns, shares, strict=True):
            conn.send(share)

    try:
        for i in range(plan.workers):
            mine, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=_worker_main,
                args=(i, worker_config, plan.core(i), origin, theirs),
                name=f"chatcert-bench-worker-{i}",
                daemon=True,
            )
            proc.start()
            theirs.close()
            procs.append(proc)
            conns.append(mine)
        for i, conn in enumerate(conns):
            try:
                if not conn.poll(_START_TIMEOUT_S):
                    raise HarnessError(f"bench worker {i} did not start within {_START_TIMEOUT_S:g} s")
                conn.recv()
            except (EOFError, OSError):
                raise HarnessError(f"bench worker {i} exited before it was ready") from None
        driven = drive_levels(
            config,
            plan.workers,
            dispatch,
            lambda shares: _collect(conns, procs, shares, config),
            lambda i: {"core": plan.core(i)},
            events,
        )
    finally:
        _stop(conns, procs)
    if isinstance(shared, SharedBudget):
        shared.refresh()
    loop = f"asyncio, one per worker process ({plan.workers})"
    return events.finish(driven.record(replace(config, budget=shared), machine, loop))


def _collect(
    conns: Sequence[Connection], procs: Sequence[Any], shares: Sequence[LevelSpec], config: BenchConfig
) -> tuple[dict[int, LevelOutcome], list[str], set[str], str | None]:
    """Every worker's outcome of the level under way, or why a worker has none (dead or hung); also
    the arrival stamp sources they used and why the budget stopped one, if it did."""
    sources: set[str] = set()
    exhausted: str | None = None
    deadline = time.monotonic() + level_timeout(shares, config)
    outcomes: dict[int, LevelOutcome] = {}
    problems: list[str] = []
    waiting = set(range(len(conns)))
    while waiting:
        for i in sorted(waiting):
            conn, proc = conns[i], procs[i]
            try:
                ready = conn.poll(0.05)
            except (EOFError, OSError):
                ready = False
            if ready:
                try:
                    _, outcome, stamp_sources, spent, _cpu = conn.recv()
                except (EOFError, OSError):
                    problems.append(f"worker {i} died (exit code {proc.exitcode})")
                    waiting.discard(i)
                    continue
                outcomes[i] = outcome
                sources.update(stamp_sources)
                exhausted = exhausted or spent
                waiting.discard(i)
            elif not proc.is_alive():
                problems.append(f"worker {i} died (exit code {proc.exitcode})")
                waiting.discard(i)
        if waiting and time.monotonic() > deadline:
            for i in sorted(waiting):
                problems.append(f"worker {i} gave no answer within the level's deadline")
                procs[i].kill()
            waiting.clear()
    return outcomes, problems, sources, exhausted


def level_timeout(shares: Sequence[LevelSpec], config: BenchConfig) -> float:
    """The longest a share may take: its duration, or its requests one deadline per round."""
    longest = 0.0
    for share in shares:
        if share.duration_s is not None:
            longest = max(longest, share.duration_s + config.deadline_s)
        elif share.requests is not None:
            per_stream = share.concurrency or 1
            rounds = -(-(share.requests + share.warmup) // per_stream)
            if share.rate:
                rounds = max(rounds, int((share.requests + share.warmup) / share.rate) + 1)
            longest = max(longest, rounds * config.deadline_s)
    return longest + _LEVEL_SLACK_S


def _stop(conns: Sequence[Connection], procs: Sequence[Any]) -> None:
    for conn in conns:
        with contextlib.suppress(OSError, ValueError):  # a dead worker's pipe is closed
            conn.send(None)
    for proc in procs:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.kill()
            proc.join(timeout=5)
    for conn in conns:
        conn.close()
