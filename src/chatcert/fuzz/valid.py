"""Hypothesis strategies for chat requests a conforming server must accept.

Conversations are well formed (an optional system or developer turn, alternating user and assistant
turns, the last user turn, then optionally an assistant tool call answered by tool messages), so a
rejection points at the server rather than at an odd transcript. Every request carries a small
`max_tokens`.

Every optional part a request may carry is a `Feature` registered in `FEATURES`, and the generator
turns each on through a `_Switches` that only knows registered names; `explicit_requests(rules)` asks
the same generator for one simplest request per applicable feature (that feature forced on), which a
fuzz run sends before its search.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass
from functools import cache
from typing import Any

from hypothesis import strategies as st

from chatcert.fuzz import images
from chatcert.fuzz.corpus import fixture_bytes
from chatcert.fuzz.explicit import first_examples
from chatcert.fuzz.rules import PayloadRules
from chatcert.images import data_url, fixture_images

__all__ = [
    "FEATURES",
    "TEXT_ALPHABET",
    "Feature",
    "data_url",
    "explicit_requests",
    "features",
    "image_bytes",
    "minimal_request",
    "requests",
    "text",
]

# Printable ASCII plus a few multi-byte characters; no control characters or lone surrogates, which
# test a server's JSON decoder rather than its chat contract (N7 has its own probe).
TEXT_ALPHABET = string.ascii_letters + string.digits + string.punctuation + " " + "éüßÆ中文日本🙂"
TOOL_NAMES = ("get_weather", "get_time", "lookup_word", "add_numbers")
MAX_TOKENS = 8


def text(min_size: int = 1, max_size: int = 40) -> st.SearchStrategy[str]:
    return st.text(alphabet=TEXT_ALPHABET, min_size=min_size, max_size=max_size)


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


def _encoded(rules: PayloadRules) -> dict[str, st.SearchStrategy[bytes]]:
    """Generated images by format, within the profile's limits."""
    widths = st.integers(*rules.side_range("width"))
    heights = st.integers(*rules.side_range("height"))
    return {
        "png": st.builds(
            lambda w, h, ct, cs, p, s: images.png(w, h, colour_type=ct, colours=cs, pattern=p, seed=s),
            widths,
            heights,
            st.sampled_from([2, 6, 0, 3, 4]),
            _colours,
            _patterns,
            _seeds,
        ),
        "jpeg": st.builds(lambda w, h: images.jpeg(w, h), widths, heights)
        | st.builds(lambda w, h, g: images.jpeg(w, h, grey=g), widths, heights, st.integers(0, 255)),
        "gif": st.builds(
            lambda w, h, cs, p, s: images.gif(w, h, colours=cs, pattern=p, seed=s),
            widths,
            heights,
            _colours,
            _patterns,
            _seeds,
        ),
        "webp": st.builds(lambda w, h, c: images.webp(w, h, colour=c), widths, heights, _colour),
    }


IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")


def image_bytes(rules: PayloadRules) -> st.SearchStrategy[bytes]:
    """Real PNG, GIF, JPEG and WebP bytes of varied sizes within the profile's limits."""
    generated = st.one_of(list(_encoded(rules).values()))
    fixtures = _sample_fixtures(rules)
    if not fixtures:
        return generated
    return generated | st.sampled_from(fixtures).map(fixture_bytes)


# -- features ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feature:
    """One optional part of a valid request; `needs` names the PayloadRules claim it requires and
    `within` the feature it is part of (forcing this one forces that one)."""

    name: str
    needs: str | None = None
    within: str | None = None


_SAMPLING = (
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "n",
    "stop",
    "seed",
    "max_completion_tokens",
    "user",
)

FEATURES: tuple[Feature, ...] = (
    Feature("system-message"),
    Feature("developer-message"),
    Feature("multi-turn"),
    Feature("content-parts"),
    *(Feature(f"image:{f}", "vision", "content-parts") for f in IMAGE_FORMATS),
    Feature("image-detail", "vision", "image:png"),
    Feature("tools", "tools"),
    Feature("tool-round", "tools", "tools"),
    *(Feature(f"tool_choice:{c}", "tools", "tools") for c in ("none", "auto", "required", "named")),
    Feature("parallel_tool_calls", "tools", "tools"),
    *(Feature(name) for name in _SAMPLING),
    Feature("stream:true", "streaming"),
    Feature("stream:false", "streaming"),
    Feature("stream_options", "stream_usage", "stream:true"),
    Feature("logprobs", "logprobs"),
    Feature("top_logprobs", "logprobs", "logprobs"),
    *(Feature(f"response_format:{k}", "response_format") for k in ("text", "json_object", "json_schema")),
    Feature("cache_prompt", "cache_prompt"),
)
_BY_NAME = {f.name: f for f in FEATURES}


def features(rules: PayloadRules) -> list[Feature]:
    """The features a valid request for `rules` may carry, in registry order."""

    def applies(feature: Feature | None) -> bool:
        if feature is None:
            return True
        return (feature.needs is None or bool(getattr(rules, feature.needs))) and applies(
            _BY_NAME.get(feature.within or "")
        )

    return [f for f in FEATURES if applies(f)]


class _Switches:
    """The generator's feature switches: each drawn, or on when the explicit example wants it."""

    def __init__(self, draw: st.DrawFn, want: str | None) -> None:
        self.draw = draw
        self.forced: set[str] = set()
        while want is not None:
            self.forced.add(want)
            want = _BY_NAME[want].within

    def on(self, name: str) -> bool:
        _known(name)
        return name in self.forced or self.draw(st.booleans())

    def any_on(self, *names: str) -> bool:
        """Whether one of several alternatives is present (forced when one of them is wanted)."""
        return any(_known(n) in self.forced for n in names) or self.draw(st.booleans())

    def wanted(self, *names: str) -> str | None:
        return next((n for n in names if _known(n) in self.forced), None)


def _known(name: str) -> str:
    if name not in _BY_NAME:
        raise KeyError(f"valid-payload feature {name!r} is not registered in FEATURES")
    return name


def _image_part(draw: st.DrawFn, rules: PayloadRules, switches: _Switches) -> dict[str, Any]:
    wanted = switches.wanted(*(f"image:{f}" for f in IMAGE_FORMATS))
    pixels = _encoded(rules)[wanted.removeprefix("image:")] if wanted else image_bytes(rules)
    inner: dict[str, Any] = {"url": data_url(draw(pixels))}
    if switches.on("image-detail"):
        inner["detail"] = draw(st.sampled_from(["auto", "low", "high"]))
    return {"type": "image_url", "image_url": inner}


def _text_part() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(lambda t: {"type": "text", "text": t}, text())


def _text_content() -> st.SearchStrategy[Any]:
    """System, developer and tool content: a string or a non-empty array of text parts."""
    return text() | st.lists(_text_part(), min_size=1, max_size=2)


def _user_content(draw: st.DrawFn, rules: PayloadRules, images_left: list[int], switches: _Switches) -> Any:
    if not switches.on("content-parts"):
        return draw(text())
    texts = draw(st.lists(_text_part(), min_size=1, max_size=2))
    least = 1 if switches.wanted(*(f"image:{f}" for f in IMAGE_FORMATS)) and images_left[0] else 0
    count = draw(st.integers(least, min(2, images_left[0]))) if rules.vision else 0
    images_left[0] -= count
    pictures = [_image_part(draw, rules, switches) for _ in range(count)]
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


_CHOICES = ("none", "auto", "required", "named")
_FORMATS = ("text", "json_object", "json_schema")


@st.composite
def _request(
    draw: st.DrawFn, rules: PayloadRules, max_tokens: int, want: str | None = None
) -> dict[str, Any]:
    """A valid request; `want` names a feature it must carry (the explicit examples), else all are drawn."""
    switches = _Switches(draw, want)
    images_left = [3]
    messages: list[dict[str, Any]] = []
    if switches.any_on("system-message", "developer-message"):
        chosen = switches.wanted("system-message", "developer-message")
        role = chosen.removesuffix("-message") if chosen else draw(st.sampled_from(["system", "developer"]))
        messages.append({"role": role, "content": draw(_text_content())})
    history = st.integers(1, 2) if switches.wanted("multi-turn") else st.integers(0, 2)
    for _ in range(draw(history)):
        messages.append({"role": "user", "content": _user_content(draw, rules, images_left, switches)})
        messages.append({"role": "assistant", "content": draw(_assistant_content())})
    messages.append({"role": "user", "content": _user_content(draw, rules, images_left, switches)})
    body: dict[str, Any] = {
        "model": rules.model,
        "messages": messages,
        "max_tokens": draw(st.integers(1, max_tokens)),
    }
    if rules.tools and switches.on("tools"):
        tools = draw(_tools())
        if switches.on("tool-round"):
            messages.extend(draw(_tool_round(tools)))
        body["tools"] = tools
        if switches.any_on(*(f"tool_choice:{c}" for c in _CHOICES)):
            chosen = switches.wanted(*(f"tool_choice:{c}" for c in _CHOICES))
            choice = chosen.removeprefix("tool_choice:") if chosen else draw(st.sampled_from(_CHOICES))
            body["tool_choice"] = (
                draw(st.sampled_from(tools).map(_named_choice)) if choice == "named" else choice
            )
        if switches.on("parallel_tool_calls"):
            body["parallel_tool_calls"] = draw(st.booleans())
    _sampling(draw, body, max_tokens, switches)
    if rules.streaming and switches.any_on("stream:true", "stream:false"):
        chosen = switches.wanted("stream:true", "stream:false")
        body["stream"] = chosen == "stream:true" if chosen else draw(st.booleans())
        if body["stream"] and rules.stream_usage and switches.on("stream_options"):
            body["stream_options"] = {"include_usage": draw(st.booleans())}
    if rules.logprobs and switches.on("logprobs"):
        body["logprobs"] = True
        if switches.on("top_logprobs"):
            body["top_logprobs"] = draw(st.sampled_from([0, 20]) | st.integers(0, 20))
    if rules.response_format and switches.any_on(*(f"response_format:{k}" for k in _FORMATS)):
        chosen = switches.wanted(*(f"response_format:{k}" for k in _FORMATS))
        kind = chosen.removeprefix("response_format:") if chosen else draw(st.sampled_from(_FORMATS))
        body["response_format"] = _response_format(kind)
        if kind == "json_object":
            _mention_json(messages)
    if rules.cache_prompt and switches.on("cache_prompt"):
        body["cache_prompt"] = draw(st.booleans())
    return body


def _named_choice(tool: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": _tool_name(tool)}}


def _mention_json(messages: list[dict[str, Any]]) -> None:
    """OpenAI refuses `json_object` unless a message mentions JSON: say it in the last user turn."""
    last = next(m for m in reversed(messages) if m["role"] == "user")
    if isinstance(last["content"], str):
        last["content"] += " Reply in JSON."
    else:
        last["content"].append({"type": "text", "text": "Reply in JSON."})


def _sampling(draw: st.DrawFn, body: dict[str, Any], max_tokens: int, switches: _Switches) -> None:
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
        if switches.on(key):
            body[key] = draw(strategy)
    if "max_completion_tokens" in body:
        body["max_completion_tokens"] = min(body["max_completion_tokens"], body["max_tokens"])


def _response_format(kind: str) -> dict[str, Any]:
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


@cache
def explicit_requests(
    rules: PayloadRules, max_tokens: int = MAX_TOKENS
) -> tuple[tuple[str, dict[str, Any]], ...]:
    """(feature, request) for every feature of `features(rules)`: the simplest request the generator
    builds with that feature on, what a fuzz run sends before its search. Callers copy before editing."""
    wanted = {f.name: _request(rules, max(1, max_tokens), f.name) for f in features(rules)}
    drawn = first_examples(wanted)
    return tuple((name, drawn[name]) for name in wanted)


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
