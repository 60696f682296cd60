"""Legacy /v1/completions: shape, usage and stream termination."""

from __future__ import annotations

from chatcert.checks._util import expect_success, obj, require_usage_totals
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------


@probe("completions_basic", tokens=DEFAULT_MAX_TOKENS, requires=("completions",), routes=("completions",))
def completions_basic(ctx: ProbeContext) -> None:
    """Legacy completions request."""
    body = {"model": ctx.model, "prompt": "Once upon a time", "max_tokens": DEFAULT_MAX_TOKENS}
    ctx.chat(body, label="completions", route="completions")


@probe(
    "completions_stream",
    tokens=DEFAULT_MAX_TOKENS,
    requires=("completions", "streaming"),
    routes=("completions",),
)
def completions_stream(ctx: ProbeContext) -> None:
    """Streamed legacy completions request."""
    body = {
        "model": ctx.model,
        "prompt": "Once upon a time",
        "max_tokens": DEFAULT_MAX_TOKENS,
        "stream": True,
    }
    ctx.chat(body, label="completions stream", route="completions")


# -- checks --------------------------------------------------------------------------------------------

REQ = ("completions",)
SRC = "SPEC CreateCompletionResponse; SEED-B lists /v1/completions"


@check(
    area="completions",
    level=Level.MUST,
    requires=REQ,
    probes=("completions_basic",),
    rules=("PB1",),
    source=SRC,
)
def completions_response_matches_schema(ctx: CheckContext) -> None:
    """A legacy completion validates against the completion schema."""
    body = expect_success(ctx, "completions_basic")
    ctx.require_valid(
        "openai/completion-response",
        body,
        "completion does not match the schema",
        ctx.ex("completions_basic"),
    )


@check(
    area="completions",
    level=Level.MUST,
    requires=REQ,
    probes=("completions_basic",),
    rules=("PB1",),
    source=SRC,
)
def completions_object_is_text_completion(ctx: CheckContext) -> None:
    """object is "text_completion" and choices[0].text a string."""
    body = expect_success(ctx, "completions_basic")
    choices = body.get("choices") or [{}]
    ok = (
        body.get("object") == "text_completion"
        and isinstance(choices, list)
        and isinstance(choices[0], dict)
        and isinstance(choices[0].get("text"), str)
    )
    ctx.require(
        ok,
        "not a text_completion",
        expected="object text_completion, choices[0].text",
        actual={"object": body.get("object"), "choices": str(choices)[:200]},
        exchange=ctx.ex("completions_basic"),
    )


@check(
    area="completions",
    level=Level.MUST,
    requires=REQ,
    probes=("completions_basic",),
    rules=("U2",),
    source="SPEC CompletionUsage",
)
def completions_usage_consistent(ctx: CheckContext) -> None:
    """Completion usage totals add up."""
    body = expect_success(ctx, "completions_basic")
    usage = obj(body.get("usage"))
    require_usage_totals(ctx, usage, "completion usage", ctx.ex("completions_basic"))


@check(
    area="completions",
    level=Level.MUST,
    requires=("completions", "streaming"),
    probes=("completions_stream",),
    rules=("S8",),
    source="SPEC (stream terminated by data: [DONE])",
)
def completions_stream_ends_with_done(ctx: CheckContext) -> None:
    """A streamed legacy completion ends with [DONE] and its chunks are text_completion objects."""
    events = ctx.stream_events("completions_stream")
    ctx.require(
        bool(events) and events[-1].data.strip() == "[DONE]",
        "no final [DONE]",
        expected="[DONE]",
        actual=events[-1].data[:100] if events else "(none)",
        exchange=ctx.ex("completions_stream"),
    )
    for doc in ctx.chunks("completions_stream"):
        ctx.require(
            doc.get("object") == "text_completion",
            "chunk is not a text_completion",
            expected="text_completion",
            actual=doc.get("object"),
            exchange=ctx.ex("completions_stream"),
        )
