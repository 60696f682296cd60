"""What a bench run tells its report writers while it runs: it started, a level finished, it finished.

The writers (bench.json, HTML, charts, history, the console table) live in `chatcert.reporting.bench`
and are handed to the run as a list of `BenchReporter`s; this module knows none of them. A level's
record and the run's record are passed as they will be written: reporters read them, and only the
one that owns a key may add it (the gate adds `comparison`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from chatcert.bench.records import check_record

if TYPE_CHECKING:
    from chatcert.bench.runner import BenchConfig

__all__ = ["BenchEvents", "BenchReporter", "FinishReporter"]


class BenchReporter(Protocol):
    def on_start(self, config: BenchConfig) -> None:
        """The run is about to measure `config.levels`, in order."""

    def on_level(self, level: dict[str, Any]) -> None:
        """A level finished (complete, stopped by the budget, or incomplete): its record."""

    def on_finish(self, record: dict[str, Any]) -> None:
        """The run is over, finished or `interrupted` (then with the levels that finished)."""


class FinishReporter:
    """A reporter that acts only when the run finishes (the report files, the console view): the start
    and the levels are heard and let pass."""

    def on_start(self, config: BenchConfig) -> None:
        """Nothing to do before the first level."""

    def on_level(self, level: dict[str, Any]) -> None:
        """Nothing to do per level: the whole record comes with the finish."""

    def on_finish(self, record: dict[str, Any]) -> None:
        raise NotImplementedError


class BenchEvents:
    """Hands each event to every reporter, in the order they were given."""

    def __init__(self, reporters: Sequence[BenchReporter] = ()) -> None:
        self.reporters = list(reporters)

    def start(self, config: BenchConfig) -> None:
        for reporter in self.reporters:
            reporter.on_start(config)

    def level(self, level: dict[str, Any]) -> None:
        for reporter in self.reporters:
            reporter.on_level(level)

    def finish(self, record: dict[str, Any]) -> dict[str, Any]:
        """Check `record` against its schema (a broken one is a HarnessError, never a report), hand it
        over, and return it."""
        check_record(record)  # also for library callers with no reporter: a record is valid or an error
        for reporter in self.reporters:
            reporter.on_finish(record)
        return record
