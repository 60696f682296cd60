"""Arrival stamps from the kernel: a plain-TCP transport that reads with `recvmsg` and SO_TIMESTAMPNS.

An arrival stamp taken in Python (`perf_counter()` in `data_received`) is late by whatever the event
loop did first: the other reads of the same wake-up, a response being parsed, a preemption. A server
that writes many streams' chunks at the same instant (the mock's shared ticker at 256 streams) makes
that queue hundreds of reads long. With SO_TIMESTAMPNS, Linux stamps each packet when the network
stack receives it, and `recvmsg` returns the stamp of the last packet that a read consumed, so a
read's stamp no longer depends on when the client got round to it. What remains: when the client is
so late that two of one stream's chunks are read together, the earlier one gets the later one's stamp
(the client-added lag the mock's `x_mock_sent_at` stamps still reveal).

The kernel's stamp is CLOCK_REALTIME; it is mapped to `perf_counter()` (CLOCK_MONOTONIC) with an
offset read once per connection, the tightest of a few back-to-back readings. A stamp after now, or
more than a second before the last send, means the wall clock was stepped: it is replaced by
`perf_counter()` at the read, and counted. One slightly before the request's send stamp (taken after
`send()` returned, which may have waited for the GIL) is moved up to it by the Connection, so no
duration is negative. Linux turns stamping on a while after the first socket asks (from a work
queue): a pool holds a `StampsSwitch` and waits for it before its first connection.

Linux and plain `http://` only: TLS goes through asyncio's SSL transport and keeps loop stamps.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
import time
from collections.abc import Callable
from time import perf_counter, perf_counter_ns
from typing import Protocol, TypeVar

__all__ = [
    "KERNEL_STAMPS",
    "KernelStampedSocket",
    "StampedReceiver",
    "StampsSwitch",
    "clock_offset_ns",
    "enable_stamps",
    "open_stamped",
]

# <asm-generic/socket.h>: SO_TIMESTAMPNS_OLD, whose cmsg carries a native `struct timespec` (two
# longs), as on every 64-bit Linux; Python's socket module does not name it.
_SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@ll")
KERNEL_STAMPS = sys.platform.startswith("linux") and _TIMESPEC.size == 16
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size) if KERNEL_STAMPS else 0
# recvmsg allocates its whole buffer before it reads and shrinks it after: 256 KiB (what asyncio's
# transports ask for) is above glibc's mmap threshold and cost about 12 us per read here, 64 KiB
# about 1.5 us. A longer body simply takes more reads, each stamped.
_READ_SIZE = 64 * 1024
_STEP_S = 1.0  # a kernel stamp this long before our send stamp means the wall clock was stepped


class StampedReceiver(Protocol):
    """What the transport feeds: bytes with their arrival stamp (perf_counter seconds), and the end."""

    def received(self, data: bytes, stamp: float) -> None: ...

    def connection_lost(self, exc: Exception | None) -> None: ...


def clock_offset_ns(samples: int = 5) -> int:
    """CLOCK_REALTIME - perf_counter in ns, from the tightest of `samples` back-to-back readings."""
    best: tuple[int, int] | None = None
    for _ in range(samples):
        before = perf_counter_ns()
        wall = time.time_ns()
        after = perf_counter_ns()
        if best is None or after - before < best[0]:
            best = (after - before, wall - (before + after) // 2)
    assert best is not None
    return best[1]


def enable_stamps(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what `sock` receives; False where it cannot."""
    if not KERNEL_STAMPS:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


class StampsSwitch:
    """Holds the kernel's receive stamps on while open, and tells when they are on.

    Linux stamps received packets only while some socket asks for stamps, and the first socket's asking
    turns stamping on for the whole system later, from a work queue: a packet received before then
    carries no stamp, and its read falls back to `perf_counter()`. This loopback datagram socket asks for
    as long as it is open; `wait` sends it datagrams until one is stamped when it was sent, which only a
    live stamp is (a packet that arrived unstamped is given the time of the read instead).
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setblocking(False)
            self._sock.bind(("127.0.0.1", 0))
            self.asked = enable_stamps(self._sock)
        except OSError:
            self._sock.close()
            raise

    def probe(self) -> int | None:
        """Kernel stamp minus wall time after the send, in ns (<= 0: stamping is live); None: no stamp."""
        self._sock.sendto(b"?", self._sock.getsockname())
        sent_ns = time.time_ns()
        try:
            _, ancillary, _, _ = self._sock.recvmsg(8, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return None  # not delivered yet
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(raw) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(raw)
                lead: int = sec * 1_000_000_000 + nsec - sent_ns
                return lead
        return None

    async def wait(self, timeout: float) -> bool:
        """True once a probe comes back stamped at its send; False after `timeout` seconds."""
        if not self.asked:
            return False
        deadline = perf_counter() + timeout
        while True:
            try:
                lead = self.probe()
            except OSError:
                return False
            if lead is not None and lead <= 0:
                return True
            if perf_counter() >= deadline:
                return False
            await asyncio.sleep(0.001)

    def close(self) -> None:
        self._sock.close()


class KernelStampedSocket:
    """A minimal transport over a connected, non-blocking socket: `write`, `close`, stamped reads.

    Writes go straight to the socket; what it does not take waits for writability, in order. Reads
    run on the loop's readiness callback, one `recvmsg` each, and hand `(data, stamp)` to the receiver.
    """

    def __init__(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, receiver: StampedReceiver
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._receiver = receiver
        self._offset_ns = clock_offset_ns()
        self._pending = bytearray()
        self._closed = False
        self.sent_at = 0.0  # perf_counter of the last write: no arrival can be stamped before it
        self.fallbacks = 0  # reads stamped by perf_counter(): no stamp from the kernel, or outside bounds
        loop.add_reader(self._fd, self._on_readable)

    # -- the transport side the Connection uses ----------------------------------------------------
    def write(self, data: bytes) -> None:
        if self._closed:
            return
        if self._pending:
            self._pending += data
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._lose(exc)
            return
        self.sent_at = perf_counter()
        if sent < len(data):
            self._pending += data[sent:]
            self._loop.add_writer(self._fd, self._on_writable)

    def close(self) -> None:
        if self._closed:
            return
        self._lose(None)

    # -- loop callbacks ------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        try:
            data, ancillary, _, _ = self._sock.recvmsg(_READ_SIZE, _ANCILLARY)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        if not data:
            self._lose(None)  # EOF: the receiver decides whether that ended or broke a response
            return
        self._receiver.received(data, self._stamp(ancillary))

    def _stamp(self, ancillary: list[tuple[int, int, bytes]]) -> float:
        now = perf_counter()
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(raw) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(raw)
                stamp: float = (sec * 1_000_000_000 + nsec - self._offset_ns) / 1e9
                if self.sent_at - _STEP_S <= stamp <= now:
                    return stamp  # the receiver moves one that beat its own send stamp up to it
                break
        self.fallbacks += 1
        return now

    def _on_writable(self) -> None:
        try:
            sent = self._sock.send(self._pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        del self._pending[:sent]
        self.sent_at = perf_counter()
        if not self._pending:
            self._loop.remove_writer(self._fd)

    def _lose(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        self._loop.remove_writer(self._fd)
        self._sock.close()
        # As asyncio's transports do: connection_lost runs after the current callback, never inside it.
        self._loop.call_soon(self._receiver.connection_lost, exc)


_R = TypeVar("_R", bound=StampedReceiver)


async def open_stamped(
    loop: asyncio.AbstractEventLoop,
    host: str,
    port: int,
    receiver_factory: Callable[[], _R],
) -> tuple[KernelStampedSocket, _R] | None:
    """Connect to `host:port` with kernel stamps on; None when the kernel will not stamp (use asyncio's)."""
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as asyncio's transports
            if not enable_stamps(sock):
                sock.close()
                return None
            await loop.sock_connect(sock, address)
        except OSError as exc:
            sock.close()
            error = exc
            continue
        except BaseException:
            sock.close()
            raise
        receiver = receiver_factory()
        return KernelStampedSocket(loop, sock, receiver), receiver
    raise error or OSError(f"no address for {host}")
