"""Throughput: requests/s chatcert's client sustains against an instant server, beside aiohttp's.

The instant server (benchmarks/instant_server.py, own process, first core) answers every request with
the same 32-chunk SSE stream in one write, so the client (this process, second core) is the
bottleneck. Streams rise from 1 to 1,024; a client should not lose req/s as they rise. Also printed:
client CPU per request. Goals of issue 6: >= 1,500 req/s (aiohttp reaches about 4,000 on a quiet
machine) and no fall from 1 to 1,024 streams.

    python benchmarks/bench_throughput.py [--quick] [--clients chatcert,aiohttp]
"""

from __future__ import annotations

import argparse
import sys
from itertools import pairwise
from typing import Any

from _clients import default_loop, load_line, measure, realtime, server_for

STREAMS = (1, 16, 64, 256, 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests per level")
    parser.add_argument("--clients", default="chatcert,aiohttp")
    parser.add_argument(
        "--loop", choices=("asyncio", "uvloop"), default=default_loop(), help="event loop of every client"
    )
    parser.add_argument(
        "--realtime", action="store_true", help="SCHED_FIFO for client and server (root; shared machines)"
    )
    args = parser.parse_args()
    sched = realtime(args.realtime)
    print(
        f"throughput benchmark: instant server, 32 chunks per response; {args.loop} loop; {sched}; "
        f"{load_line()}"
    )
    print(f"{'client':>14} {'streams':>8} {'requests':>9} {'fail':>5} {'req/s':>8} {'cpu':>5} {'us/req':>8}")
    rows: list[dict[str, Any]] = []
    with server_for("instant") as server:
        for c in STREAMS:
            n = max(c * 2, 1500 if args.quick else 5000)
            for client in args.clients.split(","):
                base = server.url if client == "chatcert" else server.url + "/v1/chat/completions"
                row = measure(client, base, c, n, None, args.loop)
                rows.append(row)
                per_req = row["cpu_fraction"] / row["rps"] * 1e6 if row["rps"] else None
                print(
                    f"{client:>14} {c:>8} {row['requests']:>9} {row['failed']:>5} {row['rps'] or 0:>8.0f} "
                    f"{row['cpu_fraction']:>5.0%} {per_req or 0:>8.0f}",
                    flush=True,
                )
    mine = [r for r in rows if r["client"] == "chatcert" and r["rps"]]
    print(f"goals (issue 6), chatcert client; {load_line()}:")
    if mine:
        best = max(r["rps"] for r in mine)
        first, last = mine[0]["rps"], mine[-1]["rps"]
        print(f"  {'MET ' if best >= 1500 else 'MISS'} >= 1,500 req/s against an instant server: {best:.0f}")
        # 1 stream is bound by the round trip, so "no fall" means no level below 90% of the one before.
        kept = all(b["rps"] >= 0.9 * a["rps"] for a, b in pairwise(mine))
        print(
            f"  {'MET ' if kept else 'MISS'} no fall in req/s as streams rise (each level >= 90% of the one "
            f"before): 1 stream {first:.0f}, peak {best:.0f}, "
            f"1,024 streams {last:.0f} ({last / best:.0%} of peak)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
