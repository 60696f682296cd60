"""What a pre-flight tells its report writers while it runs: it started, a check was recorded, it finished.

The writers (`preflight.json`, the text and JSON views) live in `chatcert.reporting.preflight` and are
handed to `run_preflight` as a list of `PreflightReporter`s; this module knows none of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chatcert import interrupt
from chatcert.preflight.findings import CheckRecord
from chatcert.preflight.verdict import PreflightReport

__all__ = ["PreflightEvents", "PreflightReporter"]


class PreflightReporter(Protocol):
    def on_start(self, report: PreflightReport) -> None:
        """The pre-flight of `report.subject` begins: its inputs were read, nothing is checked yet."""

    def on_check(self, record: CheckRecord) -> None:
        """A check ran (or was skipped): its record, with its findings, as the report will hold it."""

    def on_finish(self, report: PreflightReport) -> None:
        """The report is complete, or `interrupted` (then with the checks made so far)."""


class PreflightEvents:
    """Hands each event to every reporter, in the order they were given."""

    def __init__(self, reporters: Sequence[PreflightReporter] = ()) -> None:
        self.reporters = list(reporters)

    def start(self, report: PreflightReport) -> None:
        for reporter in self.reporters:
            reporter.on_start(report)

    def check(self, record: CheckRecord) -> None:
        for reporter in self.reporters:
            reporter.on_check(record)

    def finish(self, report: PreflightReport) -> None:
        # Delivered whole: a second signal must not cut the report of the first in half, in a file or
        # on the screen; it is raised once every reporter has the report.
        with interrupt.shielded():
            for reporter in self.reporters:
                reporter.on_finish(report)
