"""Kernel arrival stamps (SO_TIMESTAMPNS): what they stamp, when they fall back, the transport around them.

Every server here is a thread on 127.0.0.1. No assert is a speed figure: the stamps are compared with
events whose order the test itself fixes (bytes written before the loop was unblocked).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator
from time import perf_counter, sleep, time_ns
from typing import Any

import pytest

from chatcert.bench import kernelstamps
from chatcert.bench import transport as transport_module
from chatcert.bench.kernelstamps import (
    KERNEL_STAMPS,
    KernelStampedSocket,
    StampsSwitch,
    clock_offset_ns,
    open_stamped,
)
from chatcert.bench.transport import Pool, RawResponse

needs_kernel = pytest.mark.skipif(not KERNEL_STAMPS, reason="SO_TIMESTAMPNS is Linux-only")


class Receiver:
    def __init__(self) -> None:
        self.reads: list[tuple[bytes, float, float]] = []  # data, stamp, perf_counter at the callback
        self.lost: list[Exception | None] = []
        self.gone = asyncio.Event()

    def received(self, data: bytes, stamp: float) -> None:
        self.reads.append((data, stamp, perf_counter()))

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost.append(exc)
        self.gone.set()


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    srv = socket.create_server(("127.0.0.1", 0))
    yield srv
    srv.close()


def _port(srv: socket.socket) -> int:
    return int(srv.getsockname()[1])


@needs_kernel
def test_a_read_is_stamped_when_the_kernel_received_it_not_when_the_loop_got_to_it(
    listener: socket.socket,
) -> None:
    written = threading.Event()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(100)
            conn.sendall(b"hello")
            written.set()
            conn.recv(100)  # until the client closes

    threading.Thread(target=serve, daemon=True).start()

    async def main() -> tuple[Receiver, float]:
        loop = asyncio.get_running_loop()
        switch = StampsSwitch()  # Linux turns stamping on a little after the first socket asks
        assert await switch.wait(5)
        opened = await open_stamped(loop, "127.0.0.1", _port(listener), Receiver)
        assert opened is not None
        transport, receiver = opened
        transport.write(b"go")
        # Hold the loop, as a busy client would, until the answer has surely arrived.
        assert written.wait(5)
        sleep(0.05)
        unblocked = perf_counter()
        while not receiver.reads:
            await asyncio.sleep(0.001)
        transport.close()
        switch.close()
        await receiver.gone.wait()
        assert transport.fallbacks == 0
        return receiver, unblocked

    receiver, unblocked = asyncio.run(main())
    data, stamp, seen = receiver.reads[0]
    assert data == b"hello"
    # A loop stamp can only be taken after the loop was free again; the kernel's was taken before.
    assert stamp < unblocked <= seen
    assert receiver.lost == [None]


@needs_kernel
def test_the_switch_waits_until_a_datagram_is_stamped_when_it_was_sent() -> None:
    switch = StampsSwitch()
    try:
        assert switch.asked and asyncio.run(switch.wait(5))
        lead = switch.probe()
        assert lead is not None and lead <= 0  # stamped in the send, before the wall clock was read
    finally:
        switch.close()


@pytest.mark.parametrize("lead", [None, 1, 250_000], ids=["unstamped", "stamped-at-read", "late"])
def test_the_switch_is_not_live_while_datagrams_are_stamped_at_the_read(
    monkeypatch: pytest.MonkeyPatch, lead: int | None
) -> None:
    probes: list[int | None] = []

    def probe(self: StampsSwitch) -> int | None:
        probes.append(lead)
        return lead

    monkeypatch.setattr(StampsSwitch, "probe", probe)
    switch = StampsSwitch()
    try:
        assert asyncio.run(switch.wait(0.2)) is False
        assert len(probes) >= 2  # it kept asking until the timeout (one probe a millisecond)
    finally:
        switch.close()


def test_a_stamp_the_clock_cannot_explain_falls_back_to_perf_counter() -> None:
    loop = asyncio.new_event_loop()
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        transport = KernelStampedSocket(loop, a, Receiver())
        transport.sent_at = perf_counter()
        future = struct.pack("@ll", (time_ns() // 10**9) + 3600, 0)  # an hour ahead: a stepped clock
        before = perf_counter()
        assert before <= transport._stamp([(socket.SOL_SOCKET, 35, future)]) <= perf_counter()
        assert transport._stamp([]) >= before  # no stamp from the kernel at all
        assert transport.fallbacks == 2
        now_ns = time_ns()
        good = struct.pack("@ll", now_ns // 10**9, now_ns % 10**9)
        assert transport._stamp([(socket.SOL_SOCKET, 35, good)]) <= perf_counter()
        assert transport.fallbacks == 2
        transport.close()
    finally:
        b.close()
        loop.close()


def test_the_clock_offset_maps_wall_time_to_perf_counter() -> None:
    offset = clock_offset_ns()
    before = perf_counter()
    mapped = (time_ns() - offset) / 1e9
    after = perf_counter()
    assert before - 0.001 <= mapped <= after + 0.001


@needs_kernel
def test_a_large_request_is_written_whole_and_in_order_past_a_full_socket_buffer(
    listener: socket.socket,
) -> None:
    body = bytes(range(256)) * (8 * 1024 * 1024 // 256)  # 8 MiB: more than any socket buffer
    got = bytearray()

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            sleep(0.05)  # let the client's buffer fill first
            while len(got) < len(body):
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                got.extend(chunk)
            conn.sendall(b"done")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()

    async def main() -> Receiver:
        loop = asyncio.get_running_loop()
        opened = await open_stamped(loop, "127.0.0.1", _port(listener), Receiver)
        assert opened is not None
        transport, receiver = opened
        transport.write(body)
        await receiver.gone.wait()  # the server closes after answering
        return receiver

    receiver = asyncio.run(main())
    thread.join(5)
    assert bytes(got) == body
    assert b"".join(d for d, _, _ in receiver.reads) == b"done"


@needs_kernel
def test_a_reset_connection_is_reported_lost(listener: socket.socket) -> None:
    def serve() -> None:
        conn, _ = listener.accept()
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.recv(10)
        conn.close()  # RST, not FIN

    threading.Thread(target=serve, daemon=True).start()

    async def main() -> Receiver:
        loop = asyncio.get_running_loop()
        opened = await open_stamped(loop, "127.0.0.1", _port(listener), Receiver)
        assert opened is not None
        transport, receiver = opened
        transport.write(b"x")
        await asyncio.wait_for(receiver.gone.wait(), 5)
        transport.write(b"after the end")  # ignored, never raises
        return receiver

    receiver = asyncio.run(main())
    assert len(receiver.lost) == 1 and isinstance(receiver.lost[0], ConnectionResetError)


def _one_response(listener: socket.socket) -> None:
    conn, _ = listener.accept()
    with conn:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.recv(10)


def _get_once(listener: socket.socket) -> tuple[RawResponse, Pool, StampsSwitch | None]:
    """One GET through a new pool, closed after it; the pool's stamps switch as it was before closing."""
    threading.Thread(target=_one_response, args=(listener,), daemon=True).start()

    async def main() -> tuple[RawResponse, Pool, StampsSwitch | None]:
        pool = Pool(f"http://127.0.0.1:{_port(listener)}")
        conn = await pool.acquire()
        resp = RawResponse()
        await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp, 5)
        switch = pool._switch
        pool.close()
        return resp, pool, switch

    return asyncio.run(main())


@pytest.mark.parametrize("refused", [False, True], ids=["kernel", "refused"])
def test_the_pool_says_what_stamped_its_reads(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch, refused: bool
) -> None:
    if refused:  # a platform or socket that will not stamp: the pool falls back to the loop's stamps
        monkeypatch.setattr(kernelstamps, "enable_stamps", lambda sock: False)
    held = StampsSwitch() if KERNEL_STAMPS else None  # stamping on before the pool's own 0.5 s wait
    try:
        assert held is None or refused or asyncio.run(held.wait(5))
        resp, pool, _ = _get_once(listener)
    finally:
        if held is not None:
            held.close()
    assert resp.status == 200 and resp.body == b"ok" and resp.sent <= resp.first_byte <= resp.end
    expected = {"loop"} if refused or not KERNEL_STAMPS else {"kernel"}
    assert pool.stamp_sources == expected and pool.stamp_fallbacks == 0


@needs_kernel
@pytest.mark.parametrize("live_after", [2, None], ids=["switched-on", "never"])
def test_the_pool_connects_once_kernel_stamping_is_on_or_gives_up_waiting(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch, live_after: int | None
) -> None:
    events: list[str] = []

    def probe(self: StampsSwitch) -> int | None:
        events.append("probe")
        if live_after is None or events.count("probe") <= live_after:
            return 1  # stamped at the read: not live yet
        return 0  # stamped in the send: live

    real_open = kernelstamps.open_stamped

    async def open_(*args: Any) -> Any:
        events.append("connect")
        return await real_open(*args)

    monkeypatch.setattr(StampsSwitch, "probe", probe)
    monkeypatch.setattr(transport_module, "open_stamped", open_)
    monkeypatch.setattr(transport_module, "_STAMPS_WAIT_S", 5.0 if live_after else 0.05)
    resp, pool, switch = _get_once(listener)
    assert switch is not None and switch._sock.fileno() == -1 and pool._switch is None  # closed with it
    assert resp.status == 200 and resp.body == b"ok" and pool.stamp_sources == {"kernel"}
    assert events[-1] == "connect" and events.count("connect") == 1
    if live_after is not None:
        assert events == ["probe"] * (live_after + 1) + ["connect"]
    else:
        assert len(events) >= 2  # asked until the (shortened) wait ran out, then connected anyway


def test_https_pools_never_ask_for_kernel_stamps() -> None:
    assert Pool("https://127.0.0.1:1")._kernel_stamps is False
    assert Pool("http://127.0.0.1:1", kernel_stamps=False)._kernel_stamps is False


@needs_kernel
def test_a_body_larger_than_one_read_arrives_whole_and_in_order(listener: socket.socket) -> None:
    # Reads are 64 KiB at most (a larger recvmsg buffer costs a page mapping per read): a 1 MiB body
    # must come through as many stamped reads, byte for byte.
    body = bytes(range(256)) * 4096

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            conn.recv(10)

    threading.Thread(target=serve, daemon=True).start()

    async def main() -> tuple[RawResponse, set[str]]:
        pool = Pool(f"http://127.0.0.1:{_port(listener)}", max_body_bytes=2 * len(body))
        conn = await pool.acquire()
        resp = RawResponse()
        await conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", resp, 5)
        pool.close()
        return resp, pool.stamp_sources

    resp, sources = asyncio.run(main())
    assert resp.status == 200 and resp.body == body
    if sources == {"kernel"}:
        assert resp.reads >= len(body) // kernelstamps._READ_SIZE
    stamps = [stamp for stamp, _ in resp.parts]
    assert stamps == sorted(stamps) and resp.sent <= resp.first_byte <= resp.end
