"""Keep the garbage collector's pauses out of a level's stamps, and report the pauses that remain.

A full (oldest-generation) collection walks every live object, and a level keeps every sample it has
taken: measured on the project's machine, 20,000 kept samples made each full collection a 70-85 ms
stop of the event loop, during which every arriving read waits to be stamped, and the
requests in flight at 1,024 streams survived into the old generation often enough to trigger 14 of
them in 30,000 requests (4 at 16 streams): most of the fall in requests/s between 16 and 1,024
streams. So during a level only the young generations are collected (they catch the short-lived
cycles, at a fraction of a millisecond each); the full collection runs before the level and again
after it, where no stamp is taken. Python 3.14's incremental collector bounds its pauses itself and
ignores the third threshold, so there this changes nothing but the report.
"""

from __future__ import annotations

import gc
from time import perf_counter
from types import TracebackType
from typing import Any

__all__ = ["GcPauses"]

_NEVER = 1 << 30  # a third threshold no level reaches: young collections never escalate to a full one


class GcPauses:
    """Context manager for one level: no full collection inside it; `summary()` of the pauses seen."""

    def __init__(self) -> None:
        self.collections = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self._started = 0.0
        self._thresholds: tuple[int, int, int] | None = None

    def __enter__(self) -> GcPauses:
        gc.collect()  # start the level with nothing pending
        if gc.isenabled():  # a caller that turned the collector off keeps it off
            self._thresholds = gc.get_threshold()
            gc.set_threshold(self._thresholds[0], self._thresholds[1], _NEVER)
        gc.callbacks.append(self._on_collection)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        gc.callbacks.remove(self._on_collection)
        if self._thresholds is not None:
            gc.set_threshold(*self._thresholds)
            gc.collect()  # what the level deferred, now that nothing is being stamped

    def _on_collection(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = perf_counter()
            return
        pause = perf_counter() - self._started
        self.collections += 1
        self.total_s += pause
        self.max_s = max(self.max_s, pause)

    def summary(self) -> dict[str, Any]:
        """Collections during the level, their total and longest pause (ms); whether full ones waited."""
        return {
            "collections": self.collections,
            "pause_ms_total": round(self.total_s * 1000, 3),
            "pause_ms_max": round(self.max_s * 1000, 3),
            "full_deferred": self._thresholds is not None,
        }
