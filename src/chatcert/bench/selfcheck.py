"""Is the client itself the bottleneck? A level is `client-limited` when any limit below is passed.

The client runs one event loop on one core, so its CPU budget is one core's time: past 70% of it,
reads queue in the kernel before they are stamped. Event-loop lag (timer lateness) past 2 ms at p99
delays stamps by as much; a dispatch delay (sent - scheduled, less any wait for a free slot under a
concurrency cap) past 10 ms at p95 means the offered load was not the one asked for.
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
    loop_lag_p99_ms: float = 2.0
    dispatch_delay_p95_ms: float = 10.0


def assess(
    cpu_s: float,
    wall_s: float,
    loop_lag_ms: Sequence[float],
    dispatch_delay_ms: Sequence[float],
    reads: int,
    limits: ClientLimits | None = None,
) -> dict[str, Any]:
    """The client's figures for one level and whether they pass `limits`, with the reasons."""
    limits = limits or ClientLimits()
    cpu_fraction = cpu_s / wall_s if wall_s > 0 else 0.0
    lag_p99 = percentile(sorted(loop_lag_ms), 99) if loop_lag_ms else 0.0
    dispatch_p95 = percentile(sorted(dispatch_delay_ms), 95) if dispatch_delay_ms else 0.0
    reasons = []
    if cpu_fraction > limits.cpu_fraction:
        reasons.append(f"client CPU {cpu_fraction:.0%} of its one-core budget > {limits.cpu_fraction:.0%}")
    if lag_p99 > limits.loop_lag_p99_ms:
        reasons.append(f"event-loop lag p99 {lag_p99:.2f} ms > {limits.loop_lag_p99_ms:g} ms")
    if dispatch_p95 > limits.dispatch_delay_p95_ms:
        reasons.append(f"dispatch delay p95 {dispatch_p95:.2f} ms > {limits.dispatch_delay_p95_ms:g} ms")
    return {
        "cpu_s": round(cpu_s, 4),
        "cpu_fraction": round(cpu_fraction, 4),
        "cpu_us_per_read": round(cpu_s / reads * 1e6, 2) if reads else None,
        "reads": reads,
        "loop_lag_p99_ms": round(lag_p99, 4),
        "dispatch_delay_p95_ms": round(dispatch_p95, 4),
        "client_limited": bool(reasons),
        "reasons": reasons,
        "limits": {
            "cpu_fraction": limits.cpu_fraction,
            "loop_lag_p99_ms": limits.loop_lag_p99_ms,
            "dispatch_delay_p95_ms": limits.dispatch_delay_p95_ms,
        },
    }
