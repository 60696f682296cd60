"""Per-server state (one per aiohttp app) and the per-request trace the journal reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from mock_server.journal import Journal
from mock_server.profile import Profile
from mock_server.scenarios import Scenario
from mock_server.schemas import SchemaStore

__all__ = ["STATE", "MockState", "Trace", "trace_of"]


@dataclass
class MockState:
    """Everything the handlers share: the profile, the key, schemas, journal and server-wide defaults."""

    profile: Profile
    api_key: str | None
    schemas: SchemaStore
    journal: Journal = field(default_factory=Journal)
    scenario: Scenario = field(default_factory=Scenario)
    defects: tuple[str, ...] = ()
    log_requests: bool = False


STATE = web.AppKey("mock_state", MockState)


@dataclass
class Trace:
    """What the journal needs to know about one request beyond the response itself."""

    route: str | None = None
    raw: bytes | None = None
    parsed: Any = None
    has_parsed: bool = False
    dropped: bool = False


_TRACE = "mock_trace"


def trace_of(request: web.BaseRequest) -> Trace:
    """The request's trace, created on first use."""
    trace = request.get(_TRACE)
    if not isinstance(trace, Trace):
        trace = Trace()
        request[_TRACE] = trace
    return trace
