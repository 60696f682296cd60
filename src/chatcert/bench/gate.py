"""The regression gate: `--fail-on p95:+10%` compares a run with a saved baseline, level by level.

A rule is `[METRIC.]STAT:±N%` or `[METRIC.]STAT:±Nms` (absolute, in the metric's unit). Without a
metric the rule is about TTFT: `p95:+10%` means `ttft_ms.p95` may grow by at most 10%. Short metric
names are accepted (`itl.p99:+5%` is `itl_ms.p99`). For throughput (`request_throughput_rps`, alias
`rps`; `output_throughput_tps`, alias `tps`) write the allowed fall with a minus: `rps:-10%`.
A `+` rule trips when the value rose by more than N; a `-` rule when it fell by more than N.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chatcert.bench.metrics import SUMMARY_KEYS
from chatcert.errors import UsageError

__all__ = ["Comparison", "Rule", "caveats", "compare", "parse_rules", "value_of"]

_ALIASES = {
    "ttft": "ttft_ms",
    "itl": "itl_ms",
    "tpot": "tpot_ms",
    "e2e": "e2e_ms",
    "lag": "client_lag_ms",
    "client_lag": "client_lag_ms",
    "dispatch": "dispatch_delay_ms",
    "rps": "request_throughput_rps",
    "throughput": "request_throughput_rps",
    "tps": "output_throughput_tps",
}
_SCALARS = ("request_throughput_rps", "output_throughput_tps")
_STATS = tuple(k for k in SUMMARY_KEYS if k != "count")
_RULE = re.compile(r"^(?P<key>[A-Za-z0-9_.]+):(?P<sign>[+-])(?P<num>\d+(?:\.\d+)?)(?P<unit>%|ms|)$")


@dataclass(frozen=True)
class Rule:
    key: str  # e.g. "ttft_ms.p95" or "request_throughput_rps"
    sign: str  # "+": may rise by at most `amount`; "-": may fall by at most `amount`
    amount: float
    relative: bool
    text: str

    def describe(self) -> str:
        unit = "%" if self.relative else ("" if self.key in _SCALARS else " ms")
        way = "rise" if self.sign == "+" else "fall"
        return f"{self.key} may {way} by at most {self.amount:g}{unit}"


def _rule(text: str) -> Rule:
    match = _RULE.match(text.strip())
    if not match:
        raise UsageError(
            f"--fail-on {text!r}: write [METRIC.]STAT:+N% (e.g. p95:+10%, itl.p99:+5%, rps:-10%)"
        )
    key, sign, amount, unit = match["key"], match["sign"], float(match["num"]), match["unit"]
    head, _, stat = key.rpartition(".")
    if not head:  # a bare stat means TTFT, a bare metric name is a throughput scalar
        if key in _STATS:
            head, stat = "ttft_ms", key
        else:
            head, stat = _ALIASES.get(key, key), ""
    else:
        head = _ALIASES.get(head, head)
    if stat:
        if stat not in _STATS:
            raise UsageError(f"--fail-on {text!r}: unknown statistic {stat!r}; known: {', '.join(_STATS)}")
        full = f"{head}.{stat}"
    else:
        if head not in _SCALARS:
            raise UsageError(f"--fail-on {text!r}: {head!r} needs a statistic, e.g. {head}.p95")
        full = head
    if unit == "ms" and full in _SCALARS:
        raise UsageError(f"--fail-on {text!r}: throughput is per second; use a percentage")
    return Rule(full, sign, amount, unit != "ms" and (unit == "%" or full in _SCALARS), text.strip())


def parse_rules(items: Iterable[str]) -> list[Rule]:
    """Rules from repeated and/or comma-separated `--fail-on` values."""
    return [_rule(part) for item in items for part in item.split(",") if part.strip()]


def value_of(level: dict[str, Any], key: str) -> float | None:
    """`ttft_ms.p95` -> level["metrics"]["ttft_ms"]["p95"]; scalars from the level itself."""
    if key in _SCALARS:
        value = level.get(key)
    else:
        metric, _, stat = key.partition(".")
        value = level.get("metrics", {}).get(metric, {}).get(stat)
    return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Comparison:
    level: str
    rule: Rule
    baseline: float | None
    current: float | None
    change: float | None  # percent when the rule is relative, else the difference
    tripped: bool
    note: str = ""


def _change(rule: Rule, base: float, now: float) -> float | None:
    if rule.relative:
        return None if base == 0 else (now - base) / abs(base) * 100.0
    return now - base


def compare(current: dict[str, Any], baseline: dict[str, Any], rules: Sequence[Rule]) -> list[Comparison]:
    """Judge every rule on every level present in both runs (matched by label)."""
    base_levels = {lvl["label"]: lvl for lvl in baseline.get("levels", [])}
    out = []
    for level in current.get("levels", []):
        base = base_levels.get(level["label"])
        if base is None:
            continue
        for rule in rules:
            before, now = value_of(base, rule.key), value_of(level, rule.key)
            if before is None or now is None:
                out.append(Comparison(level["label"], rule, before, now, None, False, "no value to compare"))
                continue
            change = _change(rule, before, now)
            if change is None:
                out.append(Comparison(level["label"], rule, before, now, None, False, "baseline is 0"))
                continue
            tripped = change > rule.amount if rule.sign == "+" else change < -rule.amount
            out.append(Comparison(level["label"], rule, before, now, change, tripped))
    return out


# What must match for two runs' figures to measure the same thing: (where, key, what it is called).
_SAME = (
    ("target", "scenario", "mock scenario"),
    ("target", "model", "model"),
    ("target", "profile", "profile"),
    ("settings", "payload", "payload"),
    ("settings", "max_tokens", "max_tokens"),
    ("settings", "stream", "streaming"),
)


def caveats(current: dict[str, Any], baseline: dict[str, Any]) -> list[str]:
    """Why a comparison of these two runs may not mean what it says (empty when it does).

    A client-limited run measured the client; a different scenario, model or payload measured
    another workload. The gate still judges, but says so beside its verdict and in bench.json.
    """
    found = []
    for name, run in (("this run", current), ("the baseline", baseline)):
        if run.get("client_limited"):
            found.append(f"{name} was client-limited: its figures measure the client, not the server")
    for where, key, label in _SAME:
        before, now = (baseline.get(where) or {}).get(key), (current.get(where) or {}).get(key)
        if before != now:
            found.append(f"different {label}: baseline {before!r}, this run {now!r}")
    return found
