"""The mock server under load: 256 concurrent streams keep their chunk schedule; what validation costs.

schedule: the mock in its own process (`python -m mock_server`, pinned to the first core with
chatcert.bench.pin_cores, this client on the second), TTFT 50 ms, ITL 10 ms, 32 chunks, no jitter; a closed
loop of 64 or 256 aiohttp streams at once. The lateness of content chunk k is its `x_mock_sent_at` minus
(the stream's role-chunk stamp + TTFT + k * ITL): the mock's own schedule error, which the client's
speed cannot blur. Also printed: errors, req/s (ideal 256 / 0.36 s = 711), the TTFT this client saw
minus 50 ms, the lateness of each chunk's arrival here, the mock's CPU per stream and, beside each
run, the machine's load: the load average and the busy time of the mock's core that is not the mock's
(other work). The machine may be shared: `--repeat N` runs each level N times and judges the run with
the least other work. Goal (issue 5): no errors; lateness p99 <= 2 ms.
`--launch uvloop` runs the mock on uvloop, `--launch gc-freeze` freezes its start-up objects out of
the garbage collector; `--mock-src DIR` runs the mock_server package of another checkout (before/after);
`--realtime` runs mock and client under SCHED_FIFO (root), so that other work preempts them less.

validation: what validating each chat request against `openai/chat-request` costs the mock, per
request body (no validation; the pre-compiled validator the mock keeps per schema; a validator built
per request; `jsonschema.validate`, which also checks the schema each call) and for whole requests
to an in-process MockServer with its validation on and off.

    python benchmarks/bench_mock_server.py [--part schedule|validation|all] [--streams 64,256]
        [--rounds 8] [--repeat 3] [--launch asyncio|uvloop|gc-freeze] [--mock-src DIR] [--realtime]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import jsonschema
from _clients import realtime
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert.bench.metrics import percentile
from chatcert.bench.mockproc import pin_cores
from chatcert.wire import schemas as schemas_module
from chatcert.wire.schemas import SchemaStore
from chatcert_data import data_dir
from mock_server import MockServer
from mock_server.chat import CHAT_REQUEST_ID
from mock_server.samples import data_url, png_bytes

TTFT_MS, ITL_MS, CHUNKS = 50.0, 10.0, 32
BODY = {"model": "default", "messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 64}
HEADERS = {"Content-Type": "application/json", "Accept": "text/event-stream"}


# ---- schedule --------------------------------------------------------------------------------


class _Stream:
    """What one streamed request showed: lateness of each content chunk at the mock and at this client,
    the client-measured TTFT, or an error."""

    def __init__(self) -> None:
        self.server: list[float] = []  # x_mock_sent_at - due, ms
        self.client: list[float] = []  # arrival - due, ms
        self.ttft_ms: float | None = None
        self.error: str | None = None


async def _one_stream(session: aiohttp.ClientSession, url: str) -> _Stream:
    out = _Stream()
    stamps: list[float] = []  # x_mock_sent_at of content chunks, in order
    arrivals: list[float] = []
    anchor: float | None = None  # the role chunk's stamp: when the mock started this stream's clock
    done = False
    sent = time.perf_counter()
    try:
        async with session.post(url, data=json.dumps(BODY), headers=HEADERS) as response:
            if response.status != 200:
                out.error = f"status {response.status}"
                return out
            buffer = b""
            async for data in response.content.iter_any():  # each read stamped before it is parsed
                arrived, clock = time.time(), time.perf_counter()
                *events, buffer = (buffer + data).split(b"\n\n")
                for event in events:
                    if not event.startswith(b"data: "):
                        continue
                    if event == b"data: [DONE]":
                        done = True
                        continue
                    chunk = json.loads(event[6:])
                    delta = chunk["choices"][0]["delta"] if chunk.get("choices") else {}
                    if anchor is None:
                        anchor = chunk["x_mock_sent_at"]
                    elif delta.get("content"):
                        if out.ttft_ms is None:
                            out.ttft_ms = (clock - sent) * 1000
                        stamps.append(chunk["x_mock_sent_at"])
                        arrivals.append(arrived)
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    if anchor is None or not done or len(stamps) != CHUNKS:
        out.error = f"incomplete stream ({len(stamps)} chunks, done={done})"
        return out
    due = [anchor + (TTFT_MS + k * ITL_MS) / 1000 for k in range(CHUNKS)]
    out.server = [(s - d) * 1000 for s, d in zip(stamps, due, strict=True)]
    out.client = [(a - d) * 1000 for a, d in zip(arrivals, due, strict=True)]
    return out


async def _closed_loop(url: str, streams: int, rounds: int) -> dict[str, Any]:
    server: list[float] = []
    client: list[float] = []
    ttft: list[float] = []
    errors: list[str] = []
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:

        async def worker() -> None:
            for _ in range(rounds):
                one = await _one_stream(session, url)
                server.extend(one.server)
                client.extend(one.client)
                if one.ttft_ms is not None:
                    ttft.append(one.ttft_ms)
                if one.error:
                    errors.append(one.error)

        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(streams)))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "client_cpu": cpu / wall,
        "server": server,
        "client": client,
        "ttft": ttft,
        "errors": errors,
        "wall": wall,
        "requests": streams * rounds,
    }


def _summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    values = sorted(values)
    p50, p99 = percentile(values, 50), percentile(values, 99)
    return f"p50 {p50:+.2f} ms  p99 {p99:+.2f} ms  max {max(values):+.2f} ms  (n={len(values)})"


# How the mock's process is started: as shipped; on uvloop (without changing how mock_server picks its
# loop); or with the objects of its start-up frozen out of the garbage collector after build_app
# (gc.freeze: what the change to runner.serve_forever proposed in docs/mock-server.md would do).
_LAUNCHERS = {
    "asyncio": ["-m", "mock_server"],
    "uvloop": [
        "-c",
        "import asyncio, sys, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
        "from mock_server.__main__ import main; sys.exit(main(sys.argv[1:]))",
    ],
    "gc-freeze": [
        "-c",
        "import gc, sys; from mock_server import runner; build = runner.build_app\n"
        "def frozen(*args, **kwargs):\n"
        "    app = build(*args, **kwargs); gc.collect(); gc.freeze(); return app\n"
        "runner.build_app = frozen; from mock_server.__main__ import main; sys.exit(main(sys.argv[1:]))",
    ],
}


class MockChild:
    """`python -m mock_server --quiet` with a scenario file, pinned to the first core (this process on
    the second, chatcert.bench.pin_cores); reports the CPU time it used, from /proc (Linux).

    `launch` is a key of _LAUNCHERS; `source` runs the mock_server package of another checkout (a
    before/after comparison)."""

    def __init__(
        self, scenario: dict[str, float], folder: Path, launch: str = "asyncio", source: Path | None = None
    ) -> None:
        path = folder / "scenario.json"
        path.write_text(json.dumps(scenario), encoding="utf-8")
        options = ["--profile", "compatible", "--port", "0", "--quiet", "--scenario", str(path)]
        env = dict(os.environ)
        if source is not None:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source), env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, *_LAUNCHERS[launch], *options],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=source,
        )
        assert self.process.stderr is not None
        banner = self.process.stderr.readline()
        self.url = banner.rsplit(" ", 1)[-1].strip()
        if not self.url.startswith("http://"):
            raise RuntimeError(f"the mock did not start: {banner!r}")
        self.pinning = pin_cores(self.process.pid)

    def cpu_s(self) -> float:
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.pinning.get("allowed"):
            os.sched_setaffinity(0, set(self.pinning["allowed"]))
        self.process.terminate()
        self.process.wait(timeout=10)


def _core_busy_s(core: int | None) -> float:
    """Busy CPU seconds of one core (all cores when None) since boot, from /proc/stat (Linux)."""
    name = "cpu" if core is None else f"cpu{core}"
    try:
        for line in Path("/proc/stat").read_text().splitlines():
            fields = line.split()
            if fields[0] == name:
                ticks = [int(f) for f in fields[1:8]]  # user nice system idle iowait irq softirq
                return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return float("nan")


def bench_schedule(
    levels: list[int], rounds: int, repeat: int, launch: str, source: Path | None, fifo: bool
) -> bool:
    """Each level `repeat` times (levels interleaved); prints every run and, per level, the run with the
    least other work on the mock's core (the machine is shared); the goal is judged on that run."""
    scheduling = realtime(fifo)  # before the mock starts: it inherits SCHED_FIFO
    scenario = {"ttft_ms": TTFT_MS, "itl_ms": ITL_MS, "chunks": CHUNKS, "jitter_ms": 0}
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in levels}
    with tempfile.TemporaryDirectory() as folder:
        mock = MockChild(scenario, Path(folder), launch, source)
        try:
            where = f"mock_server from {source}" if source else "this checkout's mock_server"
            print(f"schedule: TTFT {TTFT_MS:g} ms, ITL {ITL_MS:g} ms, {CHUNKS} chunks, no jitter")
            print(f"  mock: {launch}, {where}; {scheduling}")
            print(f"  mock process: {mock.pinning}")
            core = mock.pinning.get("server_core")
            url = mock.url + "/v1/chat/completions"
            asyncio.run(_closed_loop(url, 8, 1))  # warm-up: connections and first-use paths
            for _ in range(repeat):
                for streams in levels:
                    load = os.getloadavg()[0]
                    cpu, busy = mock.cpu_s(), _core_busy_s(core)
                    result = asyncio.run(_closed_loop(url, streams, rounds))
                    result["cpu_s"] = mock.cpu_s() - cpu
                    result["other"] = (_core_busy_s(core) - busy - result["cpu_s"]) / result["wall"]
                    result["load"] = load
                    runs[streams].append(result)
                    _report(streams, result)
        finally:
            mock.stop()
    met = True
    print("quietest run per level (least other work on the mock's core):")
    for streams in levels:
        met = _report(streams, min(runs[streams], key=lambda r: r["other"])) and met
    return met


def _report(streams: int, result: dict[str, Any]) -> bool:
    ideal = streams / ((TTFT_MS + (CHUNKS - 1) * ITL_MS) / 1000)
    requests, cpu_s = result["requests"], result["cpu_s"]
    rps = requests / result["wall"]
    errors = len(result["errors"])
    print(
        f"  {streams} streams: {requests} requests, {errors} errors, {rps:.0f} req/s (ideal {ideal:.0f}); "
        f"load average {result['load']:.2f}, other work on the mock's core {max(0.0, result['other']):.0%}"
    )
    print(
        f"    mock CPU {cpu_s / requests * 1e6:.0f} us per stream ({CHUNKS + 3} events), "
        f"{cpu_s / result['wall']:.0%} of its core; one core would serve about {requests / cpu_s:.0f} req/s; "
        f"this client {result['client_cpu']:.0%} of its core"
    )
    for error in sorted(set(result["errors"]))[:5]:
        print(f"    error: {error}")
    ttft = sorted(result["ttft"])
    if ttft:
        p50, p99 = percentile(ttft, 50) - TTFT_MS, percentile(ttft, 99) - TTFT_MS
        print(f"    TTFT error at this client (vs {TTFT_MS:g} ms):   p50 {p50:+.2f} ms  p99 {p99:+.2f} ms")
    print(f"    mock lateness (x_mock_sent_at vs schedule): {_summary(result['server'])}")
    print(f"    arrival lateness at this client:            {_summary(result['client'])}")
    p99 = percentile(sorted(result["server"]), 99) if result["server"] else float("inf")
    met = not result["errors"] and p99 <= 2.0
    print(f"    {'MET ' if met else 'MISS'} goal: no errors and mock lateness p99 <= 2 ms")
    return met


# ---- validation ------------------------------------------------------------------------------


def _bodies() -> dict[str, dict[str, Any]]:
    text = {"model": "default", "messages": [{"role": "user", "content": "Say hello in five words."}]}
    vision = {
        "model": "default",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": data_url(png_bytes(512, 512))}},
                    {"type": "text", "text": "Describe this image."},
                ],
            }
        ],
        "max_tokens": 64,
    }
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    turns = [
        {"role": "system", "content": "You are terse."},
        *({"role": "user", "content": f"turn {i}"} for i in range(10)),
    ]
    tools = {
        "model": "default",
        "messages": turns,
        "tools": [tool, tool],
        "tool_choice": "auto",
        "temperature": 0,
    }
    return {"text": text, "vision (512x512 PNG)": vision, "tools, 11 turns": tools}


def _per_call_us(call: Callable[[], object], batches: int = 7, seconds: float = 0.7) -> float:
    """The fastest of `batches` batches' mean time per call, in microseconds: the least disturbed
    figure on a machine that runs other work too."""
    start = time.perf_counter()
    call()
    size = max(1, int(seconds / batches / max(time.perf_counter() - start, 1e-7)))
    best = float("inf")
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(size):
            call()
        best = min(best, (time.perf_counter() - start) / size * 1e6)
    return best


def _handling_ms(server: MockServer, body: dict[str, Any], n: int, mode: str) -> list[float]:
    """The mock's own time per request (its journal's duration_ms: from reading the request to the last
    byte written) over one keep-alive connection. `mode`: "mock" validates as the mock does, "python"
    with the jsonschema validator alone, "none" not at all."""
    error, fast = SchemaStore.error, schemas_module._RUST
    if mode == "none":
        SchemaStore.error = lambda self, schema_id, instance: None  # type: ignore[method-assign]
    elif mode == "python":
        schemas_module._RUST = None
    try:
        server.clear_journal()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(n):
                client.post("/v1/chat/completions", json=body).raise_for_status()
    finally:
        SchemaStore.error, schemas_module._RUST = error, fast  # type: ignore[method-assign]
    return [float(e["duration_ms"]) for e in server.journal()]


def _schema_and_registry() -> tuple[dict[str, Any], Registry[Any]]:
    """The chat-request schema and a registry of every schema, as SchemaStore builds them."""
    found: dict[str, Any] = {}
    resources = []
    for path in sorted(data_dir("schemas").rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents, DRAFT202012)))
        found[contents["$id"]] = contents
    return found[CHAT_REQUEST_ID], Registry().with_resources(resources)


def bench_validation(n: int) -> None:
    store = SchemaStore()  # what the mock uses
    schema, registry = _schema_and_registry()
    compiled = Draft202012Validator(schema, registry=registry)
    rust = schemas_module._RUST
    fast = rust.validator_for(schema, validate_formats=False) if rust is not None else None
    print(f"validation: per chat-request body, us per call (fastest of 7 batches); {_load()}")
    print("  columns: jsonschema pre-compiled | jsonschema built per call | jsonschema.validate (checks")
    print("  the schema too) | jsonschema_rs pre-compiled | the mock (SchemaStore.error: fast path first)")
    print(f"  {'body':<22} {'precompiled':>11} {'per call':>9} {'validate()':>11} {'rs':>6} {'mock':>6}")

    def precompiled(body: Any) -> object:
        return best_match(compiled.iter_errors(body))

    def per_call(body: Any) -> object:
        return best_match(Draft202012Validator(schema, registry=registry).iter_errors(body))

    def naive(body: Any) -> object:
        jsonschema.validate(body, schema, cls=Draft202012Validator, registry=registry)
        return None

    def mock(body: Any) -> object:
        return store.error(CHAT_REQUEST_ID, body)

    for name, body in _bodies().items():
        kinds = (precompiled, per_call, naive, mock)
        pre, built, slow, ours = (_per_call_us(partial(f, body)) for f in kinds)
        rs = _per_call_us(partial(fast.is_valid, body)) if fast is not None else float("nan")
        print(f"  {name:<22} {pre:>11.1f} {built:>9.1f} {slow:>11.0f} {rs:>6.1f} {ours:>6.1f}")
    print(f"validation: the mock's time per request (journal duration_ms, median of {n}, interleaved)")
    print(f"  {'body':<22} {'stream':>7} {'as the mock':>12} {'jsonschema only':>16} {'none':>7}")
    with MockServer("compatible") as server:
        for name, body in _bodies().items():
            for stream in (False, True):
                sent = {**body, "stream": stream}
                found: dict[str, list[float]] = {"mock": [], "python": [], "none": []}
                for _ in range(4):  # interleaved blocks, so a burst of other load hits every mode
                    for mode, values in found.items():
                        values += _handling_ms(server, sent, n // 4, mode)
                us = {mode: statistics.median(values) * 1000 for mode, values in found.items()}
                row = f"{us['mock']:>10.0f}us {us['python']:>14.0f}us {us['none']:>5.0f}us"
                print(f"  {name:<22} {stream!s:>7} {row}")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} CPUs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("schedule", "validation", "all"), default="all")
    parser.add_argument(
        "--streams", default="256", help="concurrent streams, comma-separated levels [default: 256]"
    )
    parser.add_argument("--rounds", type=int, default=8, help="streams per connection slot [default: 8]")
    parser.add_argument("--repeat", type=int, default=1, help="runs per level [default: 1]")
    parser.add_argument(
        "--launch", choices=sorted(_LAUNCHERS), default="asyncio", help="how the mock's process starts"
    )
    parser.add_argument(
        "--realtime", action="store_true", help="mock and client under SCHED_FIFO (root): less preemption"
    )
    parser.add_argument(
        "--mock-src", type=Path, help="run the mock_server package found in this folder (before/after)"
    )
    parser.add_argument(
        "--requests", type=int, default=400, help="requests per validation row [default: 400]"
    )
    args = parser.parse_args()
    met = True
    if args.part in ("validation", "all"):
        bench_validation(args.requests)
    if args.part in ("schedule", "all"):
        levels = [int(n) for n in args.streams.split(",")]
        met = bench_schedule(levels, args.rounds, args.repeat, args.launch, args.mock_src, args.realtime)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
