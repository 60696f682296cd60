"""Stream timing: TTFT, then ITL per step with jitter, against absolute deadlines so delays never add up."""

from __future__ import annotations

import asyncio
import random

from mock_server.scenarios import Scenario

__all__ = ["Pacer"]


class Pacer:
    """Sleeps (asyncio only, no busy work) until each step's deadline.

    Deadlines are `start + ttft + step * itl (+ jitter)`, measured from `start()`, so a late wake-up
    does not push every later chunk back; jitter is seeded per request to stay reproducible.
    """

    def __init__(self, scenario: Scenario, seed: str) -> None:
        self._ttft = (scenario.ttft_ms or 0.0) / 1000
        self._itl = (scenario.itl_ms or 0.0) / 1000
        self._jitter = (scenario.jitter_ms or 0.0) / 1000
        self._rng = random.Random(seed)
        self._origin = 0.0
        self._extra = 0.0
        self._last = 0.0

    def start(self) -> None:
        """Start the clock (when the headers have gone out)."""
        self._origin = self._last = asyncio.get_running_loop().time()

    def deadline(self, step: int) -> float:
        """The event-loop time content step `step` is due (0 is the first content chunk, at TTFT).

        Ask in step order, once per paced event: each answer draws the next jitter value.
        """
        deadline = self._origin + self._extra + self._ttft + step * self._itl
        if self._jitter:
            deadline += self._rng.uniform(-self._jitter, self._jitter)
        deadline = max(deadline, self._last)  # jitter must not reorder chunks
        self._last = deadline
        return deadline

    async def until_step(self, step: int) -> None:
        """Wait for content step `step`."""
        delay = self.deadline(step) - asyncio.get_running_loop().time()
        await asyncio.sleep(max(0.0, delay))

    async def pause(self, seconds: float) -> None:
        """Stop for `seconds` and shift every later deadline by as much (the `stall` fault)."""
        self._extra += seconds
        self._last += seconds
        await asyncio.sleep(seconds)
