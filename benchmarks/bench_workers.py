"""Workers: what `chatcert bench --workers N` sustains against the instant server, and per-worker capacity.

The instant server (benchmarks/instant_server.py, own process, pinned to the first core) answers every
request with the same 32-chunk SSE stream in one write, so the client is the bottleneck. The run goes
through the library as the CLI does (`run_bench_workers`), with 1 and 2 worker processes pinned to
the cores the server does not use. On a 2-core machine that is one core: two workers share it, so the
second worker adds processes, not capacity; on a machine with more cores each worker gets its own.
Printed per worker count (median of `--rounds` rounds): steady req/s, chunks/s (34 SSE events per
request: role, 32 content chunks, usage), and per worker its requests, CPU fraction and CPU per
socket read.

    python benchmarks/bench_workers.py [--streams 256] [--requests 6000] [--rounds 3] [--workers 1,2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from typing import Any

from _clients import InstantServer

from chatcert.bench.payloads import load_payloads
from chatcert.bench.runner import BenchConfig
from chatcert.bench.scheduler import LevelSpec
from chatcert.bench.workers import WorkerPlan, run_bench_workers, worker_cores

EVENTS_PER_REQUEST = 34


def _one(url: str, workers: int, streams: int, requests: int, cores: list[int]) -> dict[str, Any]:
    config = BenchConfig(
        base_url=url,
        model="default",
        levels=[LevelSpec(streams, None, requests, None, streams)],
        payloads=load_payloads("text"),
        kernel_stamps=True,
    )
    record = run_bench_workers(config, WorkerPlan(workers, tuple(cores)))
    level = record["levels"][0]
    rows = [
        {
            "worker": w["worker"],
            "core": w.get("core"),
            "requests": w["requests"],
            "cpu_fraction": (w["client"] or {}).get("cpu_fraction"),
            "cpu_us_per_read": (w["client"] or {}).get("cpu_us_per_read"),
        }
        for w in level["workers"]
    ]
    return {"rps": level["request_throughput_rps"] or 0.0, "failed": level["failed"], "workers": rows}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=256)
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    with InstantServer() as server:
        reserved = sorted(os.sched_getaffinity(server._proc.pid)) if server._proc else []
        cores = worker_cores(reserved if len(reserved) == 1 else [])
        print(
            f"instant server on core(s) {reserved}; workers pinned round robin to {cores}; "
            f"{args.streams} streams, {args.requests} requests per level, {args.rounds} round(s)"
        )
        for workers in counts:
            runs = [_one(server.url, workers, args.streams, args.requests, cores) for _ in range(args.rounds)]
            rps = statistics.median(r["rps"] for r in runs)
            each = ", ".join(f"{r['rps']:.0f}" for r in runs)
            failed = sum(r["failed"] for r in runs)
            print(
                f"workers={workers}: {rps:7.1f} req/s  {rps * EVENTS_PER_REQUEST:8.0f} chunks/s  "
                f"(rounds: {each}; failed {failed})"
            )
            middle = sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]
            for row in middle["workers"]:
                cpu = row["cpu_fraction"]
                per_read = row["cpu_us_per_read"]
                print(
                    f"    worker {row['worker']} core {row['core']}: {row['requests']} requests, "
                    f"cpu {cpu if cpu is None else f'{cpu:.0%}'}, "
                    f"{'-' if per_read is None else f'{per_read:.1f}'} us CPU per read"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
