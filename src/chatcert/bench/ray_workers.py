"""A latency run across the nodes of a Ray cluster: `chatcert bench --ray ADDRESS|auto`.

The workers are Ray async actors, each running the one-process measuring code (`runner.open_run`) on
its own event loop, placed `--workers-per-node` to a node; the driver runs the levels in lockstep and
merges exactly as `chatcert.bench.workers` does for local processes (`drive_levels`). Ray is the
engine: chatcert adds no cluster protocol. Only this module imports `ray`, and only when called; it is
the optional extra `pip install 'chatcert[ray]'`.

Clocks: every node has its own monotonic clock. Before the run the driver asks each actor for its
clock a few times and keeps the round trip with the shortest time: the actor's clock minus the
midpoint of that round trip is its offset, good to within half the round trip (its bound, recorded per
worker). Each actor then stamps from the driver's origin expressed in its own clock, so every sample
lands on the driver's timeline and throughput windows are cut there.

Budget: one budget for the whole run, held by a small Ray actor of the driver's; each worker reserves
a request's tokens from it before sending (a round trip per request, paid only on budgeted runs, which
are the paid endpoints' small runs).
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from chatcert.bench.progress import NullProgress
from chatcert.bench.records import machine_info
from chatcert.bench.reporter import BenchEvents, BenchReporter
from chatcert.bench.runner import BenchConfig, open_run
from chatcert.bench.scheduler import LevelOutcome, LevelSpec
from chatcert.bench.workers import Collected, drive_levels, idle_share, level_timeout
from chatcert.budget import Budget, BudgetExhausted
from chatcert.errors import HarnessError, UsageError

__all__ = ["INSTALL_LINE", "import_ray", "measure_clock", "run_bench_ray"]

INSTALL_LINE = "pip install 'chatcert[ray]'"
_CLOCK_ROUNDS = 7
_START_TIMEOUT_S = 120.0


def import_ray() -> Any:
    """The `ray` module, or a UsageError (exit 2) that says how to install it."""
    try:
        return importlib.import_module("ray")
    except ImportError:
        raise UsageError(f"--ray needs Ray, which is not installed: {INSTALL_LINE}") from None


class _BudgetKeeper:
    """The driver's budget as a Ray actor: the one place every worker reserves from."""

    def __init__(self, max_requests: int | None, max_tokens: int | None) -> None:
        self.budget = Budget(max_requests=max_requests, max_tokens=max_tokens)

    def reserve(self, wanted: int) -> tuple[int, str | None]:
        try:
            return self.budget.reserve(wanted), None
        except BudgetExhausted as exc:
            return 0, str(exc)

    def settle(self, reserved: int, used: int | None) -> None:
        self.budget.settle(reserved, used)

    def counts(self) -> tuple[int, int]:
        return self.budget.requests_sent, self.budget.tokens_spent


class RemoteBudget(Budget):
    """A worker's view of the driver's budget: every reservation asks the keeper first."""

    def __init__(self, keeper: Any, max_requests: int | None, max_tokens: int | None) -> None:
        super().__init__(max_requests=max_requests, max_tokens=max_tokens)
        self.keeper = keeper

    def reserve(self, wanted_tokens: int) -> int:
        ray = import_ray()
        granted, refused = ray.get(self.keeper.reserve.remote(wanted_tokens))
        if refused is not None:
            raise BudgetExhausted(refused)
        self.requests_sent += 1
        self.tokens_spent += granted
        return int(granted)

    def settle(self, reserved: int, used: int | None) -> None:
        super().settle(reserved, used)
        self.keeper.settle.remote(reserved, used)


class _BenchWorker:
    """One worker: the one-process measuring code on the actor's event loop."""

    def __init__(self, config: BenchConfig) -> None:
        self.config = config
        self.pool: Any = None
        self.scheduler: Any = None

    async def clock(self) -> float:
        return time.perf_counter()

    async def start(self, origin: float) -> dict[str, Any]:
        """`origin`: the driver's origin in this node's clock."""
        machine = machine_info()
        self.pool, self.scheduler = open_run(self.config, machine)
        self.scheduler.origin = origin
        return {"host": machine["host"], "pid": os.getpid()}

    async def run_level(self, spec: LevelSpec) -> tuple[LevelOutcome, list[str], str | None]:
        outcome = LevelOutcome(spec) if idle_share(spec) else await self.scheduler.run_level(spec)
        return outcome, sorted(self.pool.stamp_sources), self.scheduler.budget_exhausted

    async def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def measure_clock(ask: Callable[[], float], rounds: int = _CLOCK_ROUNDS) -> tuple[float, float]:
    """(offset, bound): another clock minus this one, from the shortest of `rounds` round trips, and
    half that round trip (the offset is exact to within it)."""
    best: tuple[float, float] | None = None
    for _ in range(rounds):
        sent = time.perf_counter()
        theirs = ask()
        back = time.perf_counter()
        rtt = back - sent
        if best is None or rtt < best[1] * 2:
            best = (theirs - (sent + back) / 2, rtt / 2)
    assert best is not None
    return best


def _connect(ray: Any, address: str) -> bool:
    """Join the cluster at `address` (auto: the local one, started for the run when none runs).
    Returns whether this call started Ray (and must shut it down)."""
    if ray.is_initialized():
        return False
    if address == "auto":
        try:
            ray.init(address="auto", log_to_driver=False)
        except ConnectionError:
            ray.init(log_to_driver=False)  # no cluster running here: a local one for this run
        return True
    ray.init(address=address, log_to_driver=False)
    return True


def run_bench_ray(
    config: BenchConfig,
    address: str,
    *,
    workers: int | None = None,
    workers_per_node: int = 1,
    warn: Callable[[str], None] = lambda _: None,
    reporters: Sequence[BenchReporter] = (),
) -> dict[str, Any]:
    """Run `config`'s levels on Ray actors across the cluster's nodes; one merged run record.
    `reporters` hear the run's events (`chatcert.bench.reporter`)."""
    events = BenchEvents(reporters)
    ray = import_ray()
    if workers_per_node < 1:
        raise UsageError("--workers-per-node must be at least 1")
    started = _connect(ray, address)
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    actors: list[Any] = []
    nodes: list[str] = []
    try:
        alive = [n for n in ray.nodes() if n.get("Alive")]
        places = [n["NodeID"] for n in alive for _ in range(workers_per_node)]
        count = workers or len(places)
        if count > len(places):
            warn(
                f"{count} workers asked for, {len(places)} places ({len(alive)} node(s) x {workers_per_node})"
            )
            places = [places[i % len(places)] for i in range(count)]
        places = places[:count]
        budget: Budget = config.budget
        keeper = None
        if budget.limited:
            keeper = ray.remote(num_cpus=0)(_BudgetKeeper).remote(budget.max_requests, budget.max_tokens)
            budget = RemoteBudget(keeper, budget.max_requests, budget.max_tokens)
        worker_config = replace(config, budget=budget, progress=NullProgress(), machine={})
        remote_worker = ray.remote(num_cpus=0, max_restarts=0)(_BenchWorker)
        run_id = f"chatcert-bench-{os.getpid()}-{time.monotonic_ns()}"
        for i, node in enumerate(places):
            strategy = NodeAffinitySchedulingStrategy(node_id=node, soft=False)
            # Named, so an operator (or a test) can find worker i with ray.get_actor.
            options = {"scheduling_strategy": strategy, "name": f"{run_id}-worker-{i}"}
            actors.append(remote_worker.options(**options).remote(worker_config))
            nodes.append(node)
        origin = time.perf_counter()
        clocks, infos = _start(ray, actors, origin)
        refs: list[Any] = []

        def dispatch(shares: list[LevelSpec]) -> None:
            refs[:] = [a.run_level.remote(s) for a, s in zip(actors, shares, strict=True)]

        def collect(shares: list[LevelSpec]) -> Collected:
            return _collect(ray, actors, refs, level_timeout(shares, config))

        driven = drive_levels(config, len(actors), dispatch, collect, lambda i: {"node": nodes[i]}, events)
        counts = ray.get(keeper.counts.remote()) if keeper is not None else (0, 0)
    finally:
        for actor in actors:
            ray.kill(actor, no_restart=True)
        if started:
            ray.shutdown()
    final = replace(config.budget)
    final.requests_sent, final.tokens_spent = counts if config.budget.limited else (0, 0)
    machine = {
        **machine_info(),
        **config.machine,
        "workers": len(nodes),
        "ray": {
            "address": address,
            "nodes": len(set(nodes)),
            "workers_per_node": workers_per_node,
            "workers": [
                {"worker": i, "node": nodes[i], "host": infos[i]["host"], **clocks[i]}
                for i in range(len(nodes))
            ],
            "clock_offset_bound_s": max((c["clock_offset_bound_s"] for c in clocks), default=0.0),
        },
    }
    loop = f"asyncio, one per Ray actor ({len(nodes)})"
    return events.finish(driven.record(replace(config, budget=final), machine, loop))


def _start(ray: Any, actors: list[Any], origin: float) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
    """Each actor's clock offset (and its bound), then each actor started on the driver's origin; a
    worker lost before the first level is a broken run (HarnessError), not a measurement."""
    exceptions = importlib.import_module("ray.exceptions")
    clocks = []
    try:
        for actor in actors:

            def ask(actor: Any = actor) -> float:
                return float(ray.get(actor.clock.remote(), timeout=_START_TIMEOUT_S))

            offset, bound = measure_clock(ask)
            clocks.append({"clock_offset_s": offset, "clock_offset_bound_s": bound})
        starts = [a.start.remote(origin + c["clock_offset_s"]) for a, c in zip(actors, clocks, strict=True)]
        return clocks, list(ray.get(starts, timeout=_START_TIMEOUT_S))
    except (exceptions.RayError, TimeoutError) as exc:
        raise HarnessError(f"a Ray worker was lost before the run started: {type(exc).__name__}") from None


def _collect(ray: Any, actors: list[Any], refs: list[Any], timeout_s: float) -> Collected:
    """Every actor's outcome of the level, or why it has none: its actor or node lost, or no answer
    before the level's deadline (then it is killed)."""
    exceptions = importlib.import_module("ray.exceptions")
    ready, _ = ray.wait(list(refs), num_returns=len(refs), timeout=timeout_s)
    done = set(ready)
    outcomes: dict[int, LevelOutcome] = {}
    problems: list[str] = []
    sources: set[str] = set()
    exhausted: str | None = None
    for i, ref in enumerate(refs):
        if ref not in done:
            problems.append(f"worker {i} gave no answer within the level's deadline")
            ray.kill(actors[i], no_restart=True)
            continue
        try:
            outcome, seen, spent = ray.get(ref)
        except (exceptions.RayActorError, exceptions.RayTaskError) as exc:
            problems.append(f"worker {i} died ({type(exc).__name__}: its actor or node was lost)")
            continue
        outcomes[i] = outcome
        sources.update(seen)
        exhausted = exhausted or spent
    return outcomes, problems, sources, exhausted
