"""The mock's fast stream path sends the bytes of its general path (no defect, no fault)."""

from __future__ import annotations

import asyncio
import re
from typing import Any
from unittest import mock

import httpx
import pytest

from mock_server import MockServer, delivery
from mock_server.replies import SseEvent

EVENTS = [
    SseEvent({"a": 1, "b": [1, 'é\u2028"\\'], "c": None}),
    SseEvent({}),
    SseEvent("[DONE]", kind="done"),
    SseEvent({"x": 1.5}, event="message_start"),
    SseEvent("raw", event="ping"),
]


_CREATED = re.compile(r'"created":\s*\d+')


class _Sink:
    def __init__(self) -> None:
        self.out: list[bytes] = []

    async def write(self, data: bytes) -> None:
        self.out.append(data)


@pytest.mark.parametrize("event", EVENTS)
def test_template_matches_general_path(event: SseEvent) -> None:
    with mock.patch("time.time", return_value=1795313021.1234567):
        sink = _Sink()
        asyncio.run(delivery._write_event(sink, event))  # type: ignore[arg-type]
        plan = delivery._Plan()
        plan.add(event)
        assert plan.frames(0, 1) == sink.out[0]
        data = plan.frames(0, 1)
        assert plan.chunk(0, 1) == b"%x\r\n%s\r\n" % (len(data), data)


def _text(server: MockServer, headers: dict[str, str]) -> list[Any]:
    body = {"model": "default", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    response = httpx.post(server.route_url("chat"), json=body, headers=headers, timeout=10)
    lines = [line for line in response.text.split("\n\n") if line]
    # `created` is the wall-clock second, which may tick between the two requests.
    return [_CREATED.sub('"created":0', line.split('"x_mock_sent_at"')[0]) for line in lines]


def test_fast_and_general_paths_send_the_same_events() -> None:
    """The same paced stream through the fast path and, with it switched off, the general one."""
    with MockServer("compatible") as server:
        fast = _text(server, {"X-Mock-Scenario": "ttft_ms=5;itl_ms=1;jitter_ms=1;chunks=6"})
        with mock.patch.object(delivery, "_templatable", return_value=False):
            general = _text(server, {"X-Mock-Scenario": "ttft_ms=5;itl_ms=1;jitter_ms=1;chunks=6"})
    assert fast == general and len(fast) == 9  # role, 6 content, finish, [DONE]
