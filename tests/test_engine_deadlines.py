"""A request abandoned at its deadline: judged at its check's level, and the next probe is not blamed.

A one-slot server (like llama-cpp-python: every route waits for the model's lock) keeps generating an
answer chatcert stopped waiting for. The engine then waits, with one cheap GET bounded by the request
deadline, before the next probe; when even that gets no answer, the next check's failure says the
server is still busy with the previous request instead of blaming that check.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chatcert.client import Bounds, Target
from chatcert.engine import Run, RunConfig, run_certification
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile

SLOW_CHECK = "odd_unicode_not_5xx"  # SHOULD, probe chat_nul: the request the server holds its slot for
NEXT_CHECK = "response_created_is_unix_seconds"  # MUST, probe chat_basic: sent right after

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1767225600,
    "model": "default",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello."}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


class OneSlotServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, hold_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.slot = threading.Lock()
        self.hold_s = hold_s
        self.release = threading.Event()  # ends a hold early (test teardown)
        self.seen: list[str] = []


class _Handler(BaseHTTPRequestHandler):
    server: OneSlotServer

    def log_message(self, *args: Any) -> None:
        pass

    def _reply(self, doc: Any) -> None:
        data = json.dumps(doc).encode()
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up on this answer

    def do_GET(self) -> None:
        self.server.seen.append(f"GET {self.path}")
        with self.server.slot:
            self._reply({"object": "list", "data": [{"id": "default", "object": "model"}]})

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        slow = b"\\u0000" in body
        self.server.seen.append("POST slow" if slow else "POST")
        with self.server.slot:
            if slow:
                self.server.release.wait(self.server.hold_s)
            self._reply({**ANSWER, "created": int(time.time())})


@contextmanager
def one_slot_server(hold_s: float) -> Iterator[OneSlotServer]:
    server = OneSlotServer(hold_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


def _certify(server: OneSlotServer, deadline_s: float) -> Run:
    host, port = server.server_address[:2]
    config = RunConfig(
        profile=load_profile("compatible"),
        target=Target(f"http://{host!s}:{port}"),
        bounds=Bounds(deadline_s=deadline_s, stall_s=60.0, connect_s=5.0),
        only=(SLOW_CHECK, NEXT_CHECK),
    )
    return run_certification(config)


def test_server_that_frees_its_slot_is_waited_for() -> None:
    """Held 2.5 s, abandoned at 2 s: the GET that waits for the slot answers within its own 2 s bound."""
    with one_slot_server(hold_s=2.5) as server:
        run = _certify(server, deadline_s=2.0)
    results = {r.id: r for r in run.results}
    slow, after = results[SLOW_CHECK], results[NEXT_CHECK]
    assert slow.outcome is Outcome.NON_STRICT, slow  # a SHOULD check that got no answer is a warning
    assert "no HTTP response" in slow.message
    assert after.outcome is Outcome.PASSED, after
    assert server.seen == ["POST slow", "GET /v1/models", "POST"]
    assert [w["status"] for w in run.info["idle_waits"]] == [200]


def test_server_still_busy_is_named_instead_of_the_next_check() -> None:
    """Held far past every bound: the next check fails, and says the previous request is the cause."""
    with one_slot_server(hold_s=60.0) as server:
        run = _certify(server, deadline_s=0.5)
        server.release.set()
    after = {r.id: r for r in run.results}[NEXT_CHECK]
    assert after.outcome is Outcome.FAILED  # MUST: no answer is still a failure
    assert after.message.startswith("server still busy with the previous request")
    assert "NUL and odd unicode in content" in after.message
    assert run.info["idle_waits"][0]["status"] is None
