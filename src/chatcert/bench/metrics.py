"""Latency metrics, each with its formula, and their summaries (p50/p90/p95/p99, mean, stdev).

Per request (times from the request's `sent` stamp: headers and body handed to the socket):
  TTFT  = arrival of the first event whose delta has non-empty content - sent (a role-only first
          chunk does not count). Non-stream: the whole body, so TTFT = E2E.
  ITL   = every gap between consecutive token-bearing events, pooled over all requests (vLLM's ITL).
  TPOT  = (E2E - TTFT) / (output_tokens - 1), for output_tokens >= 2 (GuideLLM's and AIPerf's "ITL").
  E2E   = arrival of the last byte - sent.
  output tokens = usage.completion_tokens when the server sends usage, else token-bearing events
          counted (`tokens_source` says which); per-request tokens/s = output_tokens / E2E.
Per level (steady-state window: first measured send .. last send, so warm-up and drain are out):
  request throughput = requests whose whole life (sent .. last byte) lies inside the window / its length;
  output throughput  = their output tokens / window length.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FORMULAS",
    "SUMMARY_KEYS",
    "Sample",
    "Window",
    "percentile",
    "steady_window",
    "summarize",
]

SUMMARY_KEYS = ("count", "p50", "p90", "p95", "p99", "mean", "stdev", "min", "max")

FORMULAS = {
    "ttft_ms": "first non-empty content delta arrival - request sent (role-only chunks do not count); "
    "non-stream: = e2e_ms",
    "itl_ms": "every gap between consecutive token-bearing deltas, pooled over requests (vLLM ITL)",
    "tpot_ms": "(e2e - ttft) / (output_tokens - 1), per request with >= 2 tokens (GuideLLM/AIPerf ITL)",
    "e2e_ms": "last byte arrival - request sent",
    "output_tps": "output_tokens / e2e per request; tokens from usage.completion_tokens, else counted deltas",
    "ttft_scheduled_ms": "first content delta arrival - scheduled send time (includes dispatch delay; "
    "the open-loop latency without coordinated omission)",
    "client_lag_ms": "client arrival stamp (wall clock) - the mock's x_mock_sent_at, per stamped chunk",
    "ttft_error_ms": "ttft_ms - (the mock's x_mock_sent_at of that delta - request sent): what the "
    "client added to TTFT, against the mock's ground truth (mock targets only)",
    "dispatch_delay_ms": "request sent - scheduled send time",
    "loop_lag_ms": "event-loop timer lateness sampled every 5 ms during the level",
    "request_throughput_rps": "requests sent and completed inside the steady window / window length",
    "output_throughput_tps": "output tokens of those requests / window length",
}


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) of already sorted values; q in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    rank = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(sorted_values) - 1)
    frac = rank - low
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * frac)


def summarize(values: Iterable[float]) -> dict[str, float | int | None]:
    """count, p50/p90/p95/p99, mean, stdev (sample; 0 for one value), min, max; None when empty."""
    data = sorted(v for v in values if v is not None and math.isfinite(v))
    if not data:
        return {key: (0 if key == "count" else None) for key in SUMMARY_KEYS}
    return {
        "count": len(data),
        "p50": _r(percentile(data, 50)),
        "p90": _r(percentile(data, 90)),
        "p95": _r(percentile(data, 95)),
        "p99": _r(percentile(data, 99)),
        "mean": _r(statistics.fmean(data)),
        "stdev": _r(statistics.stdev(data) if len(data) > 1 else 0.0),
        "min": _r(data[0]),
        "max": _r(data[-1]),
    }


def _r(value: float) -> float:
    return round(value, 4)


@dataclass
class Sample:
    """One request. Stamps are seconds from the run's origin; durations are milliseconds.

    `drivers` holds what drives the numbers: payload_class, max_tokens, temperature, cache_prompt,
    stream, concurrency, rate, host, chatcert_version.
    """

    index: int
    level: str
    warmup: bool
    scheduled_s: float
    built_s: float
    sent_s: float
    end_s: float
    ok: bool
    status: int = 0
    error: str | None = None
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    itl_ms: list[float] = field(default_factory=list)
    output_tokens: int = 0
    tokens_source: str = "chunks"
    reads: int = 0
    queued_ms: float = 0.0
    ttft_error_ms: float | None = None
    client_lag_ms: list[float] = field(default_factory=list)
    drivers: dict[str, Any] = field(default_factory=dict)

    @property
    def tpot_ms(self) -> float | None:
        """(E2E - TTFT) / (tokens - 1); None below two tokens or without a TTFT."""
        if self.ttft_ms is None or self.e2e_ms is None or self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)

    @property
    def output_tps(self) -> float | None:
        if not self.e2e_ms or self.output_tokens <= 0:
            return None
        return self.output_tokens / (self.e2e_ms / 1000.0)

    @property
    def dispatch_delay_ms(self) -> float:
        return (self.sent_s - self.scheduled_s) * 1000.0

    @property
    def ttft_scheduled_ms(self) -> float | None:
        return None if self.ttft_ms is None else self.ttft_ms + self.dispatch_delay_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "level": self.level,
            "warmup": self.warmup,
            "ok": self.ok,
            "status": self.status,
            "error": self.error,
            "scheduled_s": round(self.scheduled_s, 6),
            "request_built_s": round(self.built_s, 6),
            "headers_sent_s": round(self.sent_s, 6),
            "end_s": round(self.end_s, 6),
            "dispatch_delay_ms": round(self.dispatch_delay_ms, 4),
            "queued_ms": round(self.queued_ms, 4),
            "ttft_ms": _opt(self.ttft_ms),
            "e2e_ms": _opt(self.e2e_ms),
            "tpot_ms": _opt(self.tpot_ms),
            "ttft_error_ms": _opt(self.ttft_error_ms),
            "itl_ms": [round(g, 4) for g in self.itl_ms],
            "output_tokens": self.output_tokens,
            "tokens_source": self.tokens_source,
            "output_tps": _opt(self.output_tps),
            "reads": self.reads,
            "client_lag_ms_max": _opt(max(self.client_lag_ms) if self.client_lag_ms else None),
            "drivers": dict(self.drivers),
        }


def _opt(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


@dataclass(frozen=True)
class Window:
    """The steady-state window of a level and what completed inside it."""

    start_s: float
    end_s: float
    completed: int
    output_tokens: int
    kind: str  # "steady" (first measured send .. last send) or "whole" (too short to tell)

    @property
    def length_s(self) -> float:
        return max(self.end_s - self.start_s, 0.0)

    @property
    def request_rps(self) -> float | None:
        return self.completed / self.length_s if self.length_s > 0 and self.completed else None

    @property
    def output_tps(self) -> float | None:
        return self.output_tokens / self.length_s if self.length_s > 0 and self.completed else None


def steady_window(samples: Sequence[Sample]) -> Window:
    """Throughput window: first measured send to the last send (after it the level only drains).

    Counts the successful requests whose whole life (sent .. last byte) lies inside the window. Counting
    every request that merely *ended* inside it also counts the tail of the opening burst (requests sent
    before the window, all at once when every worker starts together), and that read 2% above what the
    server can deliver. A server with N slots and a service time of S seconds fits at most N * L / S whole
    lives into L seconds, so this count never exceeds its capacity; it reads low by the requests still
    in flight at the window's end (about concurrency / (rate * L): 0.6% at 256 streams over 60 s).
    When the measured sends span less than one request (the median E2E) there is no steady state:
    every measured request went out at once, or there were fewer than workers (256 workers, 30
    measured requests: the 30 sends follow 30 warm-up answers within milliseconds). The window is then
    first send .. last end over the measured requests (`kind` "whole").
    """
    measured = [s for s in samples if not s.warmup and s.ok]
    if not measured:
        return Window(0.0, 0.0, 0, 0, "steady")
    start = min(s.sent_s for s in measured)
    end = max(s.sent_s for s in measured)
    inside = [s for s in samples if s.ok and start <= s.sent_s and s.end_s <= end]
    one_request_s = statistics.median(s.end_s - s.sent_s for s in measured)
    if end - start <= 0 or end - start < one_request_s or not inside:
        end = max(s.end_s for s in measured)
        inside = measured
        return Window(start, end, len(inside), sum(s.output_tokens for s in inside), "whole")
    return Window(start, end, len(inside), sum(s.output_tokens for s in inside), "steady")
