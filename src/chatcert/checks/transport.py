"""Transport and HTTP: content types, auth, methods, tolerance of unknown fields."""

from __future__ import annotations

from chatcert._models import RequestSpec
from chatcert.checks._util import expect_client_error
from chatcert.checks.probes import PROMPT, WRONG_KEY, simple_probe
from chatcert.context import CheckContext, ProbeContext
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------

simple_probe("chat_unknown_field", "unknown top-level field", content=PROMPT, x_chatcert_unknown_field=True)


@probe("unauthenticated", free=True)
def unauthenticated(ctx: ProbeContext) -> None:
    """A chat request without credentials."""
    ctx.chat(ctx.chat_body(PROMPT), label="chat without credentials", auth=False)


@probe("wrong_key", free=True)
def wrong_key(ctx: ProbeContext) -> None:
    """A chat request with a wrong key."""
    headers = (
        {"x-api-key": WRONG_KEY}
        if ctx.profile.auth_scheme == "x-api-key"
        else {"Authorization": f"Bearer {WRONG_KEY}"}
    )
    ctx.chat(ctx.chat_body(PROMPT), label="chat with a wrong key", auth=False, headers=headers)


@probe("unsupported_method", free=True)
def unsupported_method(ctx: ProbeContext) -> None:
    """DELETE on the chat route."""
    ctx.send(RequestSpec("DELETE", ctx.route("chat"), label="DELETE chat route"))


# -- checks --------------------------------------------------------------------------------------------

_AUTH_REQUIRED = "profile does not require auth"


def _needs_auth(profile: object) -> str | None:
    return None if getattr(profile, "auth_required", False) else _AUTH_REQUIRED


@check(
    area="transport",
    level=Level.MUST,
    source="SPEC /chat/completions 200 application/json; ST content_type",
    probes=("chat_basic",),
    rules=("T1",),
)
def chat_content_type_is_json(ctx: CheckContext) -> None:
    """A non-stream 200 has Content-Type application/json (any charset parameter allowed)."""
    ex = ctx.ex("chat_basic")
    ctx.require_status(ex, 200, "chat request failed")
    ctx.require(
        ex.media_type == "application/json",
        "wrong Content-Type",
        expected="application/json",
        actual=ex.content_type or "(none)",
        exchange=ex,
    )


@check(
    area="transport",
    level=Level.SHOULD,
    source="RFC 8259 §8.1 (JSON is UTF-8)",
    probes=("chat_basic",),
    rules=("T1",),
)
def json_charset_is_utf8(ctx: CheckContext) -> None:
    """A charset parameter on a JSON response, when present, is utf-8."""
    ex = ctx.ex("chat_basic")
    params = {
        p.split("=", 1)[0].strip().lower(): p.split("=", 1)[1].strip().strip('"').lower()
        for p in ex.content_type.split(";")[1:]
        if "=" in p
    }
    charset = params.get("charset", "utf-8")
    ctx.require(
        charset in ("utf-8", "utf8"),
        "JSON declared in a charset other than UTF-8",
        expected="utf-8",
        actual=charset,
        exchange=ex,
    )


@check(
    area="transport",
    level=Level.MUST,
    source="SPEC: SSE only when stream is true",
    probes=("chat_basic",),
    rules=("T1",),
)
def non_stream_is_not_sse(ctx: CheckContext) -> None:
    """Without stream: true the answer is one JSON document, not server-sent events."""
    ex = ctx.ex("chat_basic")
    ctx.require(
        ex.media_type != "text/event-stream" and not ex.body.lstrip().startswith(b"data:"),
        "server streamed although stream was not requested",
        expected="one JSON document",
        actual=ex.excerpt(200),
        exchange=ex,
    )


@check(
    area="transport",
    level=Level.MUST,
    requires=("streaming",),
    probes=("chat_stream",),
    rules=("T2",),
    source="SPEC 200 text/event-stream; foundry-dev-tools#195, LitServe#359, litellm#7627 (charset)",
)
def stream_content_type_is_event_stream(ctx: CheckContext) -> None:
    """A streamed 200 has Content-Type text/event-stream (a charset parameter is allowed)."""
    ex = ctx.ex("chat_stream")
    ctx.require_status(ex, 200, "stream request failed")
    ctx.require(
        ex.media_type == "text/event-stream",
        "wrong Content-Type for a stream",
        expected="text/event-stream",
        actual=ex.content_type or "(none)",
        exchange=ex,
    )


@check(
    area="transport",
    level=Level.SHOULD,
    source="ST content_type_conformance (error responses)",
    probes=("malformed_json", "missing_messages"),
    rules=("T1",),
)
def error_content_type_is_json(ctx: CheckContext) -> None:
    """Error responses are application/json."""
    for name in ("malformed_json", "missing_messages"):
        ex = ctx.ex(name)
        if ex.status is not None and ex.status >= 400:
            ctx.require(
                ex.media_type in ("application/json", "application/problem+json"),
                f"{ex.label}: error body is not JSON",
                expected="application/json",
                actual=ex.content_type or "(none)",
                exchange=ex,
            )


@check(
    area="transport",
    level=Level.PROFILE,
    needs_key=True,
    probes=("chat_basic",),
    rules=("T7",),
    source="SPEC security ApiKeyAuth bearer; SEED-P 'Authorization: Bearer $PHARIA_TOKEN'; SEED-B",
)
def authorized_request_succeeds(ctx: CheckContext) -> None:
    """A request carrying the configured key is accepted."""
    ex = ctx.ex("chat_basic")
    ctx.require(
        ex.status not in (401, 403),
        "the configured key is refused",
        expected="accepted",
        actual=f"{ex.status} {ex.excerpt(200)}",
        exchange=ex,
    )


@check(
    area="transport",
    level=Level.PROFILE,
    probes=("unauthenticated",),
    applies=_needs_auth,
    rules=("N6", "E3", "PP1"),
    source="ST ignored_auth; SEED-B 401 'Missing or invalid API key'",
)
def missing_key_rejected(ctx: CheckContext) -> None:
    """A request without credentials is rejected with 401."""
    expect_client_error(ctx, "unauthenticated", allowed=(401, 403))


@check(
    area="transport",
    level=Level.PROFILE,
    probes=("wrong_key",),
    applies=_needs_auth,
    rules=("N6", "E3"),
    source="SEED-B 401 'Missing or invalid API key'",
)
def wrong_key_rejected(ctx: CheckContext) -> None:
    """A request with a wrong key is rejected with 401."""
    expect_client_error(ctx, "wrong_key", allowed=(401, 403))


@check(
    area="transport",
    level=Level.SHOULD,
    source="ST unsupported_method; RFC 9110 §15.5.6",
    probes=("unsupported_method",),
    rules=("N5",),
)
def unsupported_method_is_4xx(ctx: CheckContext) -> None:
    """DELETE on the chat route is a 4xx (405 or 404), never a 2xx or 5xx."""
    expect_client_error(ctx, "unsupported_method", early=frozenset())  # 404/405 are its answers


@check(
    area="transport",
    level=Level.SHOULD,
    source="SPEC request schema has no additionalProperties:false",
    probes=("chat_unknown_field",),
    rules=("T8",),
)
def unknown_fields_tolerated(ctx: CheckContext) -> None:
    """An unknown top-level request field is tolerated (200), not rejected."""
    ex = ctx.ex("chat_unknown_field")
    ctx.require_status(ex, 200, "unknown field not tolerated")


@check(
    area="transport",
    level=Level.SHOULD,
    source="ST status_code_conformance; SEED-B error table",
    probes=("malformed_json", "missing_messages", "unknown_model", "chat_basic"),
    rules=("T5",),
)
def status_codes_documented(ctx: CheckContext) -> None:
    """Every status seen is one the dialect documents (200, 400, 401-404, 413, 415, 422, 429, 500, 503)."""
    documented = set(ctx.profile.status_codes) or {
        200,
        400,
        401,
        402,
        403,
        404,
        405,
        413,
        415,
        422,
        429,
        500,
        503,
    }
    documented |= {400, 404} if ctx.profile.status_codes else set()
    for name in ("malformed_json", "missing_messages", "unknown_model", "chat_basic"):
        ex = ctx.ex(name)
        ctx.require(
            ex.status in documented,
            f"{ex.label}: undocumented status {ex.status}",
            expected=", ".join(map(str, sorted(documented))),
            actual=str(ex.status),
            exchange=ex,
        )
