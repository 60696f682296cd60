"""Models list, health, key check and host discovery: the free requests, run first."""

from __future__ import annotations

from chatcert._models import Exchange
from chatcert.checks._util import expect_client_error
from chatcert.checks.probes import WRONG_KEY
from chatcert.context import CheckContext, ProbeContext
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------


@probe("models_list", routes=("models",), requires=("models_list",), free=True)
def models_list(ctx: ProbeContext) -> None:
    """GET the models route."""
    ctx.get("models", label="models list")


@probe("health", routes=("health",), free=True)
def health(ctx: ProbeContext) -> None:
    """GET the health route."""
    ctx.get("health", label="health")


@probe("auth_check_valid", routes=("auth_check",), requires=("auth_check",), free=True)
def auth_check_valid(ctx: ProbeContext) -> None:
    """GET the key-check route with the key."""
    ctx.get("auth_check", label="auth check with key")


@probe("auth_check_missing", routes=("auth_check",), requires=("auth_check",), free=True)
def auth_check_missing(ctx: ProbeContext) -> None:
    """GET the key-check route without a key."""
    ctx.get("auth_check", label="auth check without key", auth=False)


@probe("auth_check_wrong_key", routes=("auth_check",), requires=("auth_check",), free=True)
def auth_check_wrong_key(ctx: ProbeContext) -> None:
    """GET the key-check route with a key that cannot be valid."""
    ctx.get(
        "auth_check",
        label="auth check with a wrong key",
        auth=False,
        headers={"Authorization": f"Bearer {WRONG_KEY}"},
    )


@probe("discovery_map", routes=("discovery",), requires=("discovery",), free=True)
def discovery_map(ctx: ProbeContext) -> None:
    """GET the model -> servers map."""
    ctx.get("discovery", label="discovery map", auth=False)


# -- checks --------------------------------------------------------------------------------------------


@check(
    area="discovery",
    level=Level.MUST,
    source="SPEC GET /models (ListModelsResponse)",
    probes=("models_list",),
    rules=("M1",),
)
def models_list_ok(ctx: CheckContext) -> None:
    """GET /v1/models answers 200 with a JSON body."""
    ex = ctx.ex("models_list")
    ctx.require_status(ex, 200, "models route does not answer 200")
    ctx.require(
        ex.media_type == "application/json",
        "models list is not application/json",
        expected="application/json",
        actual=ex.content_type,
        exchange=ex,
    )


@check(
    area="discovery",
    level=Level.MUST,
    source="SPEC ListModelsResponse",
    probes=("models_list",),
    rules=("M1",),
)
def models_list_schema_valid(ctx: CheckContext) -> None:
    """The models list is {"object": "list", "data": [{"id": ...}, ...]}."""
    body = ctx.json("models_list")
    ctx.require_valid(
        "openai/models-list", body, "models list does not match the schema", ctx.ex("models_list")
    )


@check(
    area="discovery",
    level=Level.SHOULD,
    source="catalogue M1; SEED-B 404 'pull the list from /v1/models'",
    probes=("models_list",),
    rules=("M1",),
)
def models_list_contains_model(ctx: CheckContext) -> None:
    """The model being certified is listed by /v1/models."""
    body = ctx.body_object("models_list")
    data = body.get("data")
    ids = [m.get("id") for m in data if isinstance(m, dict)] if isinstance(data, list) else []
    ctx.require(
        ctx.model in ids,
        f"model {ctx.model!r} is not listed",
        expected=ctx.model,
        actual=ids,
        exchange=ctx.ex("models_list"),
    )


@check(
    area="discovery",
    level=Level.SHOULD,
    source="SPEC Model.id (unique identifier)",
    probes=("models_list",),
    rules=("M1",),
)
def models_ids_unique(ctx: CheckContext) -> None:
    """Model ids in /v1/models are unique."""
    body = ctx.body_object("models_list")
    data = body.get("data") if isinstance(body.get("data"), list) else []
    ids = [m.get("id") for m in data if isinstance(m, dict)]  # type: ignore[union-attr]
    dupes = sorted({str(i) for i in ids if ids.count(i) > 1})
    ctx.require(
        not dupes, "duplicate model ids", expected="unique ids", actual=dupes, exchange=ctx.ex("models_list")
    )


_UNHEALTHY = ("error", "unhealthy", "down", "fail", "failed", "unavailable", "loading")


def _health_problem(ex: Exchange) -> str:
    """Why a 200 from the health route is no health answer ('' when it is one).

    A health answer is what health routes send: an empty body (vLLM, TGI), a JSON document
    (llama.cpp {"status": "ok"}) whose status does not say unhealthy, or a short plain word ("OK").
    A welcome or login HTML page, or a long text, is a page that happens to answer 200.
    """
    text = ex.text().strip()
    if not text:
        return ""
    if ex.media_type in ("text/html", "application/xhtml+xml") or text.startswith("<"):
        return "an HTML page, not a health answer"
    try:
        doc = ex.json()
    except ValueError:
        return "" if len(text) <= 64 else "a long non-JSON text, not a health answer"
    status = doc.get("status") if isinstance(doc, dict) else None
    if isinstance(status, str) and status.strip().lower() in _UNHEALTHY:
        return f"the server reports itself unhealthy (status {status!r})"
    return ""


@check(
    area="discovery",
    level=Level.SHOULD,
    source="profile routes.health (llama.cpp/vLLM servers: GET /health); OpenAI has no health route",
    probes=("health",),
)
def health_endpoint_ok(ctx: CheckContext) -> None:
    """The profile's health route answers 200 with a health answer (empty, JSON status, short text).

    Only a profile that claims a health route (routes.health) runs this; an HTML page answering 200
    (a welcome page) is not a health answer.
    """
    ex = ctx.ex("health")
    ctx.require_status(ex, 200, "health route does not answer 200")
    problem = _health_problem(ex)
    ctx.require(
        not problem,
        f"health route answered 200 with {problem}",
        expected='an empty body, {"status": "ok"} or a short text',
        actual=f"{ex.content_type} {ex.excerpt(200)}",
        exchange=ex,
    )


@check(
    area="discovery",
    level=Level.PROFILE,
    needs_key=True,
    probes=("auth_check_valid",),
    rules=("E3", "PB1", "T7"),
    source="SEED-B 'GET /libertai/auth/check returns 200 OK if your key is valid'",
)
def auth_check_accepts_valid_key(ctx: CheckContext) -> None:
    """The key-check route answers 200 for a valid key."""
    ex = ctx.ex("auth_check_valid")
    ctx.require_status(ex, 200, "auth check rejects the configured key")


@check(
    area="discovery",
    level=Level.PROFILE,
    probes=("auth_check_missing",),
    rules=("E3", "PB1"),
    source="SEED-B '/libertai/auth/check ... 401 Unauthorized otherwise'",
)
def auth_check_rejects_missing_key(ctx: CheckContext) -> None:
    """The key-check route answers 401 without a key."""
    expect_client_error(ctx, "auth_check_missing", allowed=(401,))


@check(
    area="discovery",
    level=Level.PROFILE,
    probes=("auth_check_wrong_key",),
    rules=("E3", "PB1"),
    source="SEED-B 'GET /libertai/auth/check returns 200 OK if your key is valid, 401 Unauthorized "
    "otherwise'",
)
def auth_check_rejects_wrong_key(ctx: CheckContext) -> None:
    """The key-check route answers 401 for a wrong key (a route that says yes to any key checks nothing)."""
    expect_client_error(ctx, "auth_check_wrong_key", allowed=(401,))


@check(
    area="discovery",
    level=Level.PROFILE,
    probes=("discovery_map",),
    rules=("M2", "PB1"),
    source="SEED-B 'GET /libertai/models returns the list of servers currently backing each model'",
)
def discovery_map_schema_valid(ctx: CheckContext) -> None:
    """/libertai/models maps each model id to {"servers": [url, ...]}."""
    body = ctx.json("discovery_map")
    ctx.require_valid(
        "libertai/models-map", body, "discovery map does not match the schema", ctx.ex("discovery_map")
    )


@check(
    area="discovery",
    level=Level.SHOULD,
    probes=("discovery_map",),
    rules=("M2",),
    source="SEED-B 'Each entry maps a model id (the same one you'd pass to /v1/chat/completions)'",
)
def discovery_map_lists_model(ctx: CheckContext) -> None:
    """The model being certified has at least one server in /libertai/models."""
    body = ctx.body_object("discovery_map")
    entry = body.get(ctx.model)
    servers = entry.get("servers") if isinstance(entry, dict) else None
    ctx.require(
        isinstance(servers, list) and len(servers) > 0,
        f"no servers listed for {ctx.model!r}",
        expected="servers: [url, ...]",
        actual=entry,
        exchange=ctx.ex("discovery_map"),
    )
