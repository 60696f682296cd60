"""pytest fixtures for a running mock; the root conftest has `pytest_plugins = ["mock_server.fixtures"]`.

- `mock_server` (session): a factory `mock_server(profile="compatible", **MockServer options)` that
  starts each distinct configuration once and stops them all at the end of the session.
- `mock_endpoint` (per test): a running MockServer for `compatible`, or for the profile (or dict of
  options) given by indirect parametrization; profiles that require auth get `MOCK_API_KEY`.
  Its journal is cleared before each test.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from mock_server.profile import load_profile
from mock_server.runner import MockServer

__all__ = ["MOCK_API_KEY", "MockServerFactory", "mock_endpoint", "mock_server"]

MOCK_API_KEY = "chatcert-mock-key"


class MockServerFactory:
    """Starts mocks on demand and keeps them (one per configuration) until `close()`."""

    def __init__(self) -> None:
        self._servers: dict[str, MockServer] = {}

    def __call__(self, profile: str | Path = "compatible", **options: Any) -> MockServer:
        key = repr((str(profile), sorted(options.items(), key=lambda item: item[0])))
        server = self._servers.get(key)
        if server is None:
            server = MockServer(profile, **options).start()
            self._servers[key] = server
        return server

    def close(self) -> None:
        while self._servers:
            _, server = self._servers.popitem()
            server.stop()


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockServerFactory]:
    """Session-wide factory of running mocks."""
    factory = MockServerFactory()
    yield factory
    factory.close()


@pytest.fixture
def mock_endpoint(request: pytest.FixtureRequest, mock_server: MockServerFactory) -> MockServer:
    """A running mock for one profile, journal cleared (parametrize indirectly to pick the profile)."""
    param = getattr(request, "param", "compatible")
    options: dict[str, Any] = dict(param) if isinstance(param, Mapping) else {"profile": param}
    profile = options.pop("profile", "compatible")
    if "api_key" not in options and load_profile(profile).auth_required:
        options["api_key"] = MOCK_API_KEY
    server = mock_server(profile, **options)
    server.clear_journal()
    return server
