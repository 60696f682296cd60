"""Soak: the mock server under many concurrent clients, streams, faults and mid-stream disconnects at once.

The mock runs as `python -m mock_server --port 0 --quiet` in its own process. For --duration seconds,
--clients asyncio workers each send one request after another, every request tagged `X-Soak-Id`, its
kind drawn (seeded) from this mix:

    stream      a stream paced by X-Mock-Scenario, read to `data: [DONE]`; must complete, every chunk
    plain       a non-stream request; must be a 200 chat completion
    fault       a stream or not, with a fault (drop, drop_mid_stream, truncated_json, malformed_json,
                slow_headers, stall, midstream_error) or status 429/500/503; any outcome, but it must end
    disconnect  a slow stream the client aborts after its first chunk
    early       a slow_headers request the client aborts before the headers arrive

Meanwhile /health is polled twice a second and the journal once a second (entries kept by `seq`, so the
journal's 10,000-entry window never loses one). The run holds when:

    alive        the process is alive and every /health poll (and a last one) answered 200 ok
    no leak      the mock's open sockets (/proc/PID/fd) come back to the count before the load
    journal      every X-Soak-Id sent appears in the journal exactly once, with no gap in `seq`
    undisturbed  every `stream` and `plain` request succeeded, although disconnects ran beside them
    clean log    the mock logged no traceback or internal error

    python benchmarks/soak_mock_server.py [--duration 60] [--clients 48] [--profile compatible]
                                          [--seed 0] [--json FILE]

Exit 0 when everything holds, 1 when something does not, 2 for bad arguments. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

KINDS = {"stream": 40, "plain": 15, "fault": 25, "disconnect": 15, "early": 5}
FAULTS = (
    "drop",
    "drop_mid_stream",
    "truncated_json",
    "malformed_json",
    "slow_headers",
    "stall",
    "midstream_error",
)
STREAM_CHUNKS = 12
STREAM_SCENARIO = f"ttft_ms=10;itl_ms=5;chunks={STREAM_CHUNKS}"
SLOW_SCENARIO = "ttft_ms=10;itl_ms=30;chunks=40"
REQUEST_TIMEOUT_S = 20.0
SETTLE_S = 15.0
_URL = re.compile(r"on (http://\S+)")


@dataclass
class Outcome:
    kind: str
    ok: bool
    detail: str = ""


@dataclass
class Report:
    duration_s: float
    clients: int
    profile: str
    requests: dict[str, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)
    alive: bool = False
    health_polls: int = 0
    health_failures: int = 0
    sockets_before: int = -1
    sockets_peak: int = -1
    sockets_after: int = -1
    rss_kib_before: int = -1
    rss_kib_after: int = -1
    sent_ids: int = 0
    journal_entries: int = 0
    journal_missing: list[str] = field(default_factory=list)
    journal_missing_kinds: dict[str, int] = field(default_factory=dict)
    journal_duplicates: list[str] = field(default_factory=list)
    journal_seq_gaps: int = 0
    log_problems: list[str] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


# -- the mock process and what /proc says about it -------------------------------------------------------


class MockProcess:
    """`python -m mock_server` on a free loopback port; its stderr is kept (it carries any traceback)."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self.url = ""
        self.stderr: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> MockProcess:
        command = [sys.executable, "-m", "mock_server", "--profile", self.profile, "--port", "0", "--quiet"]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        found = threading.Event()
        threading.Thread(target=self._drain, args=(found,), daemon=True).start()
        if not found.wait(30) or not self.url:
            self.__exit__()
            raise RuntimeError("the mock did not start: " + " | ".join(self.stderr[-3:]))
        return self

    def _drain(self, found: threading.Event) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        for line in self.proc.stderr:  # read to the end so the child never blocks on a full pipe
            self.stderr.append(line.rstrip("\n"))
            match = _URL.search(line)
            if match and not self.url:
                self.url = match.group(1)
                found.set()
        found.set()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __exit__(self, *exc: object) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def socket_fds(pid: int) -> int:
    """Open sockets of process `pid` (its /proc/PID/fd entries that link to socket:[...])."""
    count = 0
    for name in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # an fd may close while we look
            if os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                count += 1
    return count


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def journal_problems(sent: list[str], entries: list[dict[str, Any]]) -> tuple[list[str], list[str], int]:
    """(ids sent but not journalled, ids journalled more than once, gaps in `seq`)."""
    seen = Counter(
        value
        for entry in entries
        for name, value in (entry.get("headers") or {}).items()
        if name.lower() == "x-soak-id"
    )
    missing = sorted(set(sent) - set(seen), key=int)
    duplicates = sorted((i for i, n in seen.items() if n > 1), key=int)
    seqs = sorted(int(e["seq"]) for e in entries if isinstance(e.get("seq"), int))
    gaps = sum(b - a - 1 for a, b in itertools.pairwise(seqs) if b - a > 1)
    return missing, duplicates, gaps


# -- clients ---------------------------------------------------------------------------------------------


def _body(model: str, stream: bool) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "soak"}],
        "stream": stream,
        "max_tokens": 64,
    }


async def _stream_to_done(response: aiohttp.ClientResponse) -> tuple[bool, int]:
    """Read an SSE body; (saw [DONE], content chunks)."""
    done, content = False, 0
    async for raw in response.content:
        line = raw.decode("utf-8", "replace").strip()
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            continue
        with contextlib.suppress(ValueError):
            chunk = json.loads(data)
            choices = chunk.get("choices") if isinstance(chunk, dict) else None
            if choices and (choices[0].get("delta") or {}).get("content"):
                content += 1
    return done, content


class Load:
    """Workers sending the mix until the deadline; every request id is recorded before it is sent."""

    def __init__(
        self, url: str, chat: str, model: str, seed: int, kinds: dict[str, int] | None = None
    ) -> None:
        self.kinds = kinds or KINDS
        self.url = url
        self.chat = url + chat
        self.model = model
        self.rng = random.Random(seed)
        self.next_id = 0
        self.sent: list[str] = []
        self.outcomes: list[Outcome] = []
        self.kind_of: dict[str, str] = {}

    def _new_id(self, kind: str) -> str:
        self.next_id += 1
        self.sent.append(str(self.next_id))
        self.kind_of[str(self.next_id)] = kind
        return str(self.next_id)

    async def worker(self, session: aiohttp.ClientSession, deadline: float) -> None:
        kinds, weights = list(self.kinds), list(self.kinds.values())
        while time.monotonic() < deadline:
            kind = self.rng.choices(kinds, weights)[0]
            try:
                outcome = await asyncio.wait_for(self._one(session, kind), REQUEST_TIMEOUT_S)
            except asyncio.TimeoutError:
                outcome = Outcome(kind, False, f"no end within {REQUEST_TIMEOUT_S:g} s")
            self.outcomes.append(outcome)

    async def _one(self, session: aiohttp.ClientSession, kind: str) -> Outcome:
        headers = {"X-Soak-Id": self._new_id(kind), "Content-Type": "application/json"}
        if kind == "stream":
            headers["X-Mock-Scenario"] = STREAM_SCENARIO
            async with session.post(self.chat, json=_body(self.model, True), headers=headers) as response:
                if response.status != 200:
                    return Outcome(kind, False, f"HTTP {response.status}")
                done, content = await _stream_to_done(response)
            ok = done and content == STREAM_CHUNKS
            return Outcome(kind, ok, "" if ok else f"done={done}, {content}/{STREAM_CHUNKS} chunks")
        if kind == "plain":
            async with session.post(self.chat, json=_body(self.model, False), headers=headers) as response:
                doc = await response.json(content_type=None) if response.status == 200 else None
            ok = isinstance(doc, dict) and bool(doc.get("choices"))
            return Outcome(kind, ok, "" if ok else f"HTTP {response.status}")
        if kind == "fault":
            fault = self.rng.choice([*FAULTS, "status=429", "status=500", "status=503"])
            spec = fault if fault.startswith("status=") else f"fault={fault}"
            headers["X-Mock-Scenario"] = f"{spec};delay_ms=50;stall_ms=100;{STREAM_SCENARIO}"
            stream = self.rng.random() < 0.5
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with session.post(
                    self.chat, json=_body(self.model, stream), headers=headers
                ) as response:
                    await response.read()
            return Outcome(kind, True)  # any answer, or none, is fine: the request ended
        if kind == "disconnect":
            headers["X-Mock-Scenario"] = SLOW_SCENARIO
            async with session.post(self.chat, json=_body(self.model, True), headers=headers) as response:
                await response.content.readline()
                _abort(response)
            return Outcome(kind, True)
        headers["X-Mock-Scenario"] = "fault=slow_headers;delay_ms=300"
        await self._early(headers)
        return Outcome(kind, True)

    async def _early(self, headers: dict[str, str]) -> None:
        """Write the whole request (so it counts as sent), then hang up before the headers come back."""
        parts = urlsplit(self.chat)
        body = json.dumps(_body(self.model, False)).encode()
        head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        _, writer = await asyncio.open_connection(parts.hostname, parts.port)
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.transport.abort()


def _abort(response: aiohttp.ClientResponse) -> None:
    """Drop the connection under a response at once, as a client that goes away mid-stream does."""
    connection = response.connection
    transport = connection.transport if connection is not None else None
    if transport is not None:
        transport.abort()
    response.close()


async def _poll_health(url: str, stop: asyncio.Event, report: Report) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while not stop.is_set():
            report.health_polls += 1
            try:
                async with session.get(url + "/health") as response:
                    doc = await response.json(content_type=None)
                    if response.status != 200 or doc.get("status") != "ok":
                        report.health_failures += 1
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                report.health_failures += 1
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)


async def _fetch_journal(session: aiohttp.ClientSession, url: str, into: dict[int, dict[str, Any]]) -> None:
    async with session.get(url + "/_mock/journal") as response:
        doc = await response.json(content_type=None)
    for entry in doc.get("requests", []):
        into[int(entry["seq"])] = entry


async def _poll_journal(url: str, stop: asyncio.Event, into: dict[int, dict[str, Any]]) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        while not stop.is_set():
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                await _fetch_journal(session, url, into)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)


async def _settle(mock: MockProcess, load: Load, entries: dict[int, dict[str, Any]], baseline: int) -> int:
    """Wait until every request is journalled and the sockets are back to `baseline` (or time is up)."""
    end = time.monotonic() + SETTLE_S
    sockets = socket_fds(mock.pid)
    async with aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(force_close=True), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        while time.monotonic() < end:
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                await _fetch_journal(session, mock.url, entries)
            missing, _, _ = journal_problems(load.sent, list(entries.values()))
            sockets = socket_fds(mock.pid)
            if not missing and sockets <= baseline:
                break
            await asyncio.sleep(0.25)
    return sockets


async def soak(
    duration_s: float,
    clients: int,
    profile: str = "compatible",
    seed: int = 0,
    kinds: list[str] | None = None,
) -> Report:
    from mock_server.profile import load_profile

    loaded = load_profile(profile)
    report = Report(duration_s=duration_s, clients=clients, profile=profile)
    with MockProcess(profile) as mock:
        mix = {k: w for k, w in KINDS.items() if kinds is None or k in kinds}
        load = Load(mock.url, loaded.routes["chat"], loaded.model, seed, mix)
        entries: dict[int, dict[str, Any]] = {}
        if not await _healthy(mock.url):
            raise RuntimeError("the mock did not answer /health")
        await asyncio.sleep(0.5)  # let the warm-up connection close on both sides
        report.sockets_before = socket_fds(mock.pid)
        report.rss_kib_before = rss_kib(mock.pid)
        report.sockets_peak = report.sockets_before
        stop = asyncio.Event()
        watchers = [
            asyncio.ensure_future(_poll_health(mock.url, stop, report)),
            asyncio.ensure_future(_poll_journal(mock.url, stop, entries)),
        ]

        async def peak() -> None:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    report.sockets_peak = max(report.sockets_peak, socket_fds(mock.pid))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)

        watchers.append(asyncio.ensure_future(peak()))
        # One connection per request (force_close): a socket the mock keeps is then a leak, not keep-alive.
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S + 5)
        deadline = time.monotonic() + duration_s
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            results = await asyncio.gather(
                *(load.worker(session, deadline) for _ in range(clients)), return_exceptions=True
            )
        stop.set()
        await asyncio.gather(*watchers, return_exceptions=True)
        crashed = [r for r in results if isinstance(r, BaseException)]
        report.sockets_after = await _settle(mock, load, entries, report.sockets_before)
        report.rss_kib_after = rss_kib(mock.pid) if mock.alive() else -1
        report.alive = mock.alive() and await _healthy(mock.url)
        await asyncio.sleep(0.2)  # the stderr reader thread catches up with the last lines
        report.log_problems = [
            line for line in mock.stderr if re.search(r"Traceback|internal error|Error:", line)
        ]

    counts = Counter(o.kind for o in load.outcomes)
    report.requests = dict(sorted(counts.items()))
    for outcome in load.outcomes:
        if not outcome.ok:
            report.failures.setdefault(outcome.kind, []).append(outcome.detail)
    for error in crashed:
        report.failures.setdefault("client", []).append(f"{type(error).__name__}: {error}")
    report.sent_ids = len(load.sent)
    report.journal_entries = len(entries)
    missing, duplicates, gaps = journal_problems(load.sent, list(entries.values()))
    report.journal_missing, report.journal_duplicates, report.journal_seq_gaps = (
        missing[:50],
        duplicates[:50],
        gaps,
    )
    report.journal_missing_kinds = dict(Counter(load.kind_of[i] for i in missing))
    report.checks = {
        "alive": report.alive and report.health_failures == 0,
        "no leaked connection": 0 <= report.sockets_after <= report.sockets_before,
        "journal has every request": not missing and not duplicates and gaps == 0,
        "undisturbed": not report.failures
        and counts["stream"] > 0
        and (counts["disconnect"] > 0 or "disconnect" not in mix),
        "clean log": not report.log_problems,
    }
    return report


async def _healthy(url: str) -> bool:
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(url + "/health") as response,
        ):
            doc = await response.json(content_type=None)
            return response.status == 200 and doc.get("status") == "ok"
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return False


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value

    return parse


def _kinds(text: str) -> list[str]:
    chosen = [k.strip() for k in text.split(",") if k.strip()]
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown or "stream" not in chosen:
        raise argparse.ArgumentTypeError(f"{text!r}: kinds are {', '.join(KINDS)}, and 'stream' is needed")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--duration", type=_positive(float), default=60.0, help="seconds of load [60]")
    parser.add_argument("--clients", type=_positive(int), default=48, help="concurrent clients [48]")
    parser.add_argument("--profile", default="compatible", help="mock profile [compatible]")
    parser.add_argument("--seed", type=int, default=0, help="seed of the request mix [0]")
    parser.add_argument(
        "--kinds",
        type=_kinds,
        default=list(KINDS),
        metavar="K[,K...]",
        help=f"request kinds to mix, of {','.join(KINDS)} [all]",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    args = parser.parse_args(argv)
    if not Path("/proc/self/fd").is_dir():
        parser.exit(2, "soak_mock_server: needs /proc (Linux) to count the mock's sockets\n")
    report = asyncio.run(soak(args.duration, args.clients, args.profile, args.seed, args.kinds))
    if args.json:
        Path(args.json).write_text(json.dumps({**asdict(report), "ok": report.ok}, indent=1) + "\n")
    total = sum(report.requests.values())
    print(
        f"soak: {total} requests in {report.duration_s:g} s from {report.clients} clients: {report.requests}"
    )
    print(
        f"sockets before/peak/after: {report.sockets_before}/{report.sockets_peak}/{report.sockets_after}; "
        f"RSS {report.rss_kib_before} -> {report.rss_kib_after} KiB; health polls {report.health_polls} "
        f"({report.health_failures} failed); journal: {report.journal_entries} entries, {report.sent_ids} ids"
    )
    for name, held in report.checks.items():
        print(f"  {'ok  ' if held else 'FAIL'} {name}")
    for kind, details in report.failures.items():
        print(f"  {kind}: {len(details)} failed, e.g. {details[0]}")
    if report.journal_missing or report.journal_duplicates:
        print(
            f"  journal: missing {report.journal_missing[:5]} (by kind {report.journal_missing_kinds}), "
            f"duplicated {report.journal_duplicates[:5]}"
        )
    for line in report.log_problems[:5]:
        print(f"  mock log: {line}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
