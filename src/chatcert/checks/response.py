"""The non-stream chat completion: shape, identity, choices, message, finish reason."""

from __future__ import annotations

import time
from typing import Any

from chatcert._json import parse_json
from chatcert.checks._util import FINISH_REASONS, expect_success, first_choice, message_of, obj
from chatcert.checks.probes import PROMPT, simple_probe
from chatcert.context import DEFAULT_MAX_TOKENS, CheckContext
from chatcert.registry import Level, check

# -- probes: the requests these checks read ------------------------------------------------------------

simple_probe("chat_n2", "n=2", tokens=2 * DEFAULT_MAX_TOKENS, content=PROMPT, n=2)
simple_probe(
    "chat_json_object",
    "response_format json_object",
    requires=("response_format",),
    content="Return a JSON object with a key 'greeting'.",
    response_format={"type": "json_object"},
)
simple_probe(
    "chat_logprobs",
    "logprobs with top_logprobs=2",
    requires=("logprobs",),
    content=PROMPT,
    logprobs=True,
    top_logprobs=2,
)


# -- checks --------------------------------------------------------------------------------------------

SPEC = "SPEC CreateChatCompletionResponse"


@check(
    area="response",
    level=Level.MUST,
    source=f"{SPEC}, relaxed per catalogue N2 (compatible tier)",
    probes=("chat_basic",),
    rules=("R1",),
)
def response_matches_compatible_schema(ctx: CheckContext) -> None:
    """The response validates against the compatible-tier schema."""
    body = expect_success(ctx, "chat_basic")
    ctx.require_valid(
        "openai/compatible/chat-response",
        body,
        "response does not match the compatible schema",
        ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    strict_level=Level.MUST,
    source=f"{SPEC} (nullable normalised)",
    probes=("chat_basic",),
    rules=("R1", "R9", "R12"),
)
def response_matches_strict_schema(ctx: CheckContext) -> None:
    """The response validates against the official (strict-tier) schema."""
    body = expect_success(ctx, "chat_basic")
    ctx.require_valid(
        "openai/strict/chat-response",
        body,
        "response does not match the official schema",
        ctx.ex("chat_basic"),
    )


@check(area="response", level=Level.MUST, source=f"{SPEC}.object enum", probes=("chat_basic",), rules=("R2",))
def response_object_is_chat_completion(ctx: CheckContext) -> None:
    """object is "chat.completion"."""
    body = expect_success(ctx, "chat_basic")
    ctx.require(
        body.get("object") == "chat.completion",
        "wrong object",
        expected="chat.completion",
        actual=body.get("object"),
        exchange=ctx.ex("chat_basic"),
    )


@check(area="response", level=Level.MUST, source=f"{SPEC}.id", probes=("chat_basic",), rules=("R3",))
def response_id_nonempty(ctx: CheckContext) -> None:
    """id is a non-empty string."""
    body = expect_success(ctx, "chat_basic")
    ctx.require(
        isinstance(body.get("id"), str) and bool(body["id"]),
        "id missing or empty",
        expected="non-empty string",
        actual=body.get("id"),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    source="OpenAI responses use 'chatcmpl-' ids (aimock conformance)",
    probes=("chat_basic",),
    rules=("R3",),
)
def response_id_has_chatcmpl_prefix(ctx: CheckContext) -> None:
    """id starts with "chatcmpl-"."""
    body = expect_success(ctx, "chat_basic")
    ctx.require(
        str(body.get("id", "")).startswith("chatcmpl-"),
        "id lacks the chatcmpl- prefix",
        expected="chatcmpl-...",
        actual=body.get("id"),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.MUST,
    source=f"{SPEC}.created (Unix seconds)",
    probes=("chat_basic",),
    rules=("R1",),
)
def response_created_is_unix_seconds(ctx: CheckContext) -> None:
    """created is an integer Unix time in seconds, within a day of now."""
    body = expect_success(ctx, "chat_basic")
    created = body.get("created")
    ok = isinstance(created, int) and not isinstance(created, bool) and abs(created - time.time()) < 86400
    ctx.require(
        ok,
        "created is not the current Unix time in seconds",
        expected=f"about {int(time.time())}",
        actual=created,
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.MUST,
    source=f"{SPEC}.model; pollinations#12142",
    probes=("chat_basic",),
    rules=("R5",),
)
def response_model_is_string(ctx: CheckContext) -> None:
    """model is a non-empty string."""
    body = expect_success(ctx, "chat_basic")
    ctx.require(
        isinstance(body.get("model"), str) and bool(body["model"]),
        "model missing",
        expected="a model name",
        actual=body.get("model"),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    source="catalogue R5 (llama.cpp does not always echo)",
    probes=("chat_basic",),
    rules=("R5",),
)
def response_model_echoes_request(ctx: CheckContext) -> None:
    """model equals the requested model (or starts with it, for dated snapshots)."""
    body = expect_success(ctx, "chat_basic")
    model = str(body.get("model", ""))
    ctx.require(
        model == ctx.model or model.startswith(ctx.model + "-"),
        "model differs from the request",
        expected=ctx.model,
        actual=model,
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.MUST,
    source=f"{SPEC}.choices; SEED-L 'read the assistant response from the first completion choice'",
    probes=("chat_basic",),
    rules=("R6", "PL1"),
)
def response_has_choices(ctx: CheckContext) -> None:
    """choices is a non-empty array."""
    body = expect_success(ctx, "chat_basic")
    first_choice(ctx, body, ctx.ex("chat_basic"))


@check(
    area="response",
    level=Level.SHOULD,
    source=f"{SPEC}.choices ('more than one if n > 1'); llama.cpp n=2",
    probes=("chat_n2",),
    rules=("R6",),
)
def response_choices_match_n(ctx: CheckContext) -> None:
    """n=2 yields two choices with indexes 0 and 1."""
    body = expect_success(ctx, "chat_n2")
    choices: list[Any] = body["choices"] if isinstance(body.get("choices"), list) else []
    indexes = sorted(str(c.get("index")) for c in choices if isinstance(c, dict))
    ctx.require(
        indexes == ["0", "1"],
        "n=2 not honoured",
        expected="indexes [0, 1]",
        actual=indexes,
        exchange=ctx.ex("chat_n2"),
    )


@check(
    area="response",
    level=Level.MUST,
    source="SPEC ChatCompletionResponseMessage.role enum [assistant]",
    probes=("chat_basic",),
    rules=("R7",),
)
def response_role_is_assistant(ctx: CheckContext) -> None:
    """choices[0].message.role is "assistant"."""
    body = expect_success(ctx, "chat_basic")
    message = message_of(ctx, body, ctx.ex("chat_basic"))
    ctx.require(
        message.get("role") == "assistant",
        "wrong role",
        expected="assistant",
        actual=message.get("role"),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.MUST,
    source="SPEC ChatCompletionResponseMessage.content string|null",
    probes=("chat_basic",),
    rules=("R8",),
)
def response_content_is_string_or_null(ctx: CheckContext) -> None:
    """message.content is a string or null, never an object or array."""
    body = expect_success(ctx, "chat_basic")
    message = message_of(ctx, body, ctx.ex("chat_basic"))
    content = message.get("content")
    ctx.require(
        content is None or isinstance(content, str),
        "content is neither string nor null",
        expected="string or null",
        actual=content,
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.MUST,
    source="SEED-L 'The response text is available at choices[0].message"
    ".content'; vLLM assert_non_empty_content",
    probes=("chat_basic",),
    rules=("R8", "PL1"),
)
def response_content_nonempty_on_stop(ctx: CheckContext) -> None:
    """With finish_reason "stop" and no tool calls, content is a non-empty string."""
    body = expect_success(ctx, "chat_basic")
    choice = first_choice(ctx, body, ctx.ex("chat_basic"))
    message = message_of(ctx, body, ctx.ex("chat_basic"))
    if choice.get("finish_reason") == "stop" and not message.get("tool_calls"):
        content = message.get("content")
        ctx.require(
            isinstance(content, str) and content != "",
            "empty answer",
            expected="non-empty text",
            actual=content,
            exchange=ctx.ex("chat_basic"),
        )


@check(
    area="response",
    level=Level.SHOULD,
    strict_level=Level.MUST,
    source="SPEC ChatCompletionResponseMessage required [role, content, refusal]; catalogue N2",
    probes=("chat_basic",),
    rules=("R9",),
)
def response_refusal_present(ctx: CheckContext) -> None:
    """message.refusal is present (null allowed)."""
    body = expect_success(ctx, "chat_basic")
    message = message_of(ctx, body, ctx.ex("chat_basic"))
    ctx.require(
        "refusal" in message and (message["refusal"] is None or isinstance(message["refusal"], str)),
        "message.refusal missing",
        expected="refusal: null or string",
        actual=sorted(message),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.MUST,
    source=f"{SPEC} finish_reason enum; sglang#3912, openai-dotnet#389",
    probes=("chat_basic",),
    rules=("R10",),
)
def response_finish_reason_valid(ctx: CheckContext) -> None:
    """finish_reason is one of stop, length, tool_calls, content_filter, function_call (never "")."""
    body = expect_success(ctx, "chat_basic")
    choice = first_choice(ctx, body, ctx.ex("chat_basic"))
    ctx.require(
        choice.get("finish_reason") in FINISH_REASONS,
        "invalid finish_reason",
        expected=" | ".join(FINISH_REASONS),
        actual=choice.get("finish_reason"),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    source="llama.cpp test_chat_completion; vLLM (finish_reason length)",
    probes=("chat_length_cap",),
    rules=("R11",),
)
def response_finish_reason_length_at_cap(ctx: CheckContext) -> None:
    """An answer cut by max_tokens=1 ends with finish_reason "length"."""
    body = expect_success(ctx, "chat_length_cap")
    choice = first_choice(ctx, body, ctx.ex("chat_length_cap"))
    ctx.require(
        choice.get("finish_reason") == "length",
        "cut answer not reported as length",
        expected="length",
        actual=choice.get("finish_reason"),
        exchange=ctx.ex("chat_length_cap"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    strict_level=Level.MUST,
    source=f"{SPEC} choice required [finish_reason, index, message, logprobs]",
    probes=("chat_basic",),
    rules=("R12",),
)
def response_logprobs_key_present(ctx: CheckContext) -> None:
    """Each choice carries a logprobs key (null allowed)."""
    body = expect_success(ctx, "chat_basic")
    choice = first_choice(ctx, body, ctx.ex("chat_basic"))
    ctx.require(
        "logprobs" in choice,
        "choice has no logprobs key",
        expected="logprobs: null",
        actual=sorted(choice),
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    source=f"{SPEC}.system_fingerprint (deprecated string)",
    probes=("chat_basic",),
    rules=("R14",),
)
def response_system_fingerprint_is_string(ctx: CheckContext) -> None:
    """system_fingerprint, when present, is a string."""
    body = expect_success(ctx, "chat_basic")
    value = body.get("system_fingerprint")
    ctx.require(
        value is None or isinstance(value, str),
        "system_fingerprint is not a string",
        expected="string",
        actual=value,
        exchange=ctx.ex("chat_basic"),
    )


@check(
    area="response",
    level=Level.SHOULD,
    requires=("logprobs",),
    probes=("chat_logprobs",),
    rules=("R13",),
    source="SPEC ChatCompletionTokenLogprob; llama.cpp test_logprobs; vLLM test_chat",
)
def logprobs_returned_when_asked(ctx: CheckContext) -> None:
    """logprobs: true, top_logprobs: 2 yields logprobs.content with logprob <= 0 and two alternatives."""
    body = expect_success(ctx, "chat_logprobs")
    choice = first_choice(ctx, body, ctx.ex("chat_logprobs"))
    content = obj(choice.get("logprobs")).get("content")
    ctx.require(
        isinstance(content, list) and len(content) > 0,
        "no logprobs.content",
        expected="a list",
        actual=choice.get("logprobs"),
        exchange=ctx.ex("chat_logprobs"),
    )
    for item in content or []:
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("logprob"), (int, float))
            and item["logprob"] <= 0
            and isinstance(item.get("top_logprobs"), list)
            and len(item["top_logprobs"]) == 2
        )
        ctx.require(
            ok,
            "a logprob entry is malformed",
            expected="logprob <= 0 and 2 top_logprobs",
            actual=item,
            exchange=ctx.ex("chat_logprobs"),
        )


@check(
    area="response",
    level=Level.SHOULD,
    requires=("response_format",),
    probes=("chat_json_object",),
    rules=("R15",),
    source="SPEC ResponseFormatJsonObject; llama.cpp, vLLM structured outputs",
)
def json_object_response_parses(ctx: CheckContext) -> None:
    """With response_format json_object, the content parses as a JSON object."""
    body = expect_success(ctx, "chat_json_object")
    message = message_of(ctx, body, ctx.ex("chat_json_object"))
    choice = first_choice(ctx, body, ctx.ex("chat_json_object"))
    if choice.get("finish_reason") == "length":
        return  # a cut answer cannot be whole JSON; the length check judges the cap
    try:
        parsed = parse_json(str(message.get("content")))
    except ValueError:
        parsed = None
    ctx.require(
        isinstance(parsed, dict),
        "content is not a JSON object",
        expected="JSON object",
        actual=message.get("content"),
        exchange=ctx.ex("chat_json_object"),
    )
