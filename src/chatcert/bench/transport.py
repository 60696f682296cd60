"""The bench transport: a minimal asyncio HTTP/1.1 client that stamps every raw read before parsing.

Chosen by measurement over aiohttp and sharded httpx (docs/benchmarks.md). On Linux, plain-http reads
carry the kernel's arrival stamp (chatcert.bench.kernelstamps); elsewhere, and over TLS, a read is
stamped by `perf_counter()` first thing in `data_received`. A response is framed
(status line, headers, chunked or Content-Length body) as reads arrive; the body is kept as
`(stamp, bytes)` pieces and the SSE/JSON parsing happens once the response is complete, so the only
work between a read and its stamp is the event loop's own. Conformance requests keep using httpx
(chatcert.client); this path exists only for latency runs.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from time import perf_counter
from typing import Protocol, cast
from urllib.parse import urlsplit

from chatcert.bench.kernelstamps import KERNEL_STAMPS, KernelStampedSocket, StampsSwitch, open_stamped

__all__ = ["DEFAULT_MAX_BODY_BYTES", "Connection", "Pool", "RawResponse", "TransportError", "build_request"]

_MAX_HEAD = 64 * 1024  # also bounds a buffered chunk-size or trailer line
# The conformance client's default cap (chatcert.client.Bounds): a latency run never needs more, and a
# hostile or broken server must not make the client hold an unbounded body in memory.
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# How long the first connection waits for the kernel to switch stamping on (it takes a work-queue run,
# usually well under a millisecond); after that the pool goes on, and unstamped reads are counted.
_STAMPS_WAIT_S = 0.5
_HEAD, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_CRLF, _TRAILER, _LENGTH, _UNTIL_CLOSE, _DONE = range(8)


class _Writer(Protocol):
    """What a Connection needs of its transport: asyncio's, uvloop's or KernelStampedSocket."""

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class TransportError(Exception):
    """The connection failed, closed early, or the response could not be framed."""


@dataclass
class RawResponse:
    """One framed response. Stamps are `time.perf_counter()` seconds; `parts` are decoded body pieces."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    sent: float = 0.0
    first_byte: float = 0.0
    head_at: float = 0.0
    end: float = 0.0
    parts: list[tuple[float, bytes]] = field(default_factory=list)
    reads: int = 0
    keep_alive: bool = True
    error: str | None = None

    @property
    def body(self) -> bytes:
        return b"".join(p for _, p in self.parts)


def build_request(method: str, url: str, headers: dict[str, str], body: bytes | None) -> bytes:
    """Serialise one HTTP/1.1 request (headers and body in one buffer, so one write sends both)."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    if parts.port:
        host += f":{parts.port}"  # never the userinfo of the URL
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head + (body or b"")


class Connection(asyncio.Protocol):
    """One keep-alive connection carrying one request at a time."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        pool: Pool | None = None,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._loop = loop
        self._pool = pool
        self.max_body_bytes = max_body_bytes
        self.transport: _Writer | None = None
        self.closed = False
        self.used = 0
        self.last_read = 0.0
        self._resp: RawResponse | None = None
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._state = _DONE
        self._buf = b""
        self._left = 0
        self._taken = 0  # body bytes kept for the outstanding response (checked against the cap)
        self._deadline_s = float("inf")
        self._deadline = float("inf")  # perf_counter time by which the outstanding response must end

    # -- asyncio callbacks -------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport | KernelStampedSocket) -> None:
        # uvloop's transports, and the kernel-stamped one, quack like asyncio.Transport.
        self.transport = (
            transport if isinstance(transport, KernelStampedSocket) else cast(asyncio.Transport, transport)
        )

    def data_received(self, data: bytes) -> None:
        self.received(data, perf_counter())  # stamp first: nothing may run between the read and its time

    def received(self, data: bytes, now: float) -> None:
        """`data` arrived at `now` (perf_counter seconds): the kernel's stamp, or the loop's."""
        self.last_read = now
        resp = self._resp
        if resp is None:
            self._abort("data received with no request outstanding")
            return
        if now < resp.sent:  # a kernel stamp that beat our send stamp (taken after send() returned)
            now = resp.sent
        if resp.reads == 0:
            resp.first_byte = now
        resp.reads += 1
        if self._pool is not None:
            self._pool.reads += 1
        if now > self._deadline:
            # Checked on every read, not only by the scheduler's watchdog timer: a server that floods
            # bytes keeps this callback busy, and the deadline must cut in all the same.
            self._fail(f"deadline of {self._deadline_s:g} s passed")
            return
        try:
            self._feed(resp, data, now)
        except TransportError as exc:  # the byte cap
            self._fail(str(exc))
        except (ValueError, IndexError) as exc:
            self._fail(f"cannot frame the response: {exc}")

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        resp = self._resp
        if resp is None:
            return
        if self._state == _UNTIL_CLOSE:
            self._finish(perf_counter())
        elif resp.reads == 0:
            # The server may have received (and billed) the request: the caller must not re-send it.
            self._fail(f"connection closed by the server before an answer ({exc or 'EOF'})")
        else:
            self._fail(f"connection closed mid-response ({exc or 'EOF'})")

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost settles the response

    # -- requests -------------------------------------------------------------------------------
    def send(
        self, request: bytes, resp: RawResponse, deadline_s: float | None = None
    ) -> asyncio.Future[RawResponse]:
        """Write `request`; the future resolves to `resp` when it is complete (or failed).

        `deadline_s` (from the send) is enforced on every read; silence is the caller's watchdog's job.
        """
        if self.transport is None or self.closed:
            raise TransportError("connection is closed")
        self._resp = resp
        self._state = _HEAD
        self._buf = b""
        self._taken = 0
        self._waiter = waiter = self._loop.create_future()
        self.used += 1
        self.transport.write(request)
        resp.sent = perf_counter()  # the request (headers and body) has been handed to the socket
        self._deadline_s = deadline_s if deadline_s is not None else float("inf")
        self._deadline = resp.sent + self._deadline_s
        return waiter

    def abort(self, reason: str) -> None:
        """Give up on the outstanding response (deadline or stall) and close the connection."""
        self._fail(reason)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    # -- framing -------------------------------------------------------------------------------
    def _feed(self, resp: RawResponse, data: bytes, now: float) -> None:
        state = self._state
        if state == _HEAD:
            data = self._buf + data if self._buf else data
            end = data.find(b"\r\n\r\n")
            if end < 0:
                if len(data) > _MAX_HEAD:
                    raise ValueError("response head larger than 64 KiB")
                self._buf = data
                return
            self._buf = b""
            self._parse_head(resp, data[:end])
            resp.head_at = now
            data = data[end + 4 :]
            state = self._state
            if state == _DONE:
                self._finish(now)
                return
            if not data:
                return
        if state == _LENGTH:
            take = data[: self._left]
            if take:
                self._keep(resp, now, take)
            self._left -= len(take)
            if self._left <= 0:
                self._finish(now)
        elif state == _UNTIL_CLOSE:
            self._keep(resp, now, data)
        else:
            self._chunked(resp, data, now)

    def _keep(self, resp: RawResponse, now: float, piece: bytes) -> None:
        """Keep one decoded body piece, failing the request once the body passes the byte cap."""
        self._taken += len(piece)
        if self._taken > self.max_body_bytes:
            raise TransportError(f"response body larger than {self.max_body_bytes} bytes")
        resp.parts.append((now, piece))

    def _parse_head(self, resp: RawResponse, head: bytes) -> None:
        lines = head.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
        resp.status = int(rest[:3])
        headers = resp.headers
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        connection = headers.get("connection", "").lower()
        resp.keep_alive = "close" not in connection and (version != "HTTP/1.0" or "keep-alive" in connection)
        if resp.status in (204, 304) or 100 <= resp.status < 200:
            self._state = _DONE
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            self._state, self._left = _CHUNK_SIZE, 0
        elif "content-length" in headers:
            self._left = int(headers["content-length"])
            if self._left > self.max_body_bytes:  # announced too large: fail now, read none of it
                raise TransportError(f"response body larger than {self.max_body_bytes} bytes")
            self._state = _LENGTH if self._left > 0 else _DONE
        else:
            self._state = _UNTIL_CLOSE
            resp.keep_alive = False

    def _chunked(self, resp: RawResponse, data: bytes, now: float) -> None:
        # The chunks decoded from one read are kept as one piece (they share its stamp): one tuple per
        # read instead of one per chunk keeps the per-request allocations (and GC work) flat.
        if self._buf:
            data, self._buf = self._buf + data, b""
        pos, size = 0, len(data)
        state, left = self._state, self._left
        out: list[bytes] = []
        finished = False
        while pos < size:
            if state == _CHUNK_DATA:
                end = pos + left
                if end > size:
                    out.append(data[pos:])
                    left -= size - pos
                    pos = size
                    break
                out.append(data[pos:end])
                pos, state = end, _CHUNK_CRLF
            elif state == _CHUNK_CRLF:
                if size - pos < 2:
                    self._buf = data[pos:]
                    break
                pos += 2
                state = _CHUNK_SIZE
            elif state == _CHUNK_SIZE:
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    self._buf = self._line_rest(data, pos)
                    break
                left = int(data[pos:eol].split(b";", 1)[0], 16)
                pos = eol + 2
                state = _CHUNK_DATA if left else _TRAILER
            else:  # trailer section: lines until an empty one
                eol = data.find(b"\r\n", pos)
                if eol < 0:
                    self._buf = self._line_rest(data, pos)
                    break
                empty = eol == pos
                pos = eol + 2
                if empty:
                    state, finished = _DONE, True
                    break
        if out:
            self._keep(resp, now, out[0] if len(out) == 1 else b"".join(out))
        self._state, self._left = state, left
        if finished:
            self._finish(now)

    @staticmethod
    def _line_rest(data: bytes, pos: int) -> bytes:
        """The unfinished line kept for the next read; bounded, or a line that never ends grows forever."""
        rest = data[pos:]
        if len(rest) > _MAX_HEAD:
            raise ValueError("chunk-size or trailer line longer than 64 KiB")
        return rest

    def _finish(self, now: float) -> None:
        resp, waiter = self._resp, self._waiter
        self._resp = self._waiter = None
        self._state = _DONE
        if resp is None or waiter is None:
            return
        resp.end = now
        if not resp.keep_alive:
            self.close()
        if not waiter.done():
            waiter.set_result(resp)

    def _fail(self, reason: str) -> None:
        resp, waiter = self._resp, self._waiter
        self._resp = self._waiter = None
        self.close()
        if resp is not None:
            resp.error = reason
            resp.end = perf_counter()
        if waiter is not None and not waiter.done():
            waiter.set_exception(TransportError(reason))

    def _abort(self, reason: str) -> None:
        self.close()


class Pool:
    """Keep-alive connections to one origin; `acquire` reuses the most recently idle one."""

    def __init__(
        self,
        base_url: str,
        *,
        verify_tls: bool = True,
        connect_timeout: float = 10.0,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        kernel_stamps: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self._ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self._ssl = ssl.create_default_context()
            if not verify_tls:
                self._ssl.check_hostname = False
                self._ssl.verify_mode = ssl.CERT_NONE
        self._connect_timeout = connect_timeout
        self.max_body_bytes = max_body_bytes
        # Kernel arrival stamps where the platform gives them and the bytes are the response's own
        # (not TLS records); asked for per connection, dropped for the pool at the first refusal.
        self._kernel_stamps = kernel_stamps and KERNEL_STAMPS and self._ssl is None
        self._idle: list[Connection] = []
        self._all: set[Connection] = set()
        self.opened = 0
        self.reads = 0  # socket reads that carried response bytes, over every connection
        self.stamp_sources: set[str] = set()  # "kernel" and/or "loop": what stamped this pool's reads
        self._fallbacks_gone = 0  # kernel-stamp fallbacks of connections already closed
        self._switch: StampsSwitch | None = None  # holds kernel stamping on while the pool lives
        self._switched: asyncio.Task[bool] | None = None  # the first connection's wait for it

    async def acquire(self) -> Connection:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        try:
            proto = await asyncio.wait_for(self._connect(loop), self._connect_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            raise TransportError(f"cannot connect to {self.host}:{self.port}: {exc or 'timeout'}") from exc
        self.opened += 1
        self._all.add(proto)
        return proto

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> Connection:
        def factory() -> Connection:
            return Connection(loop, self, max_body_bytes=self.max_body_bytes)

        if self._kernel_stamps:
            await self._stamps_live()
            opened = await open_stamped(loop, self.host, self.port, factory)
            if opened is not None:
                transport, conn = opened
                conn.connection_made(transport)
                self.stamp_sources.add("kernel")
                return conn
            self._kernel_stamps = False  # refused once, refused for every connection: stop asking
        _, proto = await loop.create_connection(
            factory, self.host, self.port, ssl=self._ssl, server_hostname=self.host if self._ssl else None
        )
        self.stamp_sources.add("loop")
        return proto

    async def _stamps_live(self) -> None:
        """Before the first connection: kernel stamping switched on (it is, a little after asking)."""
        if self._switched is None:
            try:
                self._switch = StampsSwitch()
            except OSError:
                self._switched = asyncio.ensure_future(asyncio.sleep(0, False))
            else:
                self._switched = asyncio.ensure_future(self._switch.wait(_STAMPS_WAIT_S))
        # Shielded: a connect timeout on one connection must not cancel the wait the others share.
        await asyncio.shield(self._switched)

    @property
    def stamp_fallbacks(self) -> int:
        """Reads on kernel-stamped connections that got a perf_counter() stamp instead."""
        live = sum(c.transport.fallbacks for c in self._all if isinstance(c.transport, KernelStampedSocket))
        return self._fallbacks_gone + live

    def release(self, conn: Connection) -> None:
        if conn.closed:
            if conn in self._all and isinstance(conn.transport, KernelStampedSocket):
                self._fallbacks_gone += conn.transport.fallbacks
            self._all.discard(conn)
        else:
            self._idle.append(conn)

    def close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()
        self._idle.clear()
        if self._switched is not None and not self._switched.done():
            self._switched.cancel()
        if self._switch is not None:
            self._switch.close()
        self._switch = self._switched = None
