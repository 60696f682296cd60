"""Defect tables: for every registered check, ways a server can break it, as edits of conformant exchanges.

Each area module lists `Defect`s; `ALL_DEFECTS` joins them. `PROFILE` claims every capability and route so
one mock run sends every probe.
"""

from __future__ import annotations

from pathlib import Path

from defects.fakes import Defect
from defects.fuzz import FUZZ
from defects.other_routes import ANTHROPIC, COMPLETIONS, DISCOVERY, ERRORS, FAULTS, PHARIA
from defects.response_usage import RESPONSE, USAGE
from defects.streaming import STREAMING
from defects.tools_vision import TOOLS, VISION
from defects.transport_request import REQUEST, TRANSPORT

__all__ = ["ALL_DEFECTS", "PROFILE", "Defect"]

PROFILE = Path(__file__).with_name("selftest-profile.yaml")

ALL_DEFECTS: list[Defect] = [
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
