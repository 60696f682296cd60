"""Small judgements several areas share."""

from __future__ import annotations

import json
from typing import Any

from chatcert._models import Exchange
from chatcert.context import CheckContext

FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "function_call")


# Client errors that usually refuse a request before its content is read: the route, the method, the
# key, the payment or the rate. A rejection check whose premise is "this content is refused" is not
# exercised by them (a wrong base URL answers every rejection probe 404 and must not pass them all). A
# check where one of them is a content answer (404 "model not found" to a request without a model, 403
# to an image URL the server will not fetch) takes it out of `early`.
NOT_ABOUT_CONTENT = frozenset({401, 402, 403, 404, 405, 407, 429})


def expect_client_error(
    ctx: CheckContext,
    probe: str,
    index: int = 0,
    *,
    allowed: tuple[int, ...] = (),
    early: frozenset[int] = NOT_ABOUT_CONTENT,
) -> Exchange:
    """The exchange was rejected with a 4xx (never a 2xx or 5xx). Without an `allowed` list, a status in
    `early` (by default one that refuses the route, method, key, payment or rate) is not the rejection
    under test: the check is skipped as not exercised."""
    ex = ctx.ex(probe, index)
    ok = ex.status is not None and (400 <= ex.status < 500) and (not allowed or ex.status in allowed)
    if not allowed and ex.status in early:
        ctx.skip(
            f"not exercised: the server answered {ex.status}, a status that refuses the route, method, "
            f"key, payment or rate rather than the content under test: {ex.excerpt(120)}"
        )
    want = "/".join(map(str, allowed)) if allowed else "4xx"
    ctx.require(
        ok,
        f"expected a {want} rejection, got {ex.status}",
        expected=want,
        actual=f"{ex.status} {ex.excerpt(300)}",
        exchange=ex,
    )
    return ex


def expect_success(ctx: CheckContext, probe: str, index: int = 0) -> dict[str, Any]:
    return ctx.body_object(probe, index, status=200)


def expect_text_answer(ctx: CheckContext, probe: str, what: str) -> None:
    """The exchange was answered 200 with a non-empty choices[0].message.content."""
    body = expect_success(ctx, probe)
    content = message_of(ctx, body, ctx.ex(probe)).get("content")
    ctx.require(
        isinstance(content, str) and content != "",
        f"empty answer to {what}",
        expected="non-empty text",
        actual=content,
        exchange=ctx.ex(probe),
    )


def json_or_none(ex: Exchange) -> Any:
    try:
        return ex.json()
    except ValueError:
        return None


def first_choice(ctx: CheckContext, body: dict[str, Any], ex: Exchange) -> dict[str, Any]:
    choices = body.get("choices")
    ctx.require(
        isinstance(choices, list) and len(choices) > 0 and isinstance(choices[0], dict),
        "response has no choices[0]",
        expected="choices: [ {...} ]",
        actual=choices,
        exchange=ex,
    )
    return dict(choices[0])  # type: ignore[index]


def message_of(ctx: CheckContext, body: dict[str, Any], ex: Exchange) -> dict[str, Any]:
    message = first_choice(ctx, body, ex).get("message")
    ctx.require(
        isinstance(message, dict),
        "choices[0].message is not an object",
        expected="object",
        actual=message,
        exchange=ex,
    )
    return dict(message)  # type: ignore[arg-type]


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)[:400]


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else {} (a server's wrong type must fail a check, not crash it)."""
    return value if isinstance(value, dict) else {}


def arr(value: Any) -> list[Any]:
    """`value` when it is a JSON array, else []."""
    return value if isinstance(value, list) else []


def index_of(choice: Any) -> int | None:
    """A choice's integer index, or None when it is missing or not an integer."""
    value = obj(choice).get("index", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def require_usage_totals(ctx: CheckContext, usage: dict[str, Any], what: str, exchange: Exchange) -> None:
    """total_tokens equals prompt_tokens + completion_tokens (vLLM tests; budgets settle from it)."""
    try:
        ok = usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    except (KeyError, TypeError):
        ok = False
    keys = ("prompt_tokens", "completion_tokens", "total_tokens")
    ctx.require(
        ok,
        f"{what} totals do not add up",
        expected="total = prompt + completion",
        actual={k: usage.get(k) for k in keys},
        exchange=exchange,
    )
