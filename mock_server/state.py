"""Per-server state (one per aiohttp app) and the per-request trace the journal reads."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from chatcert.wire.schemas import SchemaStore
from mock_server.journal import Journal
from mock_server.profile import Profile
from mock_server.scenarios import Scenario

__all__ = ["STATE", "MockState", "Trace", "current_trace", "start_trace"]


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


# A context variable rather than request storage: the middlewares and the handler run in one task,
# and aiohttp's typed request keys are newer than the aiohttp versions we support.
_TRACE: ContextVar[Trace | None] = ContextVar("mock_trace", default=None)


def start_trace() -> Trace:
    """A fresh trace for the request being handled in this task."""
    trace = Trace()
    _TRACE.set(trace)
    return trace


def current_trace() -> Trace:
    """The trace of the request this task is answering (a throwaway one outside the journal middleware)."""
    return _TRACE.get() or start_trace()
