"""Running the mock: `MockServer` (a background thread, for tests and sync code) and `serve_forever`."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import ipaddress
import logging
import os
import re
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from aiohttp import web

from mock_server.app import build_app
from mock_server.faults import FAULTS
from mock_server.profile import MockConfigError, Profile
from mock_server.scenarios import Scenario, ScenarioError, load_scenario_file, parse_scenario_header
from mock_server.state import STATE

__all__ = ["MockServer", "ServeOptions", "check_host", "serve_forever"]

_LOG = logging.getLogger("mock_server")
_SHUTDOWN_TIMEOUT = 1.0  # open streams are cut after this on stop(); tests must not hang on them
_BACKLOG = 1024  # hundreds of clients connect at once in latency runs


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback bind address unless `allow_remote` (the mock has no real security)."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise MockConfigError(
            f"refusing to bind {host!r}: not a loopback address (pass --allow-remote to insist)"
        )


def _scenario(scenario: Scenario | Mapping[str, Any] | str | Path | None, fault: str | None) -> Scenario:
    try:
        if isinstance(scenario, Scenario):
            result = scenario
        elif isinstance(scenario, Mapping):
            result = Scenario.from_mapping(scenario)
        elif isinstance(scenario, str) and "=" in scenario and not Path(scenario).exists():
            result = parse_scenario_header(scenario)  # the X-Mock-Scenario syntax, for the whole server
        elif scenario is not None:
            result = load_scenario_file(scenario)
        else:
            result = Scenario()
        return result.merged(Scenario.from_mapping({"fault": fault})) if fault else result
    except ScenarioError as exc:
        raise MockConfigError(str(exc)) from None


class MockServer:
    """The mock on 127.0.0.1 in a daemon thread with its own event loop; use as a context manager.

    `scenario` is a Scenario, a mapping of scenario keys, a YAML/JSON file or a `key=value;...`
    string; `fault` adds a server-wide fault. Configuration errors raise MockConfigError from the constructor.
    """

    def __init__(
        self,
        profile: str | Path | Profile = "compatible",
        *,
        api_key: str | None = None,
        scenario: Scenario | Mapping[str, Any] | str | Path | None = None,
        fault: str | None = None,
        defects: Sequence[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        log_requests: bool = False,
    ) -> None:
        check_host(host, allow_remote)
        self.api_key = api_key or None
        self._app = build_app(
            profile,
            api_key=self.api_key,
            scenario=_scenario(scenario, fault),
            defects=defects,
            log_requests=log_requests,
        )
        self._state = self._app[STATE]
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = asyncio.Event()  # binds to the server's loop on first use (Python >= 3.10)
        self._failure: BaseException | None = None
        self._stopped = False

    @property
    def profile(self) -> Profile:
        return self._state.profile

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        if self._thread is None:
            raise RuntimeError("MockServer is not running; call start() or use it as a context manager")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def route_url(self, route: str) -> str:
        """Full URL of one of the profile's logical routes (chat, models, messages, ...)."""
        return self.url + self.profile.routes[route]

    def start(self) -> MockServer:
        """Start serving; returns once the port is bound (or raises what stopped it)."""
        if self._thread is not None:
            return self
        if self._stopped:
            raise RuntimeError("a stopped MockServer cannot be restarted; create a new one")
        self._thread = threading.Thread(
            target=self._run, name=f"mock_server:{self.profile.name}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout=30):
            raise RuntimeError("mock server did not start within 30 s")
        if self._failure is not None:
            self._thread = None
            raise self._failure
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (open streams are cut after a short grace period)."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            loop.call_soon_threadsafe(self._stopping.set)
        thread.join(timeout=_SHUTDOWN_TIMEOUT + 10)
        self._thread = None
        self._stopped = True

    def journal(self) -> list[dict[str, Any]]:
        """A copy of the journal, oldest first."""
        return self._state.journal.entries()

    def clear_journal(self) -> None:
        self._state.journal.clear()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._thread is not None else "stopped"
        return f"MockServer(profile={self.profile.name!r}, {where})"

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._failure = exc
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        runner = web.AppRunner(self._app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, backlog=_BACKLOG)
            await site.start()
            self.port = int(runner.addresses[0][1])
            self._ready.set()
            await self._stopping.wait()
        finally:
            await runner.cleanup()


@dataclass
class ServeOptions:
    """What `serve_forever` (and `python -m mock_server`, `chatcert mock`) accepts."""

    profile: str | Path = "compatible"
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None
    api_key_env: str | None = None
    scenario: str | Path | None = None
    fault: str | None = None
    defects: Sequence[str] = field(default_factory=tuple)
    allow_remote: bool = False
    log_requests: bool = True

    def resolved_key(self) -> str | None:
        """The key itself, or the value of `api_key_env` (which must then be set)."""
        if self.api_key:
            return self.api_key
        if self.api_key_env:
            value = os.environ.get(self.api_key_env)
            if not value:
                # Someone may have typed the key itself here: show only conventional variable names.
                shown = (
                    self.api_key_env
                    if re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", self.api_key_env)
                    else "(not shown)"
                )
                raise MockConfigError(f"environment variable {shown} (from --api-key-env) is not set")
            return value
        return None


def serve_forever(options: ServeOptions) -> int:
    """Serve in the foreground until SIGINT/SIGTERM; returns 0. Raises MockConfigError for bad options."""
    check_host(options.host, options.allow_remote)
    if options.fault is not None and options.fault not in FAULTS:
        raise MockConfigError(f"unknown fault {options.fault!r}; known: {', '.join(sorted(FAULTS))}")
    app = build_app(
        options.profile,
        api_key=options.resolved_key(),
        scenario=_scenario(options.scenario, options.fault),
        defects=options.defects,
        log_requests=options.log_requests,
    )
    if options.log_requests and not _LOG.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        _LOG.addHandler(handler)
        _LOG.setLevel(logging.INFO)
    asyncio.run(_serve_until_signal(app, options))
    return 0


async def _serve_until_signal(app: web.Application, options: ServeOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows, or not the main thread
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT)
    await runner.setup()
    try:
        await web.TCPSite(runner, options.host, options.port, backlog=_BACKLOG).start()
        # Everything built so far (profile, schemas, fixtures, routes) lives as long as the process:
        # frozen out of the collector, a full collection walks only what requests allocate, so its
        # pause shrinks from tens of ms to a few while chunks are being paced.
        gc.collect()
        gc.freeze()
        host, port = runner.addresses[0][:2]
        profile = app[STATE].profile
        auth = "auth on" if app[STATE].api_key and profile.auth_required else "auth off"
        print(
            f"mock_server: profile {profile.name} ({auth}) on http://{host}:{port}",
            file=sys.stderr,
            flush=True,
        )
        await stop.wait()
        print("mock_server: shutting down", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()
