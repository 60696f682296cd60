"""Accuracy: chatcert's measurements against the mock's ground truth, beside aiohttp and sharded httpx.

The mock (own process, first core) streams with TTFT 50 ms, ITL 10 ms, 32 chunks, no jitter and stamps
every chunk with its send time; the clients (this process, second core) run 1, 64 and 256 streams.
chatcert stamps arrivals with the kernel's receive time (SO_TIMESTAMPNS); chatcert-loop is the same
client with event-loop stamps, as every other client takes them. Printed per client and level:
steady-state req/s (ideal: streams / 0.36 s), TTFT p50/p99 minus the nominal 50 ms, TTFT error
against the mock's stamps (measured - stamp of that chunk + request sent), client-added lag per chunk
(arrival - x_mock_sent_at), client CPU and event-loop lag. Then the goals of issue 6 for chatcert:
met or missed, with the machine's load beside them.

Each level runs `--rounds` times (default 3; clients in alternating order) and every figure printed
and judged is the median over the rounds: on a shared VM one run moves by 10-20%.

    python benchmarks/bench_accuracy.py [--quick] [--rounds N]
        [--clients chatcert,chatcert-loop,aiohttp,httpx-sharded]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from typing import Any

from _clients import default_loop, load_line, measure, realtime, server_for

TRUTH_TTFT_MS = 50.0
NOMINAL_S = 0.36  # one request: TTFT 50 ms + 31 gaps of 10 ms
LEVELS = {1: 40, 64: 640, 256: 2560}  # requests per level: ~14 s at 1 stream, ~3.6 s at 64 and 256
QUICK = {1: 15, 64: 192, 256: 768}


def _f(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _row(r: dict[str, Any]) -> str:
    return (
        f"{r['client']:>14} {r['streams']:>5} {r['requests']:>6} {r['failed']:>4} {_f(r['rps']):>7} "
        f"{_f(r.get('err_nominal_p50'), 2):>9} {_f(r.get('err_nominal_p99'), 2):>9} "
        f"{_f(r['err_truth_p50'], 2):>9} {_f(r['err_truth_p99'], 2):>9} {_f(r['lag_p50'], 2):>8} "
        f"{_f(r['lag_p99'], 2):>8} {r['cpu_fraction']:>5.0%} {_f(r['cpu_us_per_read']):>7} "
        f"{_f(r['loop_lag_p99'], 2):>8}"
    )


def _median_row(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Every numeric figure's median over the rounds (requests and failures are summed)."""
    out = dict(rounds[0])
    for key, value in rounds[0].items():
        if key in ("requests", "failed"):
            out[key] = sum(r[key] for r in rounds)
        elif isinstance(value, (int, float)) and key != "streams":
            values = [r[key] for r in rounds if r.get(key) is not None]
            out[key] = statistics.median(values) if values else None
    return out


def goals(rows: list[dict[str, Any]], client: str = "chatcert") -> list[tuple[str, bool, str]]:
    """Issue 6's bounds for one of chatcert's clients: (goal, met, measured).

    TTFT error is judged against the mock's stamps (what the client added); the error against the
    nominal 50 ms, which also holds the mock's own request handling, is printed beside it.
    """
    mine = {r["streams"]: r for r in rows if r["client"] == client}
    out = []

    def add(
        name: str, value: float | None, bound: float, above: bool = False, beside: float | None = None
    ) -> None:
        met = value is not None and (value >= bound if above else value <= bound)
        extra = f" (vs nominal 50 ms: {_f(beside, 2)})" if beside is not None else ""
        out.append((name, met, _f(value, 2) + extra))

    if 1 in mine:
        r = mine[1]
        add("1 stream: TTFT median error <= 0.6 ms", r["err_truth_p50"], 0.6, beside=r.get("err_nominal_p50"))
        add("1 stream: TTFT p99 error <= 1 ms", r["err_truth_p99"], 1.0, beside=r.get("err_nominal_p99"))
    if 64 in mine:
        r = mine[64]
        add("64 streams: TTFT median error <= 1 ms", r["err_truth_p50"], 1.0, beside=r.get("err_nominal_p50"))
        add("64 streams: TTFT p99 error <= 55 ms", r["err_truth_p99"], 55.0, beside=r.get("err_nominal_p99"))
    if 256 in mine:
        r = mine[256]
        add("256 streams: >= 700 req/s", r["rps"], 700.0, above=True)
        add(
            "256 streams: TTFT median error <= 2 ms", r["err_truth_p50"], 2.0, beside=r.get("err_nominal_p50")
        )
        add("256 streams: client-added lag p99 <= 5 ms", r["lag_p99"], 5.0)
        add("256 streams: CPU per arriving chunk <= 30 us", r["cpu_us_per_read"], 30.0)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests per level, one round")
    parser.add_argument(
        "--rounds", type=int, help="runs per client and level, judged on medians [default: 3]"
    )
    parser.add_argument("--clients", default="chatcert,chatcert-loop,aiohttp,httpx-sharded")
    parser.add_argument("--streams", default="1,64,256")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default=default_loop(), help="event loop of every client"
    )
    parser.add_argument(
        "--realtime", action="store_true", help="SCHED_FIFO for client and server (root; shared machines)"
    )
    parser.add_argument(
        "--ramp-up",
        type=float,
        default=NOMINAL_S,
        metavar="S",
        help="every client starts its workers evenly over S seconds [default: one nominal request, 0.36]; "
        "0 starts them in lockstep, which this deterministic mock then keeps",
    )
    args = parser.parse_args()
    sched = realtime(args.realtime)
    plan = QUICK if args.quick else LEVELS
    streams = [int(s) for s in args.streams.split(",")]
    print(
        f"accuracy benchmark: truth TTFT 50 ms, ITL 10 ms, 32 chunks; workers ramped over "
        f"{args.ramp_up:g} s; {args.loop} loop; {sched}; {load_line()}"
    )
    print(
        f"{'client':>14} {'strm':>5} {'reqs':>6} {'fail':>4} {'req/s':>7} {'TTFT-50':>9} {'p99-50':>9} "
        f"{'err p50':>9} {'err p99':>9} {'lag p50':>8} {'lag p99':>8} {'cpu':>5} {'us/read':>7} "
        f"{'loop p99':>8}"
    )
    rounds = max(1, args.rounds or (1 if args.quick else 3))
    clients = args.clients.split(",")
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with server_for("mock") as server:
        url = server.url + "/v1/chat/completions"
        for c in streams:
            for r in range(rounds):
                for client in clients if r % 2 == 0 else clients[::-1]:
                    base = server.url if client.startswith("chatcert") else url
                    row = measure(client, base, c, plan.get(c, 4 * c), TRUTH_TTFT_MS, args.loop, args.ramp_up)
                    runs.setdefault((client, c), []).append(row)
                    if rounds > 1:
                        print(f"  round {r + 1}/{rounds}: {_row(row)}", flush=True)
    rows = [_median_row(runs[(client, c)]) for c in streams for client in clients]
    if rounds > 1:
        print(f"medians of {rounds} rounds:")
    for row in rows:
        print(_row(row))
    print("ms throughout; TTFT-50 = measured TTFT minus the nominal 50 ms (includes the mock's own")
    print("request handling); err = measured TTFT minus the mock's send stamp of that chunk since the")
    print("request was sent (what the client added); lag = arrival - x_mock_sent_at per chunk.")
    for client in ("chatcert", "chatcert-loop"):
        if not any(r["client"] == client for r in rows):
            continue
        stamps = "kernel arrival stamps" if client == "chatcert" else "event-loop stamps"
        print(f"goals (issue 6), {client} client ({stamps}); {load_line()}:")
        for name, met, value in goals(rows, client):
            print(f"  {'MET ' if met else 'MISS'} {name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
