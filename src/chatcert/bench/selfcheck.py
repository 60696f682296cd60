"""Is the client itself the bottleneck? Judged by what it did to the figures wherever that is measured.

Where the target stamps its chunks (chatcert's mock), the client's effect is measured directly: the
client lag (arrival stamp - the mock's send stamp) and the TTFT error (the client's TTFT - the mock's)
say by how much the client delayed what it reports. A level is client-limited when either p99 passes
2 ms, whatever the CPU or loop lag were: a busy loop that delayed nothing distorted nothing.

Elsewhere there is no ground truth, so the causes are judged: a dispatch delay (sent - scheduled,
less any wait for a free slot under a concurrency cap) past 10 ms at p95 means the offered load was
not the one asked for; CPU past 70% of the client's one core means reads queue before they are
stamped. Event-loop lag delays arrival stamps only when the loop stamps them; with kernel stamps
(SO_TIMESTAMPNS) it shows up as dispatch delay instead, so it is judged (past 5 ms at p99) only for
loop stamps. Every figure is recorded either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chatcert.bench.metrics import percentile

__all__ = ["ClientLimits", "assess"]


@dataclass(frozen=True)
class ClientLimits:
    cpu_fraction: float = 0.70
    loop_lag_p99_ms: float = 5.0
    dispatch_delay_p95_ms: float = 10.0
    client_lag_p99_ms: float = 2.0
    ttft_error_p99_ms: float = 2.0


def assess(
    cpu_s: float,
    wall_s: float,
    loop_lag_ms: Sequence[float],
    dispatch_delay_ms: Sequence[float],
    reads: int,
    limits: ClientLimits | None = None,
    *,
    client_lag_ms: Sequence[float] = (),
    ttft_error_ms: Sequence[float] = (),
    loop_stamps: bool = True,
) -> dict[str, Any]:
    """The client's figures for one level and whether they pass `limits`, with the reasons.

    `client_lag_ms`/`ttft_error_ms`: measured against the target's own stamps (empty when it has none);
    `loop_stamps`: whether the event loop (not the kernel) stamped arrivals.
    """
    limits = limits or ClientLimits()
    cpu_fraction = cpu_s / wall_s if wall_s > 0 else 0.0
    lag_p99 = percentile(sorted(loop_lag_ms), 99) if loop_lag_ms else 0.0
    dispatch_p95 = percentile(sorted(dispatch_delay_ms), 95) if dispatch_delay_ms else 0.0
    measured = bool(client_lag_ms or ttft_error_ms)
    client_lag_p99 = percentile(sorted(client_lag_ms), 99) if client_lag_ms else None
    ttft_error_p99 = percentile(sorted(abs(x) for x in ttft_error_ms), 99) if ttft_error_ms else None
    reasons = []
    if dispatch_p95 > limits.dispatch_delay_p95_ms:
        reasons.append(f"dispatch delay p95 {dispatch_p95:.2f} ms > {limits.dispatch_delay_p95_ms:g} ms")
    if measured:
        if client_lag_p99 is not None and client_lag_p99 > limits.client_lag_p99_ms:
            reasons.append(
                f"measured client lag p99 {client_lag_p99:.2f} ms > {limits.client_lag_p99_ms:g} ms"
            )
        if ttft_error_p99 is not None and ttft_error_p99 > limits.ttft_error_p99_ms:
            reasons.append(f"TTFT error p99 {ttft_error_p99:.2f} ms > {limits.ttft_error_p99_ms:g} ms")
    else:
        if cpu_fraction > limits.cpu_fraction:
            reasons.append(
                f"client CPU {cpu_fraction:.0%} of its one-core budget > {limits.cpu_fraction:.0%}"
            )
        if loop_stamps and lag_p99 > limits.loop_lag_p99_ms:
            reasons.append(f"event-loop lag p99 {lag_p99:.2f} ms > {limits.loop_lag_p99_ms:g} ms")
    return {
        "cpu_s": round(cpu_s, 4),
        "cpu_fraction": round(cpu_fraction, 4),
        "cpu_us_per_read": round(cpu_s / reads * 1e6, 2) if reads else None,
        "reads": reads,
        "loop_lag_p99_ms": round(lag_p99, 4),
        "dispatch_delay_p95_ms": round(dispatch_p95, 4),
        "client_lag_p99_ms": None if client_lag_p99 is None else round(client_lag_p99, 4),
        "ttft_error_p99_ms": None if ttft_error_p99 is None else round(ttft_error_p99, 4),
        # "measured effect" where the target stamps its chunks, else "judged causes" (see the module).
        "judged_by": "measured effect" if measured else "judged causes",
        "client_limited": bool(reasons),
        "reasons": reasons,
        "limits": {
            "cpu_fraction": limits.cpu_fraction,
            "loop_lag_p99_ms": limits.loop_lag_p99_ms,
            "dispatch_delay_p95_ms": limits.dispatch_delay_p95_ms,
            "client_lag_p99_ms": limits.client_lag_p99_ms,
            "ttft_error_p99_ms": limits.ttft_error_p99_ms,
        },
    }
