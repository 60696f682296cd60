"""Hypothesis strategies for chat requests a conforming server must accept.

Conversations are well formed (an optional system or developer turn, alternating user and assistant
turns, the last user turn, then optionally an assistant tool call answered by tool messages), so a
rejection points at the server rather than at an odd transcript. Every request carries a small
`max_tokens`.
"""

from __future__ import annotations

import base64
import json
import string
from typing import Any

from hypothesis import strategies as st

from chatcert.fuzz import images
from chatcert.fuzz.corpus import fixture_bytes
from chatcert.fuzz.rules import PayloadRules
from chatcert.images import fixture_images, sniff

__all__ = ["TEXT_ALPHABET", "data_url", "image_bytes", "minimal_request", "requests", "text"]

# Printable ASCII plus a few multi-byte characters; no control characters or lone surrogates, which
# test a server's JSON decoder rather than its chat contract (N7 has its own probe).
TEXT_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " " + "éüßÆ中文日本🙂"
TOOL_NAMES = ("get_weather", "get_time", "lookup_word", "add_numbers")
MAX_TOKENS = 8


def text(min_size: int = 1, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(alphabet=TEXT_ALPHABET, min_size=min_size, max_size=max_size)


def data_url(data: bytes, mime: str | None = None) -> str:
    info = sniff(data)
    kind = mime or (info.mime if info else "application/octet-stream")
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


_colour = st.tuples(
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 255), st.sampled_from([255, 0, 128])
)
_colours = st.lists(_colour, min_size=1, max_size=4)
_patterns = st.sampled_from(["solid", "stripes", "noise"])
_seeds = st.integers(0, 2**16)


def _sample_fixtures(rules: PayloadRules) -> list[str]:
    """Fixture images usable as samples: within the profile's limits; no limit-probe images."""
    out = []
    for entry in fixture_images():
        width, height = int(str(entry["width"])), int(str(entry["height"]))
        if max(width, height) <= 1024 and rules.fits(width, height):
            out.append(str(entry["file"]))
    return out


def image_bytes(rules: PayloadRules) -> st.SearchStrategy[bytes]:
    """Real PNG, GIF, JPEG and WebP bytes of varied sizes within the profile's limits."""
    widths = st.integers(*rules.side_range("width"))
    heights = st.integers(*rules.side_range("height"))
    generated = st.one_of(
        st.builds(
            lambda w, h, ct, cs, p, s: images.png(w, h, colour_type=ct, colours=cs, pattern=p, seed=s),
            widths,
            heights,
            st.sampled_from([2, 6, 0, 3, 4]),
            _colours,
            _patterns,
            _seeds,
        ),
        st.builds(lambda w, h: images.jpeg(w, h), widths, heights)
        | st.builds(lambda w, h, g: images.jpeg(w, h, grey=g), widths, heights, st.integers(0, 255)),
        st.builds(
            lambda w, h, cs, p, s: images.gif(w, h, colours=cs, pattern=p, seed=s),
            widths,
            heights,
            _colours,
            _patterns,
            _seeds,
        ),
        st.builds(lambda w, h, c: images.webp(w, h, colour=c), widths, heights, _colour),
    )
    fixtures = _sample_fixtures(rules)
    if not fixtures:
        return generated
    return generated | st.sampled_from(fixtures).map(fixture_bytes)


def _image_part(rules: PayloadRules) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        inner: dict[str, Any] = {"url": data_url(draw(image_bytes(rules)))}
        if draw(st.booleans()):
            inner["detail"] = draw(st.sampled_from(["auto", "low", "high"]))
        return {"type": "image_url", "image_url": inner}

    return build()


def _text_part() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda t: {"type": "text", "text": t}, text())


def _text_content() -> st.SearchStrategy[Any]:
    """System, developer and tool content: a string or a non-empty array of text parts."""
    return text() | st.lists(_text_part(), min_size=1, max_size=2)


@st.composite
def _user_content(draw: st.DrawFn, rules: PayloadRules, images_left: list[int]) -> Any:
    if not draw(st.booleans()):
        return draw(text())
    texts = draw(st.lists(_text_part(), min_size=1, max_size=2))
    count = draw(st.integers(0, min(2, images_left[0]))) if rules.vision else 0
    images_left[0] -= count
    pictures = [draw(_image_part(rules)) for _ in range(count)]
    if not pictures:
        return texts
    if rules.image_first:
        return pictures + texts
    return draw(st.permutations(pictures + texts))


def _assistant_content() -> st.SearchStrategy[Any]:
    return text() | st.lists(_text_part(), min_size=1, max_size=2)


_SCALARS = {"string": text(max_size=12), "integer": st.integers(-1000, 1000), "boolean": st.booleans()}


@st.composite
def _tools(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(st.sampled_from(TOOL_NAMES), min_size=1, max_size=3, unique=True))
    tools = []
    for name in names:
        props = draw(st.lists(st.sampled_from(["city", "zone", "word", "a", "b"]), max_size=2, unique=True))
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {p: {"type": draw(st.sampled_from(sorted(_SCALARS)))} for p in props},
        }
        required = draw(st.booleans())
        if props and required:
            schema["required"] = props[:1]
        function: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            function["description"] = draw(text(max_size=30))
        function["parameters"] = schema
        tools.append({"type": "function", "function": function})
    return tools


@st.composite
def _tool_round(draw: st.DrawFn, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An assistant turn calling some of the tools, then one tool message per call."""
    chosen = draw(st.lists(st.sampled_from(tools), min_size=1, max_size=2, unique_by=_tool_name))
    calls = []
    for k, tool in enumerate(chosen):
        props = tool["function"]["parameters"]["properties"]
        arguments = {p: draw(_SCALARS[spec["type"]]) for p, spec in props.items()}
        calls.append(
            {
                "id": f"call_{k}_{draw(st.integers(0, 9999))}",
                "type": "function",
                "function": {"name": _tool_name(tool), "arguments": json.dumps(arguments)},
            }
        )
    turns: list[dict[str, Any]] = [{"role": "assistant", "content": None, "tool_calls": calls}]
    for call in calls:
        turns.append({"role": "tool", "tool_call_id": call["id"], "content": draw(_text_content())})
    return turns


def _tool_name(tool: dict[str, Any]) -> str:
    return str(tool["function"]["name"])


def _bounded(low: float, high: float) -> st.SearchStrategy[float]:
    """A number in [low, high], its bounds drawn often."""
    return st.sampled_from([low, high]) | st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def _request(draw: st.DrawFn, rules: PayloadRules, max_tokens: int) -> dict[str, Any]:
    images_left = [3]
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(_text_content())}
        )
    for _ in range(draw(st.integers(0, 2))):
        messages.append({"role": "user", "content": draw(_user_content(rules, images_left))})
        messages.append({"role": "assistant", "content": draw(_assistant_content())})
    messages.append({"role": "user", "content": draw(_user_content(rules, images_left))})
    body: dict[str, Any] = {
        "model": rules.model,
        "messages": messages,
        "max_tokens": draw(st.integers(1, max_tokens)),
    }
    if rules.tools and draw(st.booleans()):
        tools = draw(_tools())
        if draw(st.booleans()):
            messages.extend(draw(_tool_round(tools)))
        body["tools"] = tools
        if draw(st.booleans()):
            named = st.sampled_from(tools).map(
                lambda t: {"type": "function", "function": {"name": _tool_name(t)}}
            )
            body["tool_choice"] = draw(st.sampled_from(["none", "auto", "required"]) | named)
        if draw(st.booleans()):
            body["parallel_tool_calls"] = draw(st.booleans())
    _sampling(draw, body, max_tokens)
    if rules.streaming and draw(st.booleans()):
        body["stream"] = draw(st.booleans())
        if body["stream"] and rules.stream_usage and draw(st.booleans()):
            body["stream_options"] = {"include_usage": draw(st.booleans())}
    if rules.logprobs and draw(st.booleans()):
        body["logprobs"] = True
        if draw(st.booleans()):
            body["top_logprobs"] = draw(st.sampled_from([0, 20]) | st.integers(0, 20))
    if rules.response_format and draw(st.booleans()):
        body["response_format"] = draw(_response_format())
        if body["response_format"]["type"] == "json_object":
            _mention_json(messages)
    if rules.cache_prompt and draw(st.booleans()):
        body["cache_prompt"] = draw(st.booleans())
    return body


def _mention_json(messages: list[dict[str, Any]]) -> None:
    """OpenAI refuses `json_object` unless a message mentions JSON: say it in the last user turn."""
    last = next(m for m in reversed(messages) if m["role"] == "user")
    if isinstance(last["content"], str):
        last["content"] += " Reply in JSON."
    else:
        last["content"].append({"type": "text", "text": "Reply in JSON."})


def _sampling(draw: st.DrawFn, body: dict[str, Any], max_tokens: int) -> None:
    optional: dict[str, st.SearchStrategy[Any]] = {
        "temperature": _bounded(0.0, 2.0),
        "top_p": _bounded(0.0, 1.0),
        "presence_penalty": _bounded(-2.0, 2.0),
        "frequency_penalty": _bounded(-2.0, 2.0),
        # n multiplies the tokens spent; its upper bound (128) is left to the request probes.
        "n": st.integers(1, 2),
        "stop": text(max_size=8) | st.lists(text(max_size=8), min_size=1, max_size=4),
        "seed": st.integers(0, 2**31 - 1),
        "max_completion_tokens": st.integers(1, max_tokens),
        "user": text(max_size=16),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            body[key] = draw(strategy)
    if "max_completion_tokens" in body:
        body["max_completion_tokens"] = min(body["max_completion_tokens"], body["max_tokens"])


@st.composite
def _response_format(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["text", "json_object", "json_schema"]))
    if kind != "json_schema":
        return {"type": kind}
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}


def requests(rules: PayloadRules, max_tokens: int = MAX_TOKENS) -> st.SearchStrategy[dict[str, Any]]:
    """Valid chat request bodies within `rules`."""
    return _request(rules, max(1, max_tokens))


def minimal_request(rules: PayloadRules, max_tokens: int = MAX_TOKENS) -> dict[str, Any]:
    """The plainest valid request: the follow-up that shows a server still answers."""
    body: dict[str, Any] = {
        "model": rules.model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": max_tokens,
    }
    if rules.cache_prompt:
        body["cache_prompt"] = False
    return body
