"""Sends a reply: applies the scenario's faults and pacing and the active defects on the way out."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from mock_server.defects import DefectContext
from mock_server.exchange import Exchange
from mock_server.faults import DEFAULT_STALL_MS, drop_connection, fault_step, malform_json, truncate_json
from mock_server.pacing import Pacer
from mock_server.replies import JsonReply, Reply, SseEvent, StreamReply
from mock_server.state import current_trace

__all__ = ["SSE_CONTENT_TYPE", "deliver", "json_response"]

SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"
# Closed connections surface as either; the client going away mid-stream is normal, not an error.
_GONE = (ConnectionError, asyncio.CancelledError)


async def deliver(ex: Exchange, reply: Reply) -> web.StreamResponse:
    """Write `reply` for `ex` and return the (prepared or plain) response object."""
    if isinstance(reply, StreamReply):
        return await _deliver_stream(ex, reply)
    return await _deliver_json(ex, reply)


def _dumps(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(", ", ": "))


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
    response = web.StreamResponse(status=200, headers=headers)
    pacer = Pacer(ex.scenario, seed=reply.seed)
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
        return {**event.data, "x_mock_sent_at": time.time()}
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
