"""Resolving what to certify: a user's endpoint (URL checked, key read), or chatcert's embedded mock
started for the duration. One resolver for the command line and the pytest plugin; it sits with them
in the front layer, since it may start the mock (the core library never does)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from chatcert.bench.mockproc import MockProcess
from chatcert.client import Target, check_url
from chatcert.errors import UsageError
from chatcert.fleet import FleetEntry
from chatcert.keys import load_api_key
from chatcert.profiles import Profile

__all__ = ["Endpoint", "check_defects", "open_entry", "open_target"]


@dataclass
class Endpoint:
    url: str
    profile: Profile
    api_key: str | None
    is_mock: bool
    verify_tls: bool
    machine: dict[str, Any] = field(default_factory=dict)  # facts for a bench record, e.g. core pinning

    def auth_headers(self) -> dict[str, str]:
        """The key as the profile spells it on the wire (the certify client's one way)."""
        return Target(self.url, self.profile.auth_scheme, self.api_key).auth_headers()


@contextmanager
def open_target(
    profile: Profile,
    *,
    endpoint: str | None,
    api_key_env: str | None = None,
    api_key_file: str | None = None,
    target_is_mock: bool = False,
    insecure: bool = False,
    defects: tuple[str, ...] = (),
    scenario: str | None = None,
    mock_process: Mapping[str, float] | None = None,
    pin: bool = True,
) -> Iterator[Endpoint]:
    """The endpoint as given, or (without one) the embedded mock serving `profile` until the block ends.

    `mock_process` (a timing scenario) starts the mock in a process of its own instead, pinned to a
    core of its own where `pin` allows: what a latency run needs, so the client's loop and the server's
    never share a core or a GIL. Raises UsageError for an unusable URL or a named key that cannot be
    read.
    """
    if endpoint:
        url = check_url(endpoint)
        key = load_api_key(api_key_env, api_key_file, profile.key_env)
        yield Endpoint(url, profile, key, target_is_mock, not insecure)
        return
    from mock_server.runner import MockServer

    # The embedded mock gets a one-off key when the profile needs one, and the run uses it. A key the
    # user named is still read (an unset variable or unreadable file is an error, not silently ignored)
    # and then serves as the mock's key, so the run exercises the user's key handling end to end.
    named = load_api_key(api_key_env, api_key_file) if api_key_env or api_key_file else None
    key = (named or secrets.token_urlsafe(24)) if profile.auth_scheme != "none" else None
    if mock_process is not None:
        with MockProcess(profile.origin, mock_process, api_key=key, pin=pin) as process:
            yield Endpoint(process.url, profile, key, True, True, {"pinning": process.pinning})
        return
    with MockServer(profile=profile.origin, api_key=key, defects=defects, scenario=scenario) as server:
        yield Endpoint(server.url, profile, key, True, True)


def check_defects(entries: Iterable[FleetEntry]) -> None:
    """Every defect a fleet entry asks its embedded mock for exists (UsageError before anything runs)."""
    named = [e for e in entries if e.defects]
    if not named:
        return
    from mock_server.defects import DEFECTS

    for entry in named:
        unknown = [d for d in entry.defects if d not in DEFECTS]
        if unknown:
            raise UsageError(
                f"fleet entry {entry.name!r}: unknown defect(s) {', '.join(map(repr, unknown))}; "
                "list them with 'chatcert mock --list-defects'"
            )


@contextmanager
def open_entry(entry: FleetEntry) -> Iterator[Endpoint]:
    """A fleet entry's target (chatcert.fleet): its endpoint with the key from its `key_env`, or an
    embedded mock of its own (showing the entry's `defects`) for the duration."""
    check_defects([entry])
    with open_target(
        entry.profile,
        endpoint=entry.endpoint,
        api_key_env=entry.key_env,
        insecure=entry.insecure,
        defects=entry.defects,
    ) as endpoint:
        yield endpoint
