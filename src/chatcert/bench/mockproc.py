"""The embedded mock for latency runs, in its own process and, where possible, on its own core.

A mock sharing the client's event loop (or even its process, through the GIL) would add its own work
to every measured gap; `python -m mock_server` in a child process does not. Core pinning uses
`os.sched_setaffinity` (Linux); elsewhere both processes float and the run records it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from chatcert.errors import HarnessError, UsageError
from chatcert.wire.scenario import ScenarioError, count, format_header, milliseconds, split_header

__all__ = ["DEFAULT_SCENARIO", "MockProcess", "parse_scenario", "pin_cores", "scenario_header"]

# The ground truth the accuracy benchmark uses: TTFT 50 ms, then 31 gaps of 10 ms.
DEFAULT_SCENARIO: dict[str, float] = {"ttft_ms": 50, "itl_ms": 10, "chunks": 32, "jitter_ms": 0}
_KEYS = ("ttft_ms", "itl_ms", "jitter_ms", "chunks")
_URL = re.compile(r"on (http://\S+)")
_KEY_ENV = "CHATCERT_BENCH_MOCK_KEY"


def parse_scenario(text: str) -> dict[str, float]:
    """`ttft_ms=50;itl_ms=10;chunks=32;jitter_ms=0` -> a mapping (timing keys only), in the wire
    layer's scenario grammar (the one the mock reads)."""
    try:
        values = split_header(text)
        out: dict[str, float] = {}
        for key, value in values.items():
            if key not in _KEYS:
                raise ScenarioError(f"takes {'=N;'.join(_KEYS)}=N, not {key}={value}")
            out[key] = count(key, value) if key == "chunks" else milliseconds(key, value)
    except ScenarioError as exc:
        raise UsageError(f"--mock-scenario {exc}") from None
    return out


def scenario_header(scenario: Mapping[str, float]) -> str:
    """The `X-Mock-Scenario` header value for `scenario`."""
    return format_header(scenario)


def pin_cores(server_pid: int) -> dict[str, Any]:
    """Server on the first allowed core, this process on the second; returns what was done.

    Returns `{"pinned": False, ...}` when there is one core or no sched_setaffinity.
    """
    if not hasattr(os, "sched_setaffinity"):
        return {"pinned": False, "why": "no sched_setaffinity on this platform"}
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        return {"pinned": False, "why": "one core available: client and server share it"}
    os.sched_setaffinity(server_pid, {allowed[0]})
    os.sched_setaffinity(0, {allowed[1]})
    return {"pinned": True, "server_core": allowed[0], "client_core": allowed[1], "allowed": allowed}


class MockProcess:
    """`python -m mock_server --port 0 --quiet` with a server-wide scenario; a context manager."""

    def __init__(
        self,
        profile: str = "compatible",
        scenario: Mapping[str, float] | None = None,
        *,
        api_key: str | None = None,
        pin: bool = True,
        start_timeout_s: float = 30.0,
    ) -> None:
        self.profile = profile
        self.scenario = dict(DEFAULT_SCENARIO if scenario is None else scenario)
        self.api_key = api_key
        self.pin = pin
        self.start_timeout_s = start_timeout_s
        self.url = ""
        self.pinning: dict[str, Any] = {"pinned": False, "why": "not started"}
        self._proc: subprocess.Popen[str] | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._lines: list[str] = []
        self._restore: list[int] | None = None

    def start(self) -> MockProcess:
        self._dir = tempfile.TemporaryDirectory(prefix="chatcert-bench-")
        scenario_file = Path(self._dir.name) / "scenario.json"
        scenario_file.write_text(json.dumps(self.scenario), encoding="utf-8")
        cmd = [sys.executable, "-m", "mock_server", "--profile", self.profile, "--port", "0", "--quiet"]
        cmd += ["--scenario", str(scenario_file)]
        env = dict(os.environ)
        if self.api_key:
            env[_KEY_ENV] = self.api_key
            cmd += ["--api-key-env", _KEY_ENV]
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        found = threading.Event()
        threading.Thread(target=self._read_stderr, args=(found,), daemon=True).start()
        if not found.wait(self.start_timeout_s) or not self.url:
            tail = " | ".join(self._lines[-3:]) or "no output"
            self.stop()
            raise HarnessError(f"the embedded mock did not start: {tail}")
        if self.pin:
            self.pinning = pin_cores(self._proc.pid)
            self._restore = self.pinning.get("allowed")
        else:
            self.pinning = {"pinned": False, "why": "pinning disabled"}
        return self

    def _read_stderr(self, found: threading.Event) -> None:
        proc = self._proc
        assert proc is not None and proc.stderr is not None
        for line in proc.stderr:  # drained to the end so the child never blocks on a full pipe
            if not self.url:
                self._lines.append(line.strip())
                match = _URL.search(line)
                if match:
                    self.url = match.group(1)
                    found.set()
        found.set()

    def stop(self) -> None:
        if self._restore:
            os.sched_setaffinity(0, set(self._restore))  # this process gets its cores back
            self._restore = None
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> MockProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
