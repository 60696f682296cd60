"""Probes several areas read, and the helpers every area's probes are built with.

A probe is a request a certification sends, at most once per run; checks judge its exchanges. A probe
read by the checks of one area sits beside them in that area's module; the ones here are read by
checks of several areas. This module imports no area module: they import it.
"""

from __future__ import annotations

import sys
from typing import Any

from chatcert.context import DEFAULT_MAX_TOKENS, ProbeContext
from chatcert.images import data_url, fixture_image
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
# Room for a real model to finish a call: 64 cut a 270M model's call mid-arguments on vLLM (issue 18),
# which then reads as a server defect. An upper bound only: a call that ends early costs what it used.
TOOL_MAX_TOKENS = 256


def image_part(url: str, detail: str | None = None) -> dict[str, Any]:
    inner: dict[str, Any] = {"url": url}
    if detail:
        inner["detail"] = detail
    return {"type": "image_url", "image_url": inner}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def png_url() -> str:
    return data_url(fixture_image("png"))


def route_model(ctx: ProbeContext, route: str) -> str:
    """The model a route serves: the profile's `route_models` entry (Pharia's luminous-base on
    /v1/complete), else the model under test."""
    own = (ctx.profile.raw.get("route_models") or {}).get(route)
    return str(own[0]) if own else ctx.model


# -- registration helpers: one-request probes whose body is all that differs ---------------------------


def _owned_by_caller(send: Any) -> None:
    """Mark a probe a helper built as the probe of the module that called the helper (as namedtuple
    does for its classes): `__module__` then names the area module whose checks read it, not this one."""
    send.__module__ = sys._getframe(2).f_globals.get("__name__", send.__module__)


def simple_probe(
    name: str, label: str, tokens: int = DEFAULT_MAX_TOKENS, requires: tuple[str, ...] = (), **build: Any
) -> None:
    """Register a one-request chat probe whose body is chat_body(**build)."""

    @probe(name, tokens=tokens, requires=requires)
    def send(ctx: ProbeContext) -> None:
        body = ctx.chat_body(**{k: (v(ctx) if callable(v) else v) for k, v in build.items()})
        ctx.chat(body, label=label)

    send.__doc__ = label
    _owned_by_caller(send)


def reject_probe(name: str, label: str, mutate: Any, requires: tuple[str, ...] = ()) -> None:
    """Register a one-request probe sending chat_body() changed by `mutate(body, ctx)`."""

    @probe(name, tokens=DEFAULT_MAX_TOKENS, requires=requires)
    def send(ctx: ProbeContext) -> None:
        body = ctx.chat_body(PROMPT)
        mutate(body, ctx)
        ctx.chat(body, label=label)

    send.__doc__ = label
    _owned_by_caller(send)


def set_fields(**values: Any) -> Any:
    """A `mutate` for reject_probe: set these top-level fields of the body."""

    def apply(body: dict[str, Any], ctx: ProbeContext) -> None:
        body.update(values)

    return apply


def vision_probe(
    name: str, label: str, parts: Any, *, requires: tuple[str, ...] = ("vision",), costly: bool = False
) -> None:
    """Register a one-request chat probe whose user content is `parts(ctx)`."""

    @probe(name, tokens=DEFAULT_MAX_TOKENS, requires=requires, costly=costly)
    def send(ctx: ProbeContext) -> None:
        ctx.chat(ctx.chat_body(parts(ctx)), label=label)

    send.__doc__ = label
    _owned_by_caller(send)


def fault_probe(
    name: str, label: str, scenario: str, *, stream: bool = False, requires: tuple[str, ...] = ()
) -> None:
    """Register a mock-only probe: a plain chat request whose scenario header makes the mock misbehave."""

    @probe(name, tokens=DEFAULT_MAX_TOKENS, mock_only=True, requires=requires)
    def send(ctx: ProbeContext) -> None:
        ctx.chat(ctx.chat_body(PROMPT, stream=stream), label=label, headers={SCENARIO_HEADER: scenario})

    send.__doc__ = label
    _owned_by_caller(send)


# -- probes several areas read -------------------------------------------------------------------------


simple_probe("chat_basic", "non-stream chat", content=PROMPT, temperature=0, seed=7)
simple_probe(
    "chat_stream",
    "streamed chat",
    requires=("streaming",),
    content=PROMPT,
    stream=True,
    temperature=0,
    seed=7,
)
simple_probe("chat_length_cap", "max_tokens=1 on a long answer", tokens=1, content=LONG_PROMPT, max_tokens=1)

# The plain rejections (missing model, empty messages, ...) are data: fixtures/cases/request/*.json.
reject_probe("unknown_model", "unknown model", set_fields(model="chatcert-no-such-model-4242"))


@probe("malformed_json", free=True)
def malformed_json(ctx: ProbeContext) -> None:
    """A body that is not JSON."""
    ctx.chat(None, label="malformed JSON body", raw_body=b'{"model": "x", "messages": [', stream=False)


@probe("non_object_body", free=True)
def non_object_body(ctx: ProbeContext) -> None:
    """A JSON body that is an array."""
    ctx.chat(None, label="JSON array body", raw_body=b"[1, 2, 3]", stream=False)
