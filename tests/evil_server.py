"""A deliberately hostile HTTP server on loopback, one behaviour per server, for the harness's own tests."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable

BEHAVIOURS = (
    "endless_sse",
    "stall",
    "huge_body",
    "bad_utf8",
    "deep_json",
    "no_headers",
    "reset_mid_body",
    "redirect_other_host",
    "html_200",
    "bad_content_length",
)


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(5)
    data = b""
    with contextlib.suppress(OSError):
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                break
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1].strip() or 0)
        while len(rest) < length:
            piece = conn.recv(65536)
            if not piece:
                break
            rest += piece
    return data


class EvilServer:
    """Serves `behaviour` to every connection until stopped; each connection in its own daemon thread."""

    def __init__(self, behaviour: str) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(behaviour)
        self.behaviour = behaviour
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> EvilServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        handler: Callable[[socket.socket], None] = getattr(self, "_" + self.behaviour)
        with contextlib.suppress(OSError), conn:
            _read_request(conn)
            handler(conn)

    def _alive(self) -> bool:
        return not self._stop.is_set()

    def _endless_sse(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n")
        chunk = b'data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[]}\n\n'
        while self._alive():
            conn.sendall(chunk)
            time.sleep(0.005)

    def _stall(self, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\ndata: {}\n\n")
        while self._alive():
            time.sleep(0.05)

    def _huge_body(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n"
        )
        block = b" " * 65536
        sent = 0
        while self._alive() and sent < 1073741824:
            conn.sendall(block)
            sent += len(block)

    def _bad_utf8(self, conn: socket.socket) -> None:
        body = b'{"id": "\xff\xfe\xfd", "object": "chat.completion"}'
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )

    def _deep_json(self, conn: socket.socket) -> None:
        body = b"[" * 100000 + b"]" * 100000
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )

    def _no_headers(self, conn: socket.socket) -> None:
        while self._alive():
            time.sleep(0.05)

    def _reset_mid_body(self, conn: socket.socket) -> None:
        conn.sendall(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"id":'
        )
        # SO_LINGER 0 turns close() into a TCP reset.
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _redirect_other_host(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 307 Temporary Redirect\r\nLocation: http://other-host.invalid/v1/chat/completions"
            b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )

    def _html_200(self, conn: socket.socket) -> None:
        body = b"<html><body><h1>Welcome to nginx!</h1></body></html>"
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )

    def _bad_content_length(self, conn: socket.socket) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: banana\r\n"
            b"Connection: close\r\n\r\n{}"
        )
