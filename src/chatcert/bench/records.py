"""Run records (`harness/bench-run` JSON) and the history of saved runs under `.chatcert/bench/`.

A record holds, per level, the summaries under documented keys (`ttft_ms.p95`, `itl_ms.p99`,
`request_throughput_rps` ...; every duration in milliseconds, rates per second) and the client's own
figures (`client.client_limited` and why). The history keeps one plain JSON file per saved name,
without the per-request samples, so CI can keep the folder as an artifact and diff it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chatcert import __version__
from chatcert._json import parse_json
from chatcert._schemas import schema_errors
from chatcert.bench.metrics import FORMULAS, Sample, steady_window, summarize
from chatcert.bench.scheduler import LevelOutcome
from chatcert.bench.selfcheck import ClientLimits, assess
from chatcert.errors import HarnessError, UsageError

__all__ = [
    "FORMAT",
    "HISTORY_DIR",
    "SCHEMA_ID",
    "check_name",
    "history_dir",
    "level_record",
    "load_saved",
    "machine_info",
    "run_record",
    "save_run",
    "saved_runs",
]

SCHEMA_ID = "tag:chatcert,2026:harness/bench-run"
FORMAT = 1
HISTORY_DIR = Path(".chatcert") / "bench"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def history_dir(path: str | Path | None = None) -> Path:
    """`path`, else $CHATCERT_BENCH_DIR, else `.chatcert/bench` under the working directory."""
    return Path(path or os.environ.get("CHATCERT_BENCH_DIR") or HISTORY_DIR)


def machine_info() -> dict[str, Any]:
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    cpus = os.cpu_count() or 1
    return {
        "host": socket.gethostname(),
        "cpus": cpus,
        "loadavg": [round(x, 2) for x in load] if load else None,
        "load_per_cpu": round(load[0] / cpus, 2) if load else None,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def level_record(
    outcome: LevelOutcome, limits: ClientLimits | None = None, *, loop_stamps: bool = True
) -> dict[str, Any]:
    """Summaries, steady-state throughput and the client's health for one level.

    `loop_stamps`: the event loop stamped arrivals (no kernel stamps), so its lag delayed them."""
    spec = outcome.spec
    measured = [s for s in outcome.samples if not s.warmup]
    good = [s for s in measured if s.ok]
    window = steady_window(outcome.samples)
    sources = sorted({s.tokens_source for s in good})
    metrics = {
        "ttft_ms": summarize(s.ttft_ms for s in good if s.ttft_ms is not None),
        "itl_ms": summarize(g for s in good for g in s.itl_ms),
        "tpot_ms": summarize(s.tpot_ms for s in good if s.tpot_ms is not None),
        "e2e_ms": summarize(s.e2e_ms for s in good if s.e2e_ms is not None),
        "output_tps": summarize(s.output_tps for s in good if s.output_tps is not None),
        "ttft_scheduled_ms": summarize(s.ttft_scheduled_ms for s in good if s.ttft_scheduled_ms is not None),
        "client_lag_ms": summarize(g for s in measured for g in s.client_lag_ms),
        "ttft_error_ms": summarize(s.ttft_error_ms for s in good if s.ttft_error_ms is not None),
        "dispatch_delay_ms": summarize(s.dispatch_delay_ms for s in measured),
        "loop_lag_ms": summarize(outcome.loop_lag_ms),
    }
    own_delay = [s.dispatch_delay_ms - s.queued_ms for s in measured]
    client = assess(
        outcome.cpu_s,
        outcome.wall_s,
        outcome.loop_lag_ms,
        own_delay,
        outcome.reads,
        limits,
        client_lag_ms=[g for s in measured for g in s.client_lag_ms],
        ttft_error_ms=[s.ttft_error_ms for s in good if s.ttft_error_ms is not None],
        loop_stamps=loop_stamps,
    )
    client["gc"] = outcome.gc
    errors: dict[str, int] = {}
    for s in measured:
        if not s.ok:
            key = (s.error or "failed")[:120]
            errors[key] = errors.get(key, 0) + 1
    return {
        "label": spec.label,
        "mode": "rate" if spec.rate is not None else "concurrency",
        "concurrency": spec.concurrency,
        "rate": spec.rate,
        "requests": len(measured),
        "ok": len(good),
        "failed": len(measured) - len(good),
        "errors": errors,
        "warmup": sum(1 for s in outcome.samples if s.warmup),
        "ramp_s": spec.ramp_s,
        "stopped": outcome.stopped,
        "wall_s": round(outcome.wall_s, 4),
        "window": {
            "kind": window.kind,
            "start_s": round(window.start_s, 6),
            "end_s": round(window.end_s, 6),
            "length_s": round(window.length_s, 6),
            "completed": window.completed,
        },
        "request_throughput_rps": _round(window.request_rps),
        "output_throughput_tps": _round(window.output_tps),
        "tokens_source": "+".join(sources) if sources else None,
        "metrics": metrics,
        "client": client,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_record(
    levels: Sequence[dict[str, Any]],
    samples: Sequence[Sample],
    *,
    target: dict[str, Any],
    settings: dict[str, Any],
    machine: dict[str, Any],
    budget: dict[str, Any],
    name: str | None = None,
) -> dict[str, Any]:
    """The whole run as one JSON document (schema `harness/bench-run`)."""
    return {
        "schema": SCHEMA_ID,
        "format": FORMAT,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "chatcert_version": __version__,
        "target": target,
        "settings": settings,
        "machine": machine,
        "budget": budget,
        "formulas": dict(FORMULAS),
        "client_limited": any(level["client"]["client_limited"] for level in levels),
        "levels": list(levels),
        "samples_kept": _kept_note(samples, kept := keep_samples(samples)),
        "samples": [s.to_json() for s in kept],
    }


# Per-request records kept per level in bench.json. The level summaries are computed from every
# request first, so they stay exact; the records (each with its ITL gaps) are what made a 60 s run at
# 256 streams a 56 MB file written in 17 s. 2,000 evenly spread requests per level draw the same
# distributions and keep the file to a few MB.
SAMPLES_PER_LEVEL = 2000


def keep_samples(samples: Sequence[Sample], per_level: int = SAMPLES_PER_LEVEL) -> list[Sample]:
    """Every failed and warm-up request, and up to `per_level` successful ones per level, evenly spread."""
    by_level: dict[str, list[Sample]] = {}
    for s in samples:
        if s.ok and not s.warmup:
            by_level.setdefault(s.level, []).append(s)
    chosen = {id(s) for s in samples if not s.ok or s.warmup}
    for group in by_level.values():
        step = max(len(group) / per_level, 1.0)
        chosen.update(id(group[int(i * step)]) for i in range(min(per_level, len(group))))
    return [s for s in samples if id(s) in chosen]


def _kept_note(samples: Sequence[Sample], kept: Sequence[Sample]) -> dict[str, Any]:
    return {
        "kept": len(kept),
        "total": len(samples),
        "rule": f"every failed and warm-up request and at most {SAMPLES_PER_LEVEL} successful ones per "
        "level, evenly spread; the level summaries are computed from every request",
    }


def check_record(record: dict[str, Any]) -> None:
    """Raise HarnessError when a record we produced breaks its own schema."""
    errors = schema_errors("harness/bench-run", record, limit=3)
    if errors:
        raise HarnessError(f"bench record breaks its schema: {'; '.join(errors)}")


def check_name(name: str) -> str:
    """`name` when it is a valid saved-run name (it becomes a file name), else UsageError."""
    if not _NAME.match(name):
        raise UsageError(f"run name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    return name


def save_run(record: dict[str, Any], name: str, directory: str | Path | None = None) -> Path:
    """Write `record` (without samples) as `<history>/<name>.json`; returns the path."""
    path = history_dir(directory) / f"{check_name(name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {k: v for k, v in record.items() if k != "samples"}
    kept["name"] = name
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(kept, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_saved(name: str, directory: str | Path | None = None) -> dict[str, Any]:
    """A saved run by name (or a path to a record file). Missing or unusable -> UsageError."""
    candidate = Path(name)
    path = candidate if candidate.suffix == ".json" and candidate.is_file() else None
    if path is None:
        path = history_dir(directory) / f"{check_name(name)}.json"
    if not path.is_file():
        known = ", ".join(r.get("name") or "?" for r in saved_runs(directory)) or "none"
        raise UsageError(f"no saved bench run {name!r} in {path.parent} (saved: {known})")
    record, problem = _read_record(path)
    if record is None:
        raise UsageError(f"saved run {str(path)!r} is not a usable bench record: {problem}")
    return record


def _read_record(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The record in `path`, or None and why not (one line), whatever the file holds."""
    try:
        record = parse_json(path.read_text(encoding="utf-8"))  # too deep: ValueError, not RecursionError
        errors = (
            schema_errors("harness/bench-run", record, limit=1)
            if isinstance(record, dict)
            else ["not a mapping"]
        )
    except (OSError, ValueError) as exc:  # ValueError: also UnicodeDecodeError, too many int digits
        return None, " ".join(str(exc).split())[:200]
    except RecursionError:  # nesting json.loads can just parse may still overflow the schema check
        return None, "JSON nests too deeply to check"
    if errors:
        return None, errors[0]
    return dict(record), ""


def saved_runs(
    directory: str | Path | None = None, warn: Callable[[str], None] | None = None
) -> list[dict[str, Any]]:
    """Every usable saved record in the history, oldest first.

    A file that is unreadable, malformed or not a bench record is skipped (one bad file must not break
    every later run) and, when `warn` is given, reported to it in one line.
    """
    folder = history_dir(directory)
    runs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        record, problem = _read_record(path)
        if record is None:
            if warn is not None:
                warn(f"skipped history file {str(path)!r}: {problem}")
            continue
        runs.append(record)
    runs.sort(key=lambda r: str(r.get("created", "")))
    return runs
