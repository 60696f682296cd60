"""aiohttp middlewares: the journal (outermost) and profile-shaped errors for router/internal failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from mock_server.delivery import json_response
from mock_server.errors import error_body
from mock_server.journal import body_record, redact_headers, redact_query
from mock_server.state import STATE, current_trace, start_trace

__all__ = ["MOCK_PREFIX", "error_middleware", "journal_middleware"]

MOCK_PREFIX = "/_mock/"
_LOG = logging.getLogger("mock_server")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def journal_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Record every request except the mock's own `/_mock/*` routes, after it has been answered."""
    if request.path.startswith(MOCK_PREFIX):
        return await handler(request)
    trace = start_trace()
    started, clock = time.time(), time.perf_counter()
    status: int | None = 500  # what the client sees if the handler raises past the error middleware
    try:
        response = await handler(request)
        status = response.status
        return response
    finally:
        state = request.app[STATE]
        if trace.dropped:
            status = None
        raw = trace.raw
        if raw is None and not trace.has_parsed and request.body_exists:
            try:
                raw = await request.read()
            except Exception:  # an oversized or broken body is still worth a journal line
                raw = None
        state.journal.add(
            {
                "time": started,
                "method": request.method,
                "path": request.path,
                "query": redact_query(request.query.items()),
                "headers": redact_headers(request.headers.items()),
                "body": body_record(raw, trace.parsed, has_parsed=trace.has_parsed),
                "body_bytes": len(raw) if raw is not None else 0,
                "route": trace.route,
                "status": status,
                "duration_ms": round((time.perf_counter() - clock) * 1000, 3),
            }
        )
        if state.log_requests:
            _LOG.info(
                "%s %s %s %s %.1fms",
                request.remote,
                request.method,
                request.path,
                status or "dropped",
                (time.perf_counter() - clock) * 1000,
            )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Unknown routes, wrong methods and (mock bugs) unexpected exceptions, in the profile's error shape."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        shape = request.app[STATE].profile.shape_for(current_trace().route)
        messages = {
            404: f"Unknown route: {request.method} {request.path}",
            405: f"Method {request.method} is not allowed on {request.path}",
            413: "Request body is too large",
        }
        body = error_body(shape, exc.status, messages.get(exc.status, exc.reason))
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return json_response(body, status=exc.status, headers=headers)
    except Exception:
        shape = request.app[STATE].profile.shape_for(current_trace().route)
        _LOG.exception("mock_server: internal error on %s %s", request.method, request.path)
        return json_response(error_body(shape, 500, "internal error in the mock server"), status=500)
