"""Hard limits on what a run may spend: requests and output tokens, reserved before sending."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

__all__ = ["Budget", "BudgetExhausted"]


class BudgetExhausted(Exception):
    """The run's budget cannot pay for the next request."""


@dataclass
class Budget:
    """`None` means unlimited. Tokens are output tokens: what `max_tokens` bounds and `usage` settles.

    A request reserves its `max_tokens` (capped at what remains) before it is sent; the answer's
    `usage.completion_tokens` settles it (the whole reservation stays spent when usage is missing).
    """

    max_requests: int | None = None
    max_tokens: int | None = None
    requests_sent: int = 0
    tokens_spent: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __getstate__(self) -> dict[str, object]:
        # A thread lock does not cross into a worker process; each copy gets its own (chatcert.bench.workers
        # shares one budget between processes through shared memory instead).
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def reserve(self, wanted_tokens: int) -> int:
        """Count one request and reserve up to `wanted_tokens`; return the tokens granted."""
        with self._lock:
            if self.max_requests is not None and self.requests_sent >= self.max_requests:
                raise BudgetExhausted(f"request budget spent ({self.max_requests} requests)")
            granted = wanted_tokens
            if self.max_tokens is not None and wanted_tokens > 0:
                remaining = self.max_tokens - self.tokens_spent
                if remaining <= 0:
                    raise BudgetExhausted(f"token budget spent ({self.max_tokens} tokens)")
                granted = min(wanted_tokens, remaining)
            self.requests_sent += 1
            self.tokens_spent += granted
            return granted

    def settle(self, reserved: int, used: int | None) -> None:
        """Replace a reservation by what `usage` says was used (never below zero)."""
        if used is None or used < 0:
            return
        with self._lock:
            self.tokens_spent += used - reserved

    def can_afford(self, requests: int, tokens: int) -> bool:
        return self.shortfall(requests, tokens) is None

    def shortfall(self, requests: int, tokens: int) -> str | None:
        """Why `requests` more requests wanting output tokens cannot be paid for, or None if they can."""
        with self._lock:
            if self.max_requests is not None and self.requests_sent + requests > self.max_requests:
                left = self.max_requests - self.requests_sent
                return f"request budget spent ({self.requests_sent} of {self.max_requests} requests sent" + (
                    f"; this probe needs {requests}, {left} left)" if left > 0 else ")"
                )
            if self.max_tokens is not None and tokens > 0 and self.tokens_spent >= self.max_tokens:
                return f"token budget spent ({self.tokens_spent} of {self.max_tokens} output tokens)"
            return None

    @property
    def limited(self) -> bool:
        return self.max_requests is not None or self.max_tokens is not None
