"""A budget-aware Hypothesis search: each trial sends one request through the run's client.

Explicit examples go first (one per class of payload, see `chatcert.fuzz.explicit`), through the
same trial and budget: a search of N draws may miss a class, a derandomized one misses the same class
every run, so coverage never rests on the draw. A failing explicit example is recorded like any
failure and the search still runs (Hypothesis's own explicit phase would stop at the first failure).
Then Hypothesis generates `max_examples` payloads, then shrinks every distinct failure (a failure's key,
e.g. "empty-messages/server_error", becomes its own exception type, so Hypothesis keeps the bugs
apart and shrinks each). Shrinking sends requests too, so it has its own cap. The budget, the
shrink cap or a target that stopped answering end the search from inside a trial with a
BaseException, which Hypothesis lets through untouched; the smallest failure seen per key is kept
here, so nothing found is lost when a search is cut short.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import hypothesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from chatcert._models import Exchange
from chatcert.budget import Budget, BudgetExhausted
from chatcert.client import TooManyTransportFailures

__all__ = ["Failure", "SearchConfig", "SearchResult", "Violation", "run_search"]

T = TypeVar("T")

DEFAULT_MAX_EXAMPLES = 25


class _Stop(BaseException):
    """Ends a search from inside a trial (BaseException: Hypothesis neither catches nor shrinks it)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Violation(Exception):
    """A trial's property does not hold. Each failure key gets its own subclass (see `_violation`)."""


_VIOLATIONS: dict[str, type[Violation]] = {}


def _violation(key: str) -> type[Violation]:
    # Hypothesis tells bugs apart by exception type and raising line: one type per key.
    if key not in _VIOLATIONS:
        _VIOLATIONS[key] = type(f"Violation[{key}]", (Violation,), {})
    return _VIOLATIONS[key]


@dataclass
class Failure:
    """One failing trial: its failure class (`key`), how it failed, and what it sent (`exchange`)."""

    key: str
    message: str
    exchange: Exchange

    @property
    def size(self) -> int:
        return len(self.exchange.request_body or b"")


@dataclass(frozen=True)
class SearchConfig:
    """How long a search may run: generated examples, shrinking requests, seed."""

    max_examples: int = DEFAULT_MAX_EXAMPLES
    seed: int | None = None
    shrink_requests: int | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> SearchConfig:
        seed = options.get("seed")
        shrink = options.get("shrink_requests")
        return cls(
            max_examples=max(1, int(options.get("max_examples") or DEFAULT_MAX_EXAMPLES)),
            seed=int(seed) if seed is not None else None,
            shrink_requests=int(shrink) if shrink is not None else None,
        )

    @property
    def shrink_limit(self) -> int:
        """Requests shrinking may send after the first failure (default: twice the examples, >= 20)."""
        return self.shrink_requests if self.shrink_requests is not None else max(20, 2 * self.max_examples)

    def hypothesis_settings(self) -> settings:
        return settings(
            max_examples=self.max_examples,
            derandomize=bool(os.environ.get("CI")),
            database=None,
            deadline=None,
            phases=(Phase.explicit, Phase.generate, Phase.shrink),
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=True,
            verbosity=Verbosity.quiet,
            print_blob=False,
        )


@dataclass
class SearchResult(Generic[T]):
    trials: int = 0
    explicit: int = 0  # of the trials, the explicit examples sent before the search
    failures: dict[str, Failure] = field(default_factory=dict)
    stopped: str | None = None
    budget_spent: bool = False
    # The client gave up: consecutive transport failures, or the run's deadline passed.
    client_stopped: bool = False


def run_search(
    strategy: st.SearchStrategy[T],
    trial: Callable[[T], Failure | None],
    config: SearchConfig,
    budget: Budget,
    *,
    reserve: int = 0,
    explicit: Sequence[T] = (),
) -> SearchResult[T]:
    """Run `trial` on each `explicit` example, then on generated ones; `reserve` requests of the budget
    are left for the caller. One failure is kept per failure key, the smallest seen."""
    result: SearchResult[T] = SearchResult()
    limit = len(explicit) + config.max_examples + config.shrink_limit

    def test(example: T) -> None:
        if result.trials >= limit:
            raise _Stop(f"shrinking stopped after {config.shrink_limit} requests")
        if budget.limited and not budget.can_afford(1 + reserve, 1):
            result.budget_spent = True
            raise _Stop("budget: not enough requests or tokens left for another payload")
        result.trials += 1
        try:
            failure = trial(example)
        except BudgetExhausted as exc:
            result.budget_spent = True
            raise _Stop(f"budget: {exc}") from None
        except TooManyTransportFailures as exc:
            result.client_stopped = True
            raise _Stop(f"stopped: {exc}") from None
        if failure is None:
            return
        best = result.failures.get(failure.key)
        # Ties go to the later failure (shrinking only moves to simpler examples), except among the
        # explicit examples, which come simplest class first.
        searching = result.trials > len(explicit)
        if best is None or failure.size < best.size or (searching and failure.size == best.size):
            result.failures[failure.key] = failure
        raise _violation(failure.key)(failure.message)

    for example in explicit:
        try:
            test(example)
        except _Stop as stop:
            result.stopped = stop.reason
            result.explicit = result.trials
            return result
        except Violation:
            continue  # kept in result.failures; the search may still find a smaller one
    result.explicit = result.trials

    prop = settings(config.hypothesis_settings())(given(strategy)(test))
    if config.seed is not None:
        prop = hypothesis.seed(config.seed)(prop)
    try:
        prop()
    except _Stop as stop:
        result.stopped = stop.reason
    except BaseException as exc:
        # With several distinct failures, Hypothesis may report a stop (shrink cap, budget) raised
        # while it replayed them inside the group of failures: the search stopped, the failures stand.
        stops = _stops_in(exc)
        if stops:
            result.stopped = stops[0].reason
        if not _only_violations(exc):
            raise
    return result


def _stops_in(exc: BaseException) -> list[_Stop]:
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple):
        return [s for e in members if isinstance(e, BaseException) for s in _stops_in(e)]
    return [exc] if isinstance(exc, _Stop) else []


def _only_violations(exc: BaseException) -> bool:
    """Whether `exc` (or every member of its group) is a Violation or a Flaky report of one."""
    # Duck-typed: BaseExceptionGroup is a builtin only from Python 3.11 (Hypothesis backports it).
    members = getattr(exc, "exceptions", None)
    if isinstance(members, tuple) and members:
        return all(isinstance(e, BaseException) and _only_violations(e) for e in members)
    return isinstance(exc, (Violation, Flaky, _Stop))
