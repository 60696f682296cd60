"""Builds the aiohttp application for one profile: routes, the request pipeline, `/_mock/journal`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from aiohttp import web

from chatcert.wire.profiles import ROUTE_ALIASES
from chatcert.wire.scenario import SCENARIO_HEADER
from chatcert.wire.schemas import SchemaStore
from mock_server.auth import check_auth
from mock_server.catalog import (
    handle_auth_check,
    handle_discovery,
    handle_health,
    handle_model,
    handle_models,
)
from mock_server.chat import handle_chat
from mock_server.completions import handle_completions
from mock_server.defects import SKIP_AUTH, DefectSet, parse_defect_names
from mock_server.delivery import deliver, json_response
from mock_server.errors import MockError
from mock_server.exchange import Exchange
from mock_server.faults import DEFAULT_DELAY_MS, drop_connection
from mock_server.messages import handle_messages
from mock_server.middleware import MOCK_PREFIX, error_middleware, journal_middleware
from mock_server.pacing import TICKER, Ticker
from mock_server.payment import PAYMENT_HEADER, payment_problem, payment_receipt, payment_required
from mock_server.pharia import handle_complete, handle_transcribe
from mock_server.profile import MockConfigError, Profile, load_profile
from mock_server.replies import JsonReply, Reply, StreamReply
from mock_server.scenarios import Scenario, ScenarioError, parse_scenario_header
from mock_server.state import STATE, MockState, current_trace

__all__ = ["DEFAULT_MAX_BODY", "DEFECT_HEADER", "SCENARIO_HEADER", "build_app"]

DEFECT_HEADER = "X-Mock-Defect"
DEFAULT_MAX_BODY = 256 * 1024**2  # when the profile sets no limit: big enough for any sane image request

Handler = Callable[[Exchange], Awaitable[Reply]]
_CLEAN = DefectSet()  # shared by every request without defects (the common case): it is never changed

# route name -> (method, handler, whether the profile's auth applies)
_ROUTES: dict[str, tuple[str, Handler, bool]] = {
    "chat": ("POST", handle_chat, True),
    "models": ("GET", handle_models, True),
    "health": ("GET", handle_health, False),
    "completions": ("POST", handle_completions, True),
    "messages": ("POST", handle_messages, True),
    "discovery": ("GET", handle_discovery, False),
    "auth_check": ("GET", handle_auth_check, False),  # it answers 401 itself
    "complete": ("POST", handle_complete, True),
    "transcribe": ("POST", handle_transcribe, True),
}
_SCENARIO_MESSAGES = {
    401: "Invalid API key (mock scenario)",
    404: "Not found (mock scenario)",
    413: "Request too large (mock scenario)",
    429: "Rate limit reached (mock scenario)",
    503: "All servers failed for this model (mock scenario)",
}


def build_app(
    profile: str | Path | Profile = "compatible",
    *,
    api_key: str | None = None,
    scenario: Scenario | None = None,
    defects: Sequence[str] = (),
    log_requests: bool = False,
    schemas: SchemaStore | None = None,
) -> web.Application:
    """An application serving `profile` (a name under profiles/, a YAML path, or a loaded Profile).

    `api_key` turns on auth where the profile requires it; `scenario` and `defects` apply to every
    request (a request's own headers override the scenario key by key and add defects).
    """
    schemas = schemas or SchemaStore()
    loaded = profile if isinstance(profile, Profile) else load_profile(profile, schemas)
    try:
        defect_names = parse_defect_names(",".join(defects))
    except ValueError as exc:
        raise MockConfigError(str(exc)) from None
    limit = loaded.max_request_bytes
    app = web.Application(
        middlewares=[journal_middleware, error_middleware],
        client_max_size=limit + 1 if limit else DEFAULT_MAX_BODY,  # aiohttp refuses sizes >= this
    )
    app[TICKER] = Ticker()
    app[STATE] = MockState(
        profile=loaded,
        api_key=api_key or None,
        schemas=schemas,
        scenario=scenario or Scenario(),
        defects=defect_names,
        log_requests=log_requests,
    )
    for route, path in loaded.routes.items():
        if route in _ROUTES:
            method, handler, auth = _ROUTES[route]
            app.router.add_route(method, path, _endpoint(route, handler, auth))
    for alias, logical in ROUTE_ALIASES.items():
        # Another path for the same API (wire.profiles.ROUTE_ALIASES): judged, journalled and given
        # defects as its logical route.
        if alias in loaded.routes and logical in _ROUTES:
            method, handler, auth = _ROUTES[logical]
            app.router.add_route(method, loaded.routes[alias], _endpoint(logical, handler, auth))
    if "models" in loaded.routes:
        app.router.add_get(
            loaded.routes["models"].rstrip("/") + "/{model_id}", _endpoint("models", handle_model, True)
        )
    if loaded.routes.get("health") != "/health":
        app.router.add_get("/health", _endpoint("health", handle_health, False))
    app.router.add_get(MOCK_PREFIX + "journal", _get_journal)
    app.router.add_delete(MOCK_PREFIX + "journal", _clear_journal)
    return app


def _endpoint(
    route: str, handler: Handler, auth: bool
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def run(request: web.Request) -> web.StreamResponse:
        return await _answer(request, route, handler, auth)

    return run


async def _answer(request: web.Request, route: str, handler: Handler, auth: bool) -> web.StreamResponse:
    """The pipeline: scenario and defects -> pre-header faults -> body -> auth -> forced status -> handler."""
    state = request.app[STATE]
    trace = current_trace()
    trace.route = route
    try:
        # Server-wide scenarios spare /health so a faulty mock can still be seen to be up.
        scenario = Scenario() if route == "health" else state.scenario
        if SCENARIO_HEADER in request.headers:
            scenario = scenario.merged(parse_scenario_header(request.headers[SCENARIO_HEADER]))
        named = request.headers.get(DEFECT_HEADER, "")
        defects = _CLEAN
        if named or state.defects:
            defects = DefectSet((*state.defects, *parse_defect_names(named)))
    except (ScenarioError, ValueError) as exc:
        ex = Exchange(request, state, route, Scenario(), DefectSet())
        header = DEFECT_HEADER if not isinstance(exc, ScenarioError) else SCENARIO_HEADER
        return await deliver(ex, _error_reply(ex, MockError(400, f"invalid {header} header: {exc}")))
    ex = Exchange(request, state, route, scenario, defects)
    if scenario.fault == "drop":
        trace.dropped = True
        drop_connection(request)
        return web.Response(status=200)  # never reaches the client: the connection is gone
    if scenario.fault == "slow_headers":
        await asyncio.sleep((scenario.delay_ms if scenario.delay_ms is not None else DEFAULT_DELAY_MS) / 1000)
    try:
        ex.raw = await _read_body(ex)
        if auth and not defects.has(SKIP_AUTH):
            check_auth(ex)
        request.app[TICKER].run_due()  # open streams' due chunks before this request's work
        reply = _forced_reply(ex) or await handler(ex)
        if (
            scenario.status == 402
            and route not in state.profile.free_routes
            and (isinstance(reply, StreamReply) or reply.status == 200)
        ):
            reply.headers["X-PAYMENT-RESPONSE"] = payment_receipt()
    except MockError as exc:
        reply = _error_reply(ex, exc)
    except ConnectionResetError:
        # The client left (e.g. while slow_headers held the answer back): nothing to answer, no error.
        trace.dropped = True
        return web.Response(status=499)
    return await deliver(ex, reply)


async def _read_body(ex: Exchange) -> bytes:
    limit = ex.profile.max_request_bytes
    declared = ex.request.content_length
    too_large = MockError(413, f"Request body exceeds the limit of {limit} bytes", code="request_too_large")
    if limit and declared is not None and declared > limit:
        raise too_large
    try:
        raw = await ex.request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large from None
    current_trace().raw = raw
    if limit and len(raw) > limit:
        raise too_large
    return raw


def _forced_reply(ex: Exchange) -> Reply | None:
    """The scenario's `status`, if any; a 402 is waived for a well-formed X-PAYMENT resubmission and
    never charged on a route the profile documents as free (LibertAI's discovery map and key check)."""
    status = ex.scenario.status
    if status is None:
        return None
    if status == 402:
        if ex.route in ex.profile.free_routes:
            return None
        header = ex.request.headers.get(PAYMENT_HEADER)
        if header is None:
            return payment_required(ex)
        problem = payment_problem(header)
        return payment_required(ex, problem) if problem else None
    headers = {"Retry-After": str(ex.scenario.retry_after or 1)} if status == 429 else None
    raise MockError(status, _SCENARIO_MESSAGES.get(status, f"Mock scenario status {status}"), headers=headers)


def _error_reply(ex: Exchange, error: MockError) -> JsonReply:
    return JsonReply(error.body(ex.shape), status=error.status, headers=error.headers)


async def _get_journal(request: web.Request) -> web.Response:
    return json_response({"requests": request.app[STATE].journal.entries()})


async def _clear_journal(request: web.Request) -> web.Response:
    request.app[STATE].journal.clear()
    return json_response({"cleared": True})
