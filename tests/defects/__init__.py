"""Defect tables: for every registered check, ways a server can break it, as edits of conformant exchanges.

Each area module lists `Defect`s; `ALL_DEFECTS` joins them. `PROFILE` claims every capability and route so
one mock run sends every probe.
"""

from __future__ import annotations

from pathlib import Path

from chatcert.wire.cases import Case, load_cases
from defects.declared import declared_defects
from defects.fakes import Defect, acceptance_defects, rejection_defects
from defects.fuzz import FUZZ
from defects.other_routes import ANTHROPIC, COMPLETIONS, DISCOVERY, ERRORS, FAULTS, PHARIA
from defects.response_usage import RESPONSE, USAGE
from defects.streaming import STREAMING
from defects.tools_vision import TOOLS, VISION, empty_answer_defects
from defects.transport_request import REQUEST, TRANSPORT

__all__ = ["ALL_DEFECTS", "PROFILE", "Defect"]

PROFILE = Path(__file__).with_name("selftest-profile.yaml")


def _case_defects(case: Case) -> list[Defect]:
    """A rejection served (200) or crashed on (500); an answer refused (400), crashed on (500) or, where
    the case wants a text answer, empty."""
    if case.rejects:
        return rejection_defects(case.check)
    empty = empty_answer_defects(case.check) if case.answer == "text" else []
    return [*acceptance_defects(case.check), *empty]


# Each data-driven case (fixtures/cases/) brings its defects.
CASES: list[Defect] = [d for case in load_cases() for d in _case_defects(case)]

# Each declared defect (fixtures/defects/) brings its offline defects, one per check it names.
DECLARED: list[Defect] = declared_defects(str(PROFILE))

ALL_DEFECTS: list[Defect] = [
    *CASES,
    *DECLARED,
    *DISCOVERY,
    *TRANSPORT,
    *REQUEST,
    *RESPONSE,
    *USAGE,
    *STREAMING,
    *TOOLS,
    *VISION,
    *ERRORS,
    *ANTHROPIC,
    *COMPLETIONS,
    *PHARIA,
    *FAULTS,
    *FUZZ,
]
