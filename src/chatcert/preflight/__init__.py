"""Pre-flight for a Clustergate 2 uplink: rehearse the LiquidAI job on the ground, offline.

`run_preflight(...)` checks an Operation file (or a script + image + prompt), rehearses the script
against the mock server on loopback, and returns a `PreflightReport` whose `verdict` is GO or NO-GO.
Its text view and `preflight.json` are written by `chatcert.reporting.preflight`, from the events
`run_preflight` hands its `reporters` (`chatcert.preflight.reporter`).
"""

from __future__ import annotations

from chatcert.preflight.findings import CheckRecord, Finding
from chatcert.preflight.operation import ONBOARD_SERVER, Operation, load_operation
from chatcert.preflight.profile import PreflightProfile, load_profile
from chatcert.preflight.rehearsal import MockLike, RehearsalResult, ServerFactory, rehearse
from chatcert.preflight.reporter import PreflightReporter
from chatcert.preflight.runner import DEFAULT_PROMPT, DEFAULT_TIMEOUT_S, run_preflight
from chatcert.preflight.schemas import validate_request
from chatcert.preflight.usage import UsageEstimate
from chatcert.preflight.verdict import GO, NO_GO, PreflightReport

__all__ = [
    "DEFAULT_PROMPT",
    "DEFAULT_TIMEOUT_S",
    "GO",
    "NO_GO",
    "ONBOARD_SERVER",
    "CheckRecord",
    "Finding",
    "MockLike",
    "Operation",
    "PreflightProfile",
    "PreflightReport",
    "PreflightReporter",
    "RehearsalResult",
    "ServerFactory",
    "UsageEstimate",
    "load_operation",
    "load_profile",
    "rehearse",
    "run_preflight",
    "validate_request",
]
