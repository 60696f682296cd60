"""A progress bar on stderr, redrawn by the run's own event loop at most five times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["NullProgress", "Progress", "ProgressBar"]


class Progress:
    """What the scheduler reports: a level starts, a request ends, the level ends."""

    def start(self, label: str, total: int | None, duration_s: float | None) -> None:
        """`total` requests (warm-up included) or a `duration_s`; either may be None."""

    def advance(self, ok: bool) -> None:
        """One request finished (ok or failed)."""

    def refresh(self) -> None:
        """Called periodically by the scheduler; draw if it is time."""

    def finish(self) -> None:
        """The level is over."""


class NullProgress(Progress):
    """Draws nothing (quiet runs, tests)."""


class ProgressBar(Progress):
    """`c=16 [#########.........]  480/1000 req  12 err  3.2 s` on one rewritten stderr line.

    Only a terminal gets the rewritten line. Elsewhere (a CI log, a pipe) `\r` frames would pile up by
    the thousand, so it prints a plain line when a level starts, every `plain_interval_s`, and at its end.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        width: int = 30,
        interval_s: float = 0.2,
        *,
        tty: bool | None = None,
        plain_interval_s: float = 5.0,
    ) -> None:
        self._stream = stream or sys.stderr
        self._width = width
        self._tty = _isatty(self._stream) if tty is None else tty
        self._interval = interval_s if self._tty else plain_interval_s
        self._label = ""
        self._total: int | None = None
        self._duration: float | None = None
        self._done = self._failed = 0
        self._started = self._drawn = 0.0

    def start(self, label: str, total: int | None, duration_s: float | None) -> None:
        self._label, self._total, self._duration = label, total, duration_s
        self._done = self._failed = 0
        self._started = time.monotonic()
        self._drawn = 0.0
        self._draw()

    def advance(self, ok: bool) -> None:
        self._done += 1
        if not ok:
            self._failed += 1

    def refresh(self) -> None:
        if time.monotonic() - self._drawn >= self._interval:
            self._draw()

    def finish(self) -> None:
        self._draw()
        if self._tty:
            self._stream.write("\n")
            self._stream.flush()

    def line(self) -> str:
        """The bar's text as drawn now."""
        elapsed = time.monotonic() - self._started
        if self._total:
            fraction = min(self._done / self._total, 1.0)
            count = f"{self._done}/{self._total} req"
        elif self._duration:
            fraction = min(elapsed / self._duration, 1.0)
            count = f"{self._done} req"
        else:
            fraction, count = 0.0, f"{self._done} req"
        filled = int(fraction * self._width)
        bar = "#" * filled + "." * (self._width - filled)
        errors = f"  {self._failed} err" if self._failed else ""
        return f"{self._label:>10} [{bar}] {count}{errors}  {elapsed:5.1f} s"

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        self._stream.write("\r" + self.line() if self._tty else self.line() + "\n")
        self._stream.flush()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stream-like object without a terminal
        return False
