"""Sends a reply: applies the scenario's faults and pacing and the active defects on the way out."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import orjson
from aiohttp import HttpVersion11, web

from mock_server.defects import DefectContext
from mock_server.exchange import Exchange
from mock_server.faults import DEFAULT_STALL_MS, drop_connection, fault_step, malform_json, truncate_json
from mock_server.pacing import TICKER, Pacer, Ticker
from mock_server.replies import JsonReply, Reply, SseEvent, StreamReply
from mock_server.state import current_trace

__all__ = ["SSE_CONTENT_TYPE", "STAMP_KEY", "deliver", "json_response"]

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
STAMP_KEY = "x_mock_sent_at"
# Closed connections surface as either; the client going away mid-stream is normal, not an error.
_GONE = (ConnectionError, asyncio.CancelledError)
# orjson writes compact JSON (as OpenAI's servers do) in a tenth of the time of the stdlib's C encoder:
# every event of every stream is serialised once, and that was an eighth of the mock's CPU per stream.
# What orjson refuses (an integer past 64 bits, a key that is not a string) the stdlib writes alike.
_FALLBACK = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _dumps(body: Any) -> str:
    try:
        return orjson.dumps(body).decode()
    except orjson.JSONEncodeError:
        return _FALLBACK.encode(body)


async def deliver(ex: Exchange, reply: Reply) -> web.StreamResponse:
    """Write `reply` for `ex` and return the (prepared or plain) response object."""
    if isinstance(reply, StreamReply):
        return await _deliver_stream(ex, reply)
    return await _deliver_json(ex, reply)


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly application/json (no charset parameter)."""
    # bytes, not text=: aiohttp would append "; charset=utf-8" to the media type
    merged = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(status=status, body=_dumps(body).encode("utf-8"), headers=merged)


def _defect_context(
    ex: Exchange, stream: bool, status: int, usage: dict[str, int] | None = None
) -> DefectContext:
    trace = current_trace()
    request = trace.parsed if trace.has_parsed else None
    return DefectContext(ex.route, stream, status, request, ex.profile, usage)


async def _deliver_json(ex: Exchange, reply: JsonReply) -> web.StreamResponse:
    if not ex.defects:
        return await _send_json(ex, reply, reply.body, reply.status, None)
    ctx = _defect_context(ex, False, reply.status)
    body = ex.defects.body(reply.body, ctx)
    return await _send_json(ex, reply, body, ex.defects.status(reply.status, ctx), ctx)


async def _send_json(
    ex: Exchange, reply: JsonReply, body: Any, status: int, ctx: DefectContext | None
) -> web.StreamResponse:
    fault = ex.scenario.fault
    if fault == "midstream_error" and reply.status == 200:
        body = {
            "error": {
                "message": "mock mid-response error",
                "type": "server_error",
                "param": None,
                "code": "midstream_error",
            }
        }
    text = _dumps(body)
    if fault == "truncated_json":
        text = truncate_json(text)
    elif fault == "malformed_json":
        text = malform_json(text)
    headers = {"Content-Type": "application/json", **reply.headers}
    if ctx is not None:
        text = ex.defects.wire(text, ctx)
        headers = ex.defects.headers(headers, ctx)
    if fault not in ("stall", "drop_mid_stream"):
        return web.Response(status=status, body=text.encode("utf-8"), headers=headers)
    # Headers (with the full Content-Length) go first; then the body stalls or stops half-way.
    data = text.encode("utf-8")
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = len(data)
    try:
        await response.prepare(ex.request)
        if fault == "drop_mid_stream":
            await response.write(data[: len(data) // 2])
            current_trace().dropped = True
            drop_connection(ex.request)
            return response
        await asyncio.sleep((ex.scenario.stall_ms or DEFAULT_STALL_MS) / 1000)
        await response.write(data)
        await response.write_eof()
    except _GONE:
        pass
    return response


async def _deliver_stream(ex: Exchange, reply: StreamReply) -> web.StreamResponse:
    ctx = _defect_context(ex, True, 200, reply.usage) if ex.defects else None
    headers = {"Content-Type": SSE_CONTENT_TYPE, "Cache-Control": "no-cache", **reply.headers}
    if ctx is not None:
        headers = ex.defects.headers(headers, ctx)
    pacer = Pacer(ex.scenario, seed=reply.seed)
    if ctx is None and not ex.scenario.fault and _templatable(ex, reply):
        return await _deliver_paced(ex, reply, headers, pacer)
    response = web.StreamResponse(status=200, headers=headers)
    strike = _strike_index(reply) if ex.scenario.fault else -1
    try:
        await response.prepare(ex.request)
        pacer.start()
        for index, event in enumerate(reply.events):
            if event.step is not None:
                await pacer.until_step(event.step)
            if index == strike and await _stream_fault(ex, reply, response, pacer, event):
                return response
            if ctx is None:
                await _write_event(response, event)
                continue
            for out in ex.defects.events(event, ctx):
                await _write_event(response, out, ex, ctx)
        await response.write_eof()
    except _GONE:
        pass
    return response


# ---- the fast path: no defect, no fault ------------------------------------------------------------
# Each event is serialised once into a template (its frame up to the send time); timers fire on the
# event loop and write the stamped frames straight to the transport as HTTP/1.1 chunks, so a paced
# chunk costs one timer, one bytes format and one send: no task wake-up, no JSON encoding, no await.
# The bytes are those of `_write_event`. Flow control is left to the kernel and the transport's
# buffer: a stream is at most its reply, which is already in memory. The plan is a few flat lists,
# not an object per event: hundreds of open streams would otherwise be work for every GC pass.


def _templatable(ex: Exchange, reply: StreamReply) -> bool:
    """Chunked HTTP/1.1 (the fast path frames chunks itself) and no event that already has a stamp."""
    if ex.request.version != HttpVersion11:
        return False
    return not any(isinstance(e.data, dict) and STAMP_KEY in e.data for e in reply.events)


class _Plan:
    """Each event's frame, or for JSON data its text up to the stamp's value (`stamped`)."""

    def __init__(self) -> None:
        self.texts: list[bytes] = []
        self.stamped: list[bool] = []

    def add(self, event: SseEvent) -> None:
        head = f"event: {event.event}\n" if event.event else ""
        data = event.data
        if not isinstance(data, dict):
            self.texts.append(f"{head}data: {data}\n\n".encode())
            self.stamped.append(False)
            return
        opening = _dumps(data)[:-1] + "," if data else "{"  # `{**data, STAMP_KEY: t}` ends with the stamp
        self.texts.append(f'{head}data: {opening}"{STAMP_KEY}":'.encode())
        self.stamped.append(True)

    def frames(self, start: int, end: int) -> bytes:
        """Events `start` to `end` (excluded), stamped now (json writes a float as its repr; so does %r)."""
        now, texts, stamped = time.time(), self.texts, self.stamped
        return b"".join(b"%s%r}\n\n" % (texts[i], now) if stamped[i] else texts[i] for i in range(start, end))

    def chunk(self, start: int, end: int) -> bytes:
        """`frames(start, end)` as one HTTP/1.1 chunk; one event (the usual case) in one step."""
        if end - start == 1 and self.stamped[start]:
            text, stamp = self.texts[start], repr(time.time()).encode()
            return b"%x\r\n%s%s}\n\n\r\n" % (len(text) + len(stamp) + 3, text, stamp)
        data = self.frames(start, end)
        return b"%x\r\n%s\r\n" % (len(data), data)


class _Pump:
    """Writes paced group g (events bounds[g] to bounds[g + 1]: a paced event and the unpaced ones after
    it) at deadlines[g], from the application's Ticker; a late group takes every due group along."""

    def __init__(
        self,
        ticker: Ticker,
        transport: asyncio.Transport,
        plan: _Plan,
        deadlines: list[float],
        bounds: list[int],
    ) -> None:
        self._ticker = ticker
        self._transport = transport
        self._plan, self._deadlines, self._bounds = plan, deadlines, bounds
        self._next = 0
        self._loop = asyncio.get_running_loop()
        self.done: asyncio.Future[bool] = self._loop.create_future()  # True: all sent; False: client gone

    def start(self) -> None:
        self._ticker.call_at(self._deadlines[0], self)

    def cancel(self) -> None:
        """Stop at the next deadline (the ticker's entry stays until then)."""
        if not self.done.done():
            self.done.set_result(False)

    def __call__(self) -> None:
        """Send what is due (the ticker calls the pump itself: no bound method per chunk)."""
        if self.done.done():
            return
        if self._transport.is_closing():
            self.done.set_result(False)
            return
        try:
            deadlines, now = self._deadlines, time.monotonic()
            group = self._next + 1
            while group < len(deadlines) and deadlines[group] <= now:
                group += 1
            self._transport.write(self._plan.chunk(self._bounds[self._next], self._bounds[group]))
        except Exception:
            self.done.set_result(False)  # the stream ends here; the ticker reports the error
            raise
        self._next = group
        if group < len(deadlines):
            self._ticker.call_at(deadlines[group], self)
        else:
            self.done.set_result(True)


class _SseResponse(web.StreamResponse):
    """aiohttp (>= 3.12) holds the headers back and sends them with the first chunk: one send less."""

    _send_headers_immediately = False


async def _deliver_paced(
    ex: Exchange, reply: StreamReply, headers: dict[str, str], pacer: Pacer
) -> web.StreamResponse:
    """The unpaced events before the first paced one go with the headers, the paced ones (each with the
    unpaced events after it) from the pump, the unpaced tail with the end of the body."""
    ticker = ex.request.app.get(TICKER) or Ticker()  # an application not built by build_app has none
    events = reply.events
    paced = [i for i, e in enumerate(events) if e.step is not None]
    first, last = (paced[0], paced[-1] + 1) if paced else (len(events), len(events))
    plan = _Plan()
    response = (_SseResponse if first else web.StreamResponse)(status=200, headers=headers)
    response.enable_chunked_encoding()
    pump: _Pump | None = None
    try:
        await response.prepare(ex.request)
        for event in events[:first]:
            plan.add(event)
        pacer.start()
        await response.write(plan.frames(0, first))  # with the headers, where aiohttp held them back
        ticker.run_due()
        for event in events[first:]:
            plan.add(event)
        deadlines = [pacer.deadline(step) for step in (events[i].step for i in paced) if step is not None]
        count = len(events)
        # The plan is all that is left to send. Dropping the events (a few dicts per chunk) keeps
        # hundreds of open streams from being tens of thousands of objects for every GC pass.
        reply.events = events = []
        ticker.run_due()
        if paced:
            transport = ex.request.transport
            if transport is None:  # the client has gone
                return response
            pump = _Pump(ticker, transport, plan, deadlines, [*paced, last])
            pump.start()
            if not await pump.done:
                return response
        await response.write_eof(plan.frames(last, count))
    except _GONE:
        pass
    finally:
        if pump is not None:
            pump.cancel()
    return response


def _strike_index(reply: StreamReply) -> int:
    """Where a mid-stream fault hits: at the half-way content step, else before the tail (usage/[DONE])."""
    at = fault_step(reply.content_steps)
    events = reply.events
    found = next((i for i, e in enumerate(events) if e.step is not None and e.step >= at), None)
    if found is None:
        found = next((i for i, e in enumerate(events) if e.kind in ("usage", "done")), len(events) - 1)
    return found


async def _stream_fault(
    ex: Exchange, reply: StreamReply, response: web.StreamResponse, pacer: Pacer, event: SseEvent
) -> bool:
    """Apply the scenario's fault in place of (or before) `event`; True when the stream is over."""
    fault = ex.scenario.fault
    if fault == "stall":
        await pacer.pause((ex.scenario.stall_ms or DEFAULT_STALL_MS) / 1000)
    elif fault == "malformed_json":
        await response.write(f"data: {malform_json(_dumps(_stamped(event)))}\n\n".encode())
    elif fault == "truncated_json":
        await response.write(f"data: {truncate_json(_dumps(_stamped(event)))}\n\n".encode())
        await response.write_eof()
        return True
    elif fault == "midstream_error":
        await _write_event(response, reply.error_event)
        await response.write_eof()
        return True
    elif fault == "drop_mid_stream":
        current_trace().dropped = True
        drop_connection(ex.request)
        return True
    return False


def _stamped(event: SseEvent) -> dict[str, Any] | str:
    if isinstance(event.data, dict):
        return {**event.data, STAMP_KEY: time.time()}
    return event.data


async def _write_event(
    response: web.StreamResponse,
    event: SseEvent,
    ex: Exchange | None = None,
    ctx: DefectContext | None = None,
) -> None:
    # The send time is taken immediately before the write so clients can measure transit delay.
    data = _stamped(event)
    text = _dumps(data) if isinstance(data, dict) else data
    head = f"event: {event.event}\n" if event.event else ""
    frame = f"{head}data: {text}\n\n"
    if ex is not None and ctx is not None:
        frame = ex.defects.wire(frame, ctx)
    await response.write(frame.encode())
