"""Stream timing: TTFT, then ITL per step with jitter, against absolute deadlines so delays never add up."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
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
        self._origin = self._last = asyncio.get_running_loop().time()

    def deadline(self, step: int) -> float:
        """The event-loop time content step `step` is due (0 is the first content chunk, at TTFT).

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
        delay = self.deadline(step) - asyncio.get_running_loop().time()
        await asyncio.sleep(max(0.0, delay))

    async def pause(self, seconds: float) -> None:
        """Stop for `seconds` and shift every later deadline by as much (the `stall` fault)."""
        self._extra += seconds
        self._last += seconds
        await asyncio.sleep(seconds)


class Ticker:
    """Runs many streams' callbacks at event-loop times from a few loop timers.

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
        """Call `callback()` once the loop's time reaches `when`."""
        heapq.heappush(self._entries, (when, next(self._order), callback))
        if not self._armed or when < min(self._armed):
            self._arm(when)

    def run_due(self) -> None:
        """Run the callbacks already due. Request handling calls this between its steps: when hundreds
        of requests arrive at once, the loop runs them all before it looks at its timers again, and
        the chunks of open streams would wait for the whole burst."""
        if self._entries and self._loop is not None and self._entries[0][0] <= self._loop.time():
            self._drain(self._loop)

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        entries = self._entries
        while entries and entries[0][0] <= loop.time():
            heapq.heappop(entries)[2]()

    def _arm(self, when: float) -> None:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._armed.append(when)
        self._loop.call_at(when, self._run, self._loop, when)

    def _run(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._armed.remove(when)
        try:
            self._drain(loop)
        finally:  # a failing callback must not stop the others: the loop logs it, the rest go on
            entries = self._entries
            if entries and (not self._armed or min(self._armed) > entries[0][0]):
                self._arm(entries[0][0])


TICKER = web.AppKey("mock_ticker", Ticker)
