"""Probes: the requests a certification sends. Each is sent at most once per run; checks judge them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chatcert._models import RequestSpec
from chatcert.context import DEFAULT_MAX_TOKENS, ProbeContext
from chatcert.fetchtrap import FetchTrap, is_loopback_target
from chatcert.images import data_url, fixture_image, make_png
from chatcert.registry import probe
from chatcert.wire.scenario import SCENARIO_HEADER

PROMPT = "Say hello in five words."
WRONG_KEY = "chatcert-wrong-key-0000"  # no provider issues keys of this form
LONG_PROMPT = "Write a long story about a lighthouse keeper, in at least three hundred words."
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TIME_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "Get the current time in a time zone",
        "parameters": {"type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]},
    },
}


def image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    inner: dict[str, Any] = {"url": url}
    if detail:
        inner["detail"] = detail
    return {"type": "image_url", "image_url": inner}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def png_url() -> str:
    return data_url(fixture_image("png"))


# -- free probes -------------------------------------------------------------------------------------


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


# -- chat: accepted requests -------------------------------------------------------------------------


def _simple(
    name: str, label: str, tokens: int = DEFAULT_MAX_TOKENS, requires: tuple[str, ...] = (), **build: Any
) -> None:
    """Register a one-request chat probe whose body is chat_body(**build)."""

    @probe(name, tokens=tokens, requires=requires)
    def send(ctx: ProbeContext) -> None:
        body = ctx.chat_body(**{k: (v(ctx) if callable(v) else v) for k, v in build.items()})
        ctx.chat(body, label=label)

    send.__doc__ = label


_simple("chat_basic", "non-stream chat", content=PROMPT, temperature=0, seed=7)
_simple(
    "chat_stream",
    "streamed chat",
    requires=("streaming",),
    content=PROMPT,
    stream=True,
    temperature=0,
    seed=7,
)
_simple(
    "chat_stream_usage",
    "streamed chat with include_usage",
    requires=("streaming", "stream_usage"),
    content=PROMPT,
    stream=True,
    stream_options={"include_usage": True},
)
_simple("chat_length_cap", "max_tokens=1 on a long answer", tokens=1, content=LONG_PROMPT, max_tokens=1)
_simple("chat_n2", "n=2", tokens=2 * DEFAULT_MAX_TOKENS, content=PROMPT, n=2)
_simple(
    "chat_stream_n2",
    "streamed n=2",
    tokens=2 * DEFAULT_MAX_TOKENS,
    requires=("streaming",),
    content=PROMPT,
    n=2,
    stream=True,
)
_simple("chat_unknown_field", "unknown top-level field", content=PROMPT, x_chatcert_unknown_field=True)
_simple("chat_nul", "NUL and odd unicode in content", content="Repeat: a\u0000b \u202e\U0001f600 \ufffe")
_simple(
    "chat_json_object",
    "response_format json_object",
    requires=("response_format",),
    content="Return a JSON object with a key 'greeting'.",
    response_format={"type": "json_object"},
)
_simple(
    "chat_logprobs",
    "logprobs with top_logprobs=2",
    requires=("logprobs",),
    content=PROMPT,
    logprobs=True,
    top_logprobs=2,
)


@probe("chat_max_completion_tokens", tokens=3)
def chat_max_completion_tokens(ctx: ProbeContext) -> None:
    """max_completion_tokens=3 (no max_tokens)."""
    body = ctx.chat_body(LONG_PROMPT)
    del body["max_tokens"]
    body["max_completion_tokens"] = 3
    ctx.chat(body, label="max_completion_tokens=3")


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


@probe("chat_alias_basic", tokens=DEFAULT_MAX_TOKENS, routes=("chat_alias",))
def chat_alias_basic(ctx: ProbeContext) -> None:
    """A plain chat request on the profile's second chat path (Pharia: /chat/completions)."""
    ctx.chat(ctx.chat_body(PROMPT), label="chat on the alias path", route="chat_alias")


@probe("unsupported_method", free=True)
def unsupported_method(ctx: ProbeContext) -> None:
    """DELETE on the chat route."""
    ctx.send(RequestSpec("DELETE", ctx.route("chat"), label="DELETE chat route"))


# -- chat: requests that must be rejected ------------------------------------------------------------


def _reject(name: str, label: str, mutate: Any, requires: tuple[str, ...] = ()) -> None:
    """Register a one-request probe sending chat_body() changed by `mutate(body, ctx)`."""

    @probe(name, tokens=DEFAULT_MAX_TOKENS, requires=requires)
    def send(ctx: ProbeContext) -> None:
        body = ctx.chat_body(PROMPT)
        mutate(body, ctx)
        ctx.chat(body, label=label)

    send.__doc__ = label


def _set(**values: Any) -> Any:
    def apply(body: dict[str, Any], ctx: ProbeContext) -> None:
        body.update(values)

    return apply


def _drop(key: str) -> Any:
    def apply(body: dict[str, Any], ctx: ProbeContext) -> None:
        body.pop(key, None)

    return apply


# The plain rejections (missing model, empty messages, ...) are data: fixtures/cases/request/*.json.
_reject("unknown_model", "unknown model", _set(model="chatcert-no-such-model-4242"))
_reject(
    "stream_rejected", "invalid streamed request", _set(messages=[], stream=True), requires=("streaming",)
)
_reject("image_output_request", "image output requested", _set(modalities=["text", "image"]))
_reject(
    "audio_output_request",
    "audio output requested",
    _set(modalities=["text", "audio"], audio={"voice": "alloy", "format": "wav"}),
)


NEGATIVE_MAX_TOKENS_DEADLINE_S = 10.0
NEGATIVE_MAX_TOKENS_ENOUGH_BYTES = 2048


@probe("negative_max_tokens", tokens=DEFAULT_MAX_TOKENS)
def negative_max_tokens(ctx: ProbeContext) -> None:
    """max_tokens: -1 on a one-word answer, streamed where the profile streams, read only so far."""
    if (ctx.profile.paid or ctx.client.budget.max_tokens is not None) and not ctx.target_is_mock:
        # A server that reads -1 as "no limit" spends tokens no budget can bound.
        ctx.result.skipped = (
            "not exercised: under a token budget or on a paid endpoint, a server that takes "
            "max_tokens -1 as 'no limit' would spend tokens the budget cannot bound"
        )
        return
    # A 4xx needs no generation. A server that took -1 as "no limit" must not be left generating
    # for the rest of the run (a single-slot server would then time out every later check): the
    # answer is streamed where the profile streams, and chatcert hangs up after the first couple of
    # kilobytes, which stops generation on servers that watch for disconnects. Without streaming, a
    # short deadline bounds the wait.
    stream = ctx.profile.claims_capability("streaming")
    ctx.result.data["deadline_s"] = NEGATIVE_MAX_TOKENS_DEADLINE_S
    body = ctx.chat_body(PROMPT, max_tokens=-1, **({"stream": True} if stream else {}))
    ctx.send(
        RequestSpec(
            "POST",
            ctx.route("chat"),
            body=body,
            stream=stream,
            label="max_tokens: -1 on a one-word answer",
            deadline_s=NEGATIVE_MAX_TOKENS_DEADLINE_S,
            enough_bytes=NEGATIVE_MAX_TOKENS_ENOUGH_BYTES if stream else None,
        )
    )


@probe("malformed_json", free=True)
def malformed_json(ctx: ProbeContext) -> None:
    """A body that is not JSON."""
    ctx.chat(None, label="malformed JSON body", raw_body=b'{"model": "x", "messages": [', stream=False)


@probe("non_object_body", free=True)
def non_object_body(ctx: ProbeContext) -> None:
    """A JSON body that is an array."""
    ctx.chat(None, label="JSON array body", raw_body=b"[1, 2, 3]", stream=False)


@probe("wrong_content_type", tokens=DEFAULT_MAX_TOKENS)
def wrong_content_type(ctx: ProbeContext) -> None:
    """A valid body sent as text/plain."""
    ctx.chat(ctx.chat_body(PROMPT), label="Content-Type: text/plain", headers={"Content-Type": "text/plain"})


@probe("healthy_after_rejection", requests=2, tokens=2 * DEFAULT_MAX_TOKENS)
def healthy_after_rejection(ctx: ProbeContext) -> None:
    """A rejected request, then a valid one."""
    ctx.chat(None, label="malformed JSON before a valid request", raw_body=b"{not json", stream=False)
    ctx.chat(ctx.chat_body(PROMPT), label="valid request after a rejected one")


# -- tools --------------------------------------------------------------------------------------------


# Room for a real model to finish a call: 64 cut a 270M model's call mid-arguments on vLLM (issue 18),
# which then reads as a server defect. An upper bound only: a call that ends early costs what it used.
TOOL_MAX_TOKENS = 256


def _tools_body(
    ctx: ProbeContext, tool_choice: Any, tools: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    body = ctx.chat_body("What's the weather in Paris? Use the tool.", max_tokens=TOOL_MAX_TOKENS, **extra)
    body["tools"] = tools if tools is not None else [WEATHER_TOOL]
    if tool_choice is not None:
        body["tool_choice"] = tool_choice
    return body


@probe("tools_required", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_required(ctx: ProbeContext) -> None:
    """tools + tool_choice: required."""
    ctx.chat(_tools_body(ctx, "required"), label="tool_choice required")


@probe("tools_named", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_named(ctx: ProbeContext) -> None:
    """Two tools, tool_choice naming the second."""
    choice = {"type": "function", "function": {"name": "get_time"}}
    ctx.chat(_tools_body(ctx, choice, [WEATHER_TOOL, TIME_TOOL]), label="named tool_choice")


@probe("tools_none", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_none(ctx: ProbeContext) -> None:
    """tools + tool_choice: none."""
    ctx.chat(_tools_body(ctx, "none"), label="tool_choice none")


@probe("tools_parallel_false", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_parallel_false(ctx: ProbeContext) -> None:
    """Two tools, parallel_tool_calls false."""
    ctx.chat(
        _tools_body(ctx, "required", [WEATHER_TOOL, TIME_TOOL], parallel_tool_calls=False),
        label="parallel_tool_calls false",
    )


@probe("tools_undefined_choice", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_undefined_choice(ctx: ProbeContext) -> None:
    """tool_choice naming a function that is not declared."""
    choice = {"type": "function", "function": {"name": "no_such_function"}}
    ctx.chat(_tools_body(ctx, choice), label="tool_choice names an undefined function")


@probe("tools_choice_without_tools", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_choice_without_tools(ctx: ProbeContext) -> None:
    """tool_choice given without tools."""
    body = _tools_body(ctx, "required")
    del body["tools"]
    ctx.chat(body, label="tool_choice without tools")


@probe("tools_stream", tokens=TOOL_MAX_TOKENS, requires=("tools", "streaming"))
def tools_stream(ctx: ProbeContext) -> None:
    """Streamed tool call (tool_choice required)."""
    ctx.chat(_tools_body(ctx, "required", stream=True), label="streamed tool call")


@probe("tools_round_trip", requests=2, tokens=2 * TOOL_MAX_TOKENS, requires=("tools",))
def tools_round_trip(ctx: ProbeContext) -> None:
    """A tool call, then the tool's result sent back."""
    first = ctx.chat(_tools_body(ctx, "required"), label="tool call (round trip, turn 1)")
    call: dict[str, Any] = {
        "id": "call_chatcert_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    try:
        calls = first.json()["choices"][0]["message"]["tool_calls"]
        if (
            isinstance(calls, list)
            and calls
            and isinstance(calls[0], dict)
            and isinstance(calls[0].get("function", {}).get("arguments"), str)
        ):
            call = calls[0]
    except (ValueError, KeyError, IndexError, TypeError):
        pass
    body = _tools_body(ctx, "auto")
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call.get("id", "call_chatcert_1"), "content": '{"temp_c": 21}'},
    ]
    ctx.chat(body, label="tool result sent back (round trip, turn 2)")


@probe("tools_empty_args_round_trip", tokens=TOOL_MAX_TOKENS, requires=("tools",))
def tools_empty_args_round_trip(ctx: ProbeContext) -> None:
    """A follow-up turn whose assistant tool call has arguments "{}"."""
    tool = {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "time",
            "parameters": {"type": "object", "properties": {}},
        },
    }
    body = _tools_body(ctx, "auto", [tool])
    body["messages"] += [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_chatcert_2",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_chatcert_2", "content": "12:00"},
    ]
    ctx.chat(body, label="tool result after a call with arguments {}")


# -- vision -------------------------------------------------------------------------------------------


def _vision(
    name: str, label: str, parts: Any, *, requires: tuple[str, ...] = ("vision",), costly: bool = False
) -> None:
    @probe(name, tokens=DEFAULT_MAX_TOKENS, requires=requires, costly=costly)
    def send(ctx: ProbeContext) -> None:
        ctx.chat(ctx.chat_body(parts(ctx)), label=label)

    send.__doc__ = label


def _image_first(fmt: str, detail: str | None = None) -> Any:
    return lambda ctx: [image_part(data_url(fixture_image(fmt)), detail), text_part("Describe this image.")]


_vision(
    "vision_text_first",
    "text before image",
    lambda ctx: [text_part("Describe this image."), image_part(png_url())],
)
_vision(
    "vision_text_baseline",
    "the vision prompt without its image",
    lambda ctx: [text_part("Describe this image.")],
)
_vision(
    "vision_mime_mismatch",
    "JPEG bytes declared as image/png",
    lambda ctx: [image_part(data_url(fixture_image("jpeg"), "image/png")), text_part("Describe.")],
)
_vision(
    "vision_file_url",
    "file:// image URL",
    lambda ctx: [image_part("file:///chatcert-probe/no-such-image.png"), text_part("Describe this image.")],
)
_vision(
    "vision_external_url",
    "external https image URL",
    lambda ctx: [image_part("https://example.com/chatcert-probe.png"), text_part("Describe this image.")],
)
_vision(
    "vision_oversize_dimensions",
    "an image over the profile's pixel limit",
    lambda ctx: [
        image_part(data_url(make_png(int(ctx.profile.limit("max_image_width") or 4000) + 1, 1))),
        text_part("Describe this image."),
    ],
)


@probe("vision_url_fetch", tokens=DEFAULT_MAX_TOKENS, requires=("vision",))
def vision_url_fetch(ctx: ProbeContext) -> None:
    """An http image URL that points at a listener chatcert runs on loopback, to see who fetches it."""
    if not is_loopback_target(ctx.client.target.base_url):
        # A remote server would fetch its own loopback, which chatcert neither sees nor should probe.
        ctx.result.skipped = (
            "not exercised: the target is not on this host, so a loopback listener cannot see its fetches"
        )
        return
    with FetchTrap() as trap:
        ctx.chat(
            ctx.chat_body([image_part(trap.url), text_part("Describe this image.")]),
            label="http image URL to chatcert's loopback listener",
        )
        ctx.result.data["fetches"] = trap.wait()
    ctx.result.data["trap_url"] = trap.url


def _at_pixel_limit(ctx: ProbeContext) -> Any:
    # One colour: 4000x4000 deflates to about 53 KB (71 KB of base64), so this is no costly probe.
    width = int(ctx.profile.limit("max_image_width") or ctx.profile.limit("max_image_height") or 1)
    height = int(ctx.profile.limit("max_image_height") or width)
    return [image_part(data_url(make_png(width, height))), text_part("Describe this image.")]


_vision("vision_max_dimensions", "an image exactly at the profile's pixel limit", _at_pixel_limit)


@probe("vision_multi_turn", tokens=DEFAULT_MAX_TOKENS, requires=("vision",))
def vision_multi_turn(ctx: ProbeContext) -> None:
    """A follow-up question after an image turn."""
    body = ctx.chat_body("What colour was it?")
    body["messages"][:0] = [
        {"role": "user", "content": [image_part(png_url()), text_part("Describe this image.")]},
        {"role": "assistant", "content": "A small square."},
    ]
    ctx.chat(body, label="multi-turn after an image")


@probe("vision_oversize_request", tokens=DEFAULT_MAX_TOKENS, requires=("vision",), costly=True)
def vision_oversize_request(ctx: ProbeContext) -> None:
    """A request one MiB over the profile's byte limit."""
    limit = int(ctx.profile.limit("max_request_bytes") or 128 * 1024 * 1024)
    filler = "x" * (limit + 1024 * 1024)
    body = ctx.chat_body([image_part(png_url()), text_part(filler)])
    ctx.chat(body, label=f"request over {limit} bytes")


# -- faults only a mock can provoke -------------------------------------------------------------------


def _fault(
    name: str, label: str, scenario: str, *, stream: bool = False, requires: tuple[str, ...] = ()
) -> None:
    @probe(name, tokens=DEFAULT_MAX_TOKENS, mock_only=True, requires=requires)
    def send(ctx: ProbeContext) -> None:
        ctx.chat(ctx.chat_body(PROMPT, stream=stream), label=label, headers={SCENARIO_HEADER: scenario})

    send.__doc__ = label


_fault("fault_429", "mock 429", "status=429")
_fault("fault_402", "mock 402 (x402)", "status=402")
_fault("fault_503", "mock 503", "status=503")
_fault("fault_500", "mock 500", "status=500")
_fault("fault_413", "mock 413", "status=413")
_fault(
    "fault_midstream_error",
    "mock mid-stream error",
    "fault=midstream_error",
    stream=True,
    requires=("streaming",),
)


# -- other routes ------------------------------------------------------------------------------------


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


def route_model(ctx: ProbeContext, route: str) -> str:
    """The model a route serves: the profile's `route_models` entry (Pharia's luminous-base on
    /v1/complete), else the model under test."""
    own = (ctx.profile.raw.get("route_models") or {}).get(route)
    return str(own[0]) if own else ctx.model


@probe("complete_basic", tokens=DEFAULT_MAX_TOKENS, requires=("complete",), routes=("complete",))
def complete_basic(ctx: ProbeContext) -> None:
    """Pharia /v1/complete request with a luminous model (contract inferred)."""
    body = {
        "model": route_model(ctx, "complete"),
        "prompt": "Once upon a time",
        "maximum_tokens": DEFAULT_MAX_TOKENS,
        "max_tokens": DEFAULT_MAX_TOKENS,
    }
    ctx.chat(body, label="complete", route="complete")


@probe("transcribe_basic", requires=("transcribe",), routes=("transcribe",))
def transcribe_basic(ctx: ProbeContext) -> None:
    """Pharia /transcribe with a short WAV file (contract inferred)."""
    boundary = "chatcert" + uuid.uuid4().hex
    wav = _silent_wav()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="probe.wav"\r\n'
            f"Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + wav
        + f"\r\n--{boundary}--\r\n".encode()
    )
    ctx.send(
        RequestSpec(
            "POST",
            ctx.route("transcribe"),
            raw_body=body,
            label="transcribe",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    )


def _silent_wav(samples: int = 1600) -> bytes:
    import struct

    data = b"\x00\x00" * samples
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(data))
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
        + b"data"
        + struct.pack("<I", len(data))
        + data
    )
