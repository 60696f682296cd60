"""An instant chat-completions server: every request gets the same canned SSE stream in one write.

Used to measure what a client costs when the server costs (almost) nothing: it parses only the
request head and Content-Length, never the JSON. `python benchmarks/instant_server.py` prints
`instant_server on http://127.0.0.1:PORT` on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time


def canned_stream(chunks: int = 32) -> bytes:
    """A chunked-encoded SSE body: role chunk, `chunks` content chunks, usage, [DONE]."""
    events = []
    base = {
        "id": "chatcmpl-instant",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "default",
    }

    def chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, object]:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events.append(chunk({"role": "assistant", "content": ""}))
    events += [chunk({"content": f" w{i}"}, "stop" if i == chunks - 1 else None) for i in range(chunks)]
    events.append(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 1, "completion_tokens": chunks, "total_tokens": chunks + 1},
        }
    )
    body = b""
    for event in events:
        data = f"data: {json.dumps(event)}\n\n".encode()
        body += f"{len(data):x}\r\n".encode() + data + b"\r\n"
    done = b"data: [DONE]\n\n"
    body += f"{len(done):x}\r\n".encode() + done + b"\r\n0\r\n\r\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
    return head + body


class _Server(asyncio.Protocol):
    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end].lower()
            length = 0
            at = head.find(b"content-length:")
            if at >= 0:
                length = int(head[at + 15 :].split(b"\r\n", 1)[0])
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            assert self.transport is not None
            self.transport.write(self.reply)


async def _main(port: int) -> None:
    loop = asyncio.get_running_loop()
    reply = canned_stream()
    server = await loop.create_server(lambda: _Server(reply), "127.0.0.1", port, backlog=2048)
    bound = server.sockets[0].getsockname()[1]
    print(f"instant_server on http://127.0.0.1:{bound}", file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
