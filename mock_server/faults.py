"""Fault names and the small helpers that break a response on purpose."""

from __future__ import annotations

from aiohttp import web

__all__ = [
    "DEFAULT_DELAY_MS",
    "DEFAULT_STALL_MS",
    "FAULTS",
    "drop_connection",
    "fault_step",
    "malform_json",
    "truncate_json",
]

FAULTS: dict[str, str] = {
    "drop": "close the connection before any header is sent",
    "drop_mid_stream": "send part of the body (some chunks) and close the connection",
    "truncated_json": "cut the JSON body (or one stream chunk) in half; a stream then ends",
    "malformed_json": "send syntactically invalid JSON (body, or one extra stream chunk)",
    "slow_headers": "wait delay_ms before sending the headers",
    "stall": "stop sending mid-body for stall_ms, then carry on",
    "midstream_error": 'emit data: {"error": {...}} mid-stream and end (non-stream: 200 with an error body)',
}

DEFAULT_DELAY_MS = 1000.0
DEFAULT_STALL_MS = 1000.0


def fault_step(content_steps: int) -> int:
    """The content step a mid-stream fault hits: half-way, after at least one content chunk when possible."""
    return min(max(1, content_steps // 2), content_steps)


def truncate_json(text: str) -> str:
    """Cut a JSON document so that it cannot parse."""
    return text[: max(1, len(text) // 2)]


def malform_json(text: str) -> str:
    """Break JSON syntax while keeping it recognisably JSON-ish (a dangling comma and a bare word)."""
    return text[:-1] + ', "x_mock": oops}' if text.endswith("}") else text + ",}"


def drop_connection(request: web.BaseRequest) -> None:
    """Abort the TCP connection at once (no FIN handshake with pending data, no HTTP response)."""
    transport = request.transport
    if transport is not None:
        transport.abort()
