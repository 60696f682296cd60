"""Stream timing: TTFT, then ITL per step with jitter, against absolute deadlines so delays never add up.

Deadlines are `time.monotonic()` times: asyncio's loop clock is that clock, and uvloop's is the same
clock cut to whole milliseconds, which would let chunks go up to 1 ms early.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import time
from collections.abc import Callable

from aiohttp import web

from mock_server.scenarios import Scenario

__all__ = ["TICKER", "Pacer", "Ticker"]


class Pacer:
    """Sleeps (asyncio only, no busy work) until each step's deadline.

    Deadlines are `start + ttft + step * itl (+ jitter)`, measured from `start()`, so a late wake-up
    does not push every later chunk back; jitter is seeded per request to stay reproducible.
    """

    def __init__(self, scenario: Scenario, seed: str) -> None:
        self._ttft = (scenario.ttft_ms or 0.0) / 1000
        self._itl = (scenario.itl_ms or 0.0) / 1000
        self._jitter = (scenario.jitter_ms or 0.0) / 1000
        self._rng = random.Random(seed) if self._jitter else None  # seeding costs a hash: only if used
        self._origin = 0.0
        self._extra = 0.0
        self._last = 0.0

    def start(self) -> None:
        """Start the clock (when the headers have gone out)."""
        self._origin = self._last = time.monotonic()

    def deadline(self, step: int) -> float:
        """The monotonic time content step `step` is due (0 is the first content chunk, at TTFT).

        Ask in step order, once per paced event: each answer draws the next jitter value.
        """
        deadline = self._origin + self._extra + self._ttft + step * self._itl
        if self._rng is not None:
            deadline += self._rng.uniform(-self._jitter, self._jitter)
        deadline = max(deadline, self._last)  # jitter must not reorder chunks
        self._last = deadline
        return deadline

    async def until_step(self, step: int) -> None:
        """Wait for content step `step`."""
        delay = self.deadline(step) - time.monotonic()
        await asyncio.sleep(max(0.0, delay))

    async def pause(self, seconds: float) -> None:
        """Stop for `seconds` and shift every later deadline by as much (the `stall` fault)."""
        self._extra += seconds
        self._last += seconds
        await asyncio.sleep(seconds)


class Ticker:
    """Runs many streams' callbacks at monotonic times from a few event-loop timers.

    A timer per chunk costs a TimerHandle and a push and pop on asyncio's heap, which compares
    handles in Python (about 20 calls per chunk with hundreds of open streams); here an entry is a
    tuple compared in C, and one loop timer serves every entry due when it fires. Never early; as
    late as the loop's wake-up, like `asyncio.sleep`. One per application (`TICKER`): it binds to
    the loop that first uses it.
    """

    def __init__(self) -> None:
        self._entries: list[tuple[float, int, Callable[[], None]]] = []
        self._armed: list[float] = []  # when the loop timers are set for (one or two)
        self._order = itertools.count()  # ties go first come, first served; callbacks never compare
        self._loop: asyncio.AbstractEventLoop | None = None

    def call_at(self, when: float, callback: Callable[[], None]) -> None:
        """Call `callback()` once `time.monotonic()` reaches `when`."""
        heapq.heappush(self._entries, (when, next(self._order), callback))
        if not self._armed or when < min(self._armed):
            self._arm(when)

    def run_due(self) -> None:
        """Run the callbacks already due. Request handling calls this between its steps: when hundreds
        of requests arrive at once, the loop runs them all before it looks at its timers again, and
        the chunks of open streams would wait for the whole burst."""
        if self._entries and self._entries[0][0] <= time.monotonic():
            self._drain()

    def _drain(self) -> None:
        entries = self._entries
        while entries and entries[0][0] <= time.monotonic():
            callback = heapq.heappop(entries)[2]
            try:
                callback()
            except Exception as exc:  # one broken stream must not stop the others (or fail a request)
                if self._loop is not None:
                    self._loop.call_exception_handler(
                        {"message": "mock stream callback failed", "exception": exc}
                    )

    def _arm(self, when: float, at_least: float = 0.0) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._armed.append(when)
        self._loop.call_later(max(when - time.monotonic(), at_least), self._run, when)

    def _run(self, when: float) -> None:
        self._armed.remove(when)
        early = time.monotonic() < when - 1e-6  # uvloop rounds timers to whole milliseconds
        self._drain()
        entries = self._entries
        if entries and (not self._armed or min(self._armed) > entries[0][0]):
            self._arm(entries[0][0], 0.001 if early else 0.0)  # early: wait a little, do not spin


TICKER = web.AppKey("mock_ticker", Ticker)
