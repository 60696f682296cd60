"""The explicit examples a fuzz run sends before its search: one drawn from each named strategy.

A search of N examples may never draw a given class of payload (25 draws over some sixty classes
miss many, and a derandomized run misses the same ones every time). So each class's strategy is
asked for one example first, in a single Hypothesis run of one derandomized example: Hypothesis
tries the simplest choice for every draw first, so each example is its class's simplest payload
(an empty array, the shortest string, a 1x1 image), the same on every run and every machine, and
built by the very code the search uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

__all__ = ["first_examples"]

T = TypeVar("T")

_SETTINGS = settings(
    max_examples=1,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.generate,),
    suppress_health_check=list(HealthCheck),
    verbosity=Verbosity.quiet,
    print_blob=False,
)


def first_examples(strategies: Mapping[str, st.SearchStrategy[T]]) -> dict[str, T]:
    """One example of each strategy, by name: deterministic, no request sent."""
    drawn: dict[str, T] = {}

    @_SETTINGS
    @given(st.data())
    def draw_all(data: Any) -> None:
        # A draw thrown away (a filter) makes Hypothesis try again: keep the last complete set only.
        got = {name: data.draw(strategy) for name, strategy in strategies.items()}
        drawn.clear()
        drawn.update(got)

    draw_all()
    return drawn
