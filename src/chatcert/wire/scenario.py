"""The scenario grammar: how a request asks chatcert's mock for timing, a status or a fault.

`X-Mock-Scenario: ttft_ms=50;itl_ms=10;chunks=32` is read by the mock and written by chatcert's bench
(and the fault probes); one grammar here keeps the two sides agreeing. Which faults exist is the mock's
business: this layer checks only the shape and the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = [
    "COUNT_KEYS",
    "MS_KEYS",
    "SCENARIO_HEADER",
    "SCENARIO_KEYS",
    "ScenarioError",
    "count",
    "format_header",
    "milliseconds",
    "split_header",
]

SCENARIO_HEADER = "X-Mock-Scenario"
MS_KEYS = ("ttft_ms", "itl_ms", "jitter_ms", "delay_ms", "stall_ms")
COUNT_KEYS = ("chunks", "status", "retry_after")
SCENARIO_KEYS = (*MS_KEYS, *COUNT_KEYS, "fault")


class ScenarioError(ValueError):
    """A scenario header or file that cannot be used; the message says why."""


def split_header(text: str) -> dict[str, str]:
    """`key=value;key=value` -> a mapping of strings (blank segments and spaces are ignored)."""
    values: dict[str, str] = {}
    for segment in text.split(";"):
        if not segment.strip():
            continue
        key, sep, value = segment.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise ScenarioError(f"scenario segment {segment.strip()!r} is not key=value")
        if key in values:
            raise ScenarioError(f"scenario key {key!r} given twice")
        values[key] = value
    return values


def format_header(values: Mapping[str, float | int | str]) -> str:
    """The header value for `values` (numbers without trailing zeros)."""
    return ";".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items())


def milliseconds(key: str, value: object) -> float:
    """A non-negative, finite number of milliseconds."""
    try:
        number = float(value) if not isinstance(value, bool) else float("nan")  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = float("nan")
    if not number >= 0 or number == float("inf"):  # also rejects NaN
        raise ScenarioError(f"{key}={value!r} must be a non-negative number of milliseconds")
    return number


def count(key: str, value: object) -> int:
    """A non-negative integer (a float with a fraction is refused, not rounded)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ScenarioError(f"{key}={value!r} must be a non-negative integer")
    try:
        number: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        raise ScenarioError(f"{key}={value!r} must be a non-negative integer") from None
    if number < 0:
        raise ScenarioError(f"{key}={value!r} must be a non-negative integer")
    return number
