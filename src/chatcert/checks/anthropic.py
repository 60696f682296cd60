"""Anthropic Messages (/v1/messages): request rules, response blocks, named SSE events in order."""

from __future__ import annotations

from typing import Any

from chatcert._json import parse_json
from chatcert._schemas import schema_errors
from chatcert.checks._util import arr, expect_client_error, expect_success, obj
from chatcert.checks.probes import PROMPT, TOOL_MAX_TOKENS, WEATHER_TOOL
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext, ProbeContext
from chatcert.registry import Level, check, probe

# -- probes: the requests these checks read ------------------------------------------------------------


def _messages_body(ctx: ProbeContext, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": ctx.model,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "messages": [{"role": "user", "content": PROMPT}],
    }
    body.update(extra)
    return body


ANTHROPIC_HEADERS = {"anthropic-version": "2023-06-01"}


@probe("messages_basic", tokens=DEFAULT_MAX_TOKENS, requires=("anthropic",), routes=("messages",))
def messages_basic(ctx: ProbeContext) -> None:
    """Anthropic Messages request."""
    ctx.chat(_messages_body(ctx), label="messages", route="messages", headers=ANTHROPIC_HEADERS)


@probe(
    "messages_stream", tokens=DEFAULT_MAX_TOKENS, requires=("anthropic", "streaming"), routes=("messages",)
)
def messages_stream(ctx: ProbeContext) -> None:
    """Streamed Anthropic Messages request."""
    ctx.chat(
        _messages_body(ctx, stream=True), label="messages stream", route="messages", headers=ANTHROPIC_HEADERS
    )


@probe("messages_missing_max_tokens", tokens=0, requires=("anthropic",), routes=("messages",))
def messages_missing_max_tokens(ctx: ProbeContext) -> None:
    """Anthropic Messages request without max_tokens."""
    body = _messages_body(ctx)
    del body["max_tokens"]
    ctx.chat(body, label="messages without max_tokens", route="messages", headers=ANTHROPIC_HEADERS)


@probe("messages_tools", tokens=TOOL_MAX_TOKENS, requires=("anthropic", "tools"), routes=("messages",))
def messages_tools(ctx: ProbeContext) -> None:
    """Anthropic Messages request with a tool it must use."""
    tool = {
        "name": "get_weather",
        "description": "Get the weather",
        "input_schema": WEATHER_TOOL["function"]["parameters"],
    }
    body = _messages_body(ctx, max_tokens=TOOL_MAX_TOKENS, tools=[tool], tool_choice={"type": "any"})
    body["messages"] = [{"role": "user", "content": "What's the weather in Paris?"}]
    ctx.chat(body, label="messages with tools", route="messages", headers=ANTHROPIC_HEADERS)


# -- checks --------------------------------------------------------------------------------------------

ANTH = ("anthropic",)
STOP_REASONS = ("end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal")
SRC = "Anthropic Messages API; SEED-B 'the Anthropic SDK works against LibertAI by changing the base URL'"


@check(
    area="anthropic",
    level=Level.MUST,
    requires=ANTH,
    probes=("messages_basic",),
    rules=("AM3", "AM2", "PB1"),
    source=SRC,
)
def messages_response_matches_schema(ctx: CheckContext) -> None:
    """The Messages response validates against the Anthropic schema."""
    body = expect_success(ctx, "messages_basic")
    ctx.require_valid(
        "anthropic/messages-response",
        body,
        "Messages response does not match the schema",
        ctx.ex("messages_basic"),
    )


@check(
    area="anthropic", level=Level.MUST, requires=ANTH, probes=("messages_basic",), rules=("AM3",), source=SRC
)
def messages_type_and_role(ctx: CheckContext) -> None:
    """type is "message", role "assistant", and content a list of blocks with text."""
    body = expect_success(ctx, "messages_basic")
    content = body.get("content")
    ok = (
        body.get("type") == "message"
        and body.get("role") == "assistant"
        and isinstance(content, list)
        and any(
            isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
            for b in content
        )
    )
    ctx.require(
        ok,
        "not an assistant message with text blocks",
        expected="type message, role assistant, text block",
        actual={k: body.get(k) for k in ("type", "role", "content")},
        exchange=ctx.ex("messages_basic"),
    )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=ANTH,
    probes=("messages_basic",),
    rules=("AM3",),
    source="Anthropic stop reasons",
)
def messages_stop_reason_valid(ctx: CheckContext) -> None:
    """stop_reason is one of end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal."""
    body = expect_success(ctx, "messages_basic")
    ctx.require(
        body.get("stop_reason") in STOP_REASONS,
        "invalid stop_reason",
        expected=" | ".join(STOP_REASONS),
        actual=body.get("stop_reason"),
        exchange=ctx.ex("messages_basic"),
    )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=ANTH,
    probes=("messages_basic",),
    rules=("AM4",),
    source="Anthropic usage (input_tokens, output_tokens)",
)
def messages_usage_counts(ctx: CheckContext) -> None:
    """usage has integer input_tokens and output_tokens, output within max_tokens."""
    body = expect_success(ctx, "messages_basic")
    usage: dict[str, Any] = body["usage"] if isinstance(body.get("usage"), dict) else {}
    ok = all(isinstance(usage.get(k), int) and usage[k] >= 0 for k in ("input_tokens", "output_tokens"))
    ctx.require(
        ok and usage.get("output_tokens", 0) <= 16,
        "bad Messages usage",
        expected="input_tokens, output_tokens <= 16",
        actual=usage,
        exchange=ctx.ex("messages_basic"),
    )


@check(
    area="anthropic",
    level=Level.SHOULD,
    requires=ANTH,
    probes=("messages_basic",),
    rules=("AM3",),
    source=SRC,
)
def messages_id_has_msg_prefix(ctx: CheckContext) -> None:
    """id starts with "msg_"."""
    body = expect_success(ctx, "messages_basic")
    ctx.require(
        str(body.get("id", "")).startswith("msg_"),
        "id lacks the msg_ prefix",
        expected="msg_...",
        actual=body.get("id"),
        exchange=ctx.ex("messages_basic"),
    )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=ANTH,
    probes=("messages_missing_max_tokens",),
    rules=("AM1",),
    source="Anthropic Messages required [model, max_tokens, messages]",
)
def messages_missing_max_tokens_rejected(ctx: CheckContext) -> None:
    """A Messages request without max_tokens is rejected with a 4xx."""
    expect_client_error(ctx, "messages_missing_max_tokens")


@check(
    area="anthropic",
    level=Level.SHOULD,
    requires=ANTH,
    probes=("messages_missing_max_tokens",),
    rules=("E9",),
    source="Anthropic errors {type: error, error: {type, message}}",
)
def messages_error_shape(ctx: CheckContext) -> None:
    """Messages errors are {"type": "error", "error": {"type", "message"}}."""
    ex = expect_client_error(ctx, "messages_missing_max_tokens")
    try:
        body = ex.json()
    except ValueError:
        body = None
    errors = schema_errors("anthropic/error", body)
    ctx.require(
        not errors,
        "Messages error not in Anthropic shape",
        expected="anthropic/error",
        actual="; ".join(errors) + " | " + ex.excerpt(200),
        exchange=ex,
    )


def _events(ctx: CheckContext) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for event in ctx.stream_events("messages_stream"):
        try:
            doc = parse_json(event.data)
        except ValueError:
            doc = {"type": "(not JSON)", "raw": event.data[:100]}
        out.append((event.event, doc if isinstance(doc, dict) else {"type": "(not an object)"}))
    ctx.require(
        len(out) > 0, "empty Messages stream", expected="events", actual=0, exchange=ctx.ex("messages_stream")
    )
    return out


STREAM = ("anthropic", "streaming")


@check(
    area="anthropic",
    level=Level.MUST,
    requires=STREAM,
    probes=("messages_stream",),
    rules=("AM5",),
    source="Anthropic streaming (named events)",
)
def messages_stream_events_named(ctx: CheckContext) -> None:
    """Every event's name matches its data's type, and each validates against the event schema."""
    for name, doc in _events(ctx):
        ctx.require(
            name == doc.get("type"),
            "event name differs from data.type",
            expected=str(doc.get("type")),
            actual=name,
            exchange=ctx.ex("messages_stream"),
        )
        ctx.require_valid(
            "anthropic/stream-event",
            doc,
            f"{name} event does not match the schema",
            ctx.ex("messages_stream"),
        )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=STREAM,
    probes=("messages_stream",),
    rules=("AM5",),
    source="Anthropic streaming (no [DONE] sentinel)",
)
def messages_stream_has_no_done(ctx: CheckContext) -> None:
    """A Messages stream sends no [DONE] sentinel."""
    events = ctx.stream_events("messages_stream")
    ctx.require(
        all(e.data.strip() != "[DONE]" for e in events),
        "[DONE] in a Messages stream",
        expected="no [DONE]",
        actual="[DONE]",
        exchange=ctx.ex("messages_stream"),
    )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=STREAM,
    probes=("messages_stream",),
    rules=("AM6",),
    source="Anthropic streaming event flow; llama.cpp test_compat_anthropic",
)
def messages_stream_event_order(ctx: CheckContext) -> None:
    """Events run message_start,
    blocks (start, delta+, stop), message_delta, message_stop; pings anywhere."""
    names = [n for n, _ in _events(ctx) if n != "ping"]
    ok = (
        len(names) >= 4
        and names[0] == "message_start"
        and names[-1] == "message_stop"
        and names[-2] == "message_delta"
    )
    state = "outside"
    for name in names[1:-2]:
        if name == "content_block_start" and state == "outside":
            state = "start"
        elif name == "content_block_delta" and state in ("start", "delta"):
            state = "delta"
        elif name == "content_block_stop" and state == "delta":
            state = "outside"
        else:
            ok = False
    ok = ok and state == "outside" and "content_block_start" in names
    ctx.require(
        ok,
        "Messages events out of order",
        expected="message_start, block*, message_delta, message_stop",
        actual=names[:12],
        exchange=ctx.ex("messages_stream"),
    )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=STREAM,
    probes=("messages_stream",),
    rules=("AM7",),
    source="llama.cpp test_compat_anthropic (block index)",
)
def messages_stream_block_indexes_consistent(ctx: CheckContext) -> None:
    """content_block_start, _delta and _stop agree on the block index."""
    open_index = None
    for name, doc in _events(ctx):
        if name == "content_block_start":
            open_index = doc.get("index")
        elif name in ("content_block_delta", "content_block_stop"):
            ctx.require(
                doc.get("index") == open_index,
                f"{name} index differs from its block's start",
                expected=str(open_index),
                actual=doc.get("index"),
                exchange=ctx.ex("messages_stream"),
            )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=STREAM,
    probes=("messages_stream",),
    rules=("AM6",),
    source="Anthropic streaming (message_delta carries stop_reason)",
)
def messages_stream_delta_has_stop_reason(ctx: CheckContext) -> None:
    """message_delta carries delta.stop_reason and usage.output_tokens."""
    deltas = [d for n, d in _events(ctx) if n == "message_delta"]
    ok = (
        len(deltas) == 1
        and obj(deltas[0].get("delta")).get("stop_reason") in STOP_REASONS
        and isinstance(obj(deltas[0].get("usage")).get("output_tokens"), int)
    )
    ctx.require(
        ok,
        "message_delta lacks stop_reason or usage",
        expected="one message_delta with stop_reason, usage",
        actual=deltas[:2],
        exchange=ctx.ex("messages_stream"),
    )


@check(
    area="anthropic",
    level=Level.MUST,
    requires=("anthropic", "tools"),
    probes=("messages_tools",),
    rules=("AM8",),
    source="Anthropic tool use (tool_use block, input object)",
)
def messages_tool_use_block_valid(ctx: CheckContext) -> None:
    """A forced tool use yields a tool_use block with id, name and an input object, stop_reason tool_use."""
    body = expect_success(ctx, "messages_tools")
    blocks = [b for b in arr(body.get("content")) if isinstance(b, dict) and b.get("type") == "tool_use"]
    ok = bool(blocks) and all(
        isinstance(b.get("id"), str) and b.get("name") == "get_weather" and isinstance(b.get("input"), dict)
        for b in blocks
    )
    ctx.require(
        ok and body.get("stop_reason") == "tool_use",
        "no valid tool_use block",
        expected="tool_use block with input object; stop_reason tool_use",
        actual={"content": body.get("content"), "stop_reason": body.get("stop_reason")},
        exchange=ctx.ex("messages_tools"),
    )
