"""Hypothesis strategies for chat requests a conforming server must reject, each labelled with its rule.

A case starts from a small valid body and breaks exactly one thing, so a shrunk counterexample shows
the one broken thing. `level` says how hard the rule is: MUST cases (structure, types, broken images,
non-JSON bodies, limits the profile promises) must be refused; SHOULD cases (out-of-range sampling
values, unknown roles, a MIME that disagrees with the bytes, a wrong Content-Type, ...) are refused by
the official API but tolerated by many servers. Every case must be answered without a 5xx.

Each class of invalid payload (`Kind`, named by the `kind` its cases carry) is registered in `KINDS`
with the profiles it applies to. `cases(rules)` searches them all; `explicit_cases(rules)` gives one
simplest case per class (and every corpus case), which a fuzz run sends first so that no class depends
on what the search happens to draw.

A 1x1 image is *valid* (the spec sets no minimum and the API accepts it); it is generated as
invalid only for a profile that declares `limits.min_image_width`/`min_image_height`. A zero-byte
image is always invalid.
"""

from __future__ import annotations

import base64
import json
import string
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from typing import Any, Literal

from hypothesis import strategies as st

from chatcert.fuzz import images
from chatcert.fuzz.corpus import CorpusCase, load_corpus
from chatcert.fuzz.explicit import first_examples
from chatcert.fuzz.rules import PayloadRules
from chatcert.fuzz.valid import MAX_TOKENS, data_url, image_bytes, text

__all__ = [
    "KINDS",
    "ROLES",
    "InvalidCase",
    "Kind",
    "cases",
    "dumps",
    "explicit_cases",
    "kinds",
    "most_explicit",
]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
Level = Literal["MUST", "SHOULD"]
# Corpus rules whose violation must be refused; the rest are SHOULD (catalogue levels).
_MUST_RULES = frozenset({"REQ1", "REQ2", "REQ3", "N3", "V4", "V5", "V7", "TC6"})
# V11 (an image in a system message) may be accepted with a warning: not an invalid case here.
_CORPUS_SKIP = frozenset({"V11"})
# Letters that cannot spell a number, a boolean or nan/inf, so lax validators cannot coerce them.
_NOT_A_NUMBER = "bcdghjklmopqrsuvwxyz"


def dumps(value: Any) -> bytes:
    """JSON as chatcert's client sends it (compact, ASCII)."""
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class InvalidCase:
    """One payload a server must refuse: the catalogue rule it breaks and the exact bytes to send."""

    kind: str
    rule: str
    description: str
    body: bytes
    content_type: str = "application/json"
    level: Level = "MUST"

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.body)

    def __repr__(self) -> str:
        shown = self.body[:160].decode("utf-8", "replace") + ("..." if len(self.body) > 160 else "")
        return f"InvalidCase({self.kind!r}, rule={self.rule!r}, {self.content_type}, body={shown!r})"


def _case(
    kind: str,
    rule: str,
    description: str,
    body: Any,
    level: Level = "MUST",
    content_type: str = "application/json",
) -> InvalidCase:
    raw = body if isinstance(body, bytes) else dumps(body)
    return InvalidCase(kind, rule, description, raw, content_type, level)


@st.composite
def _base(draw: st.DrawFn, rules: PayloadRules) -> dict[str, Any]:
    """A small valid body, sometimes with a system turn, a temperature or a stream flag."""
    messages: list[dict[str, Any]] = []
    if draw(st.booleans()):
        messages.append({"role": "system", "content": draw(text(max_size=20))})
    messages.append({"role": "user", "content": draw(text(max_size=20))})
    body: dict[str, Any] = {
        "model": rules.model,
        "messages": messages,
        "max_tokens": draw(st.integers(1, MAX_TOKENS)),
    }
    if draw(st.booleans()):
        body["temperature"] = draw(st.sampled_from([0.0, 1.0, 2.0]))
    if rules.streaming and draw(st.booleans()):
        body["stream"] = True
    return body


Builder = Callable[[st.DrawFn, PayloadRules], InvalidCase]


# -- structure --------------------------------------------------------------------------------------


def _missing(draw: st.DrawFn, rules: PayloadRules, field: str) -> InvalidCase:
    body = draw(_base(rules))
    del body[field]
    return _case(f"missing-{field}", "REQ1", f"a request without {field}", body)


def _empty_array(draw: st.DrawFn, rules: PayloadRules, where: str) -> InvalidCase:
    body = draw(_base(rules))
    if where == "messages":
        body["messages"] = []
        return _case("empty-messages", "REQ2", "messages is an empty array", body)
    if where == "content":
        body["messages"][-1]["content"] = []
        return _case("empty-content", "REQ4", "user content is an empty array of parts", body, "SHOULD")
    body["stop"] = []
    return _case("empty-stop", "REQ6", "stop is an empty array", body, "SHOULD")


def _not_a_number() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.text(alphabet=_NOT_A_NUMBER, min_size=1, max_size=8),
        st.lists(st.integers(0, 9), max_size=2),
        st.dictionaries(st.sampled_from(["x", "value"]), st.integers(0, 9), max_size=1),
    )


_WRONG_TYPE_FIELDS = ("model", "messages", "message", "role", "content", "temperature", "top_p", "n", "stop")


def _wrong_type(draw: st.DrawFn, rules: PayloadRules, field: str) -> InvalidCase:
    body = draw(_base(rules))
    last = body["messages"][-1]
    rule = {"model": "REQ1", "messages": "REQ3", "message": "REQ3", "role": "REQ3", "content": "REQ3"}.get(
        field, "N1"
    )
    value: Any
    if field == "model":
        value = draw(
            st.one_of(st.integers(), st.booleans(), st.none(), st.lists(text(max_size=5), max_size=2))
        )
        body["model"] = value
    elif field == "messages":
        value = draw(
            st.one_of(text(max_size=10), st.integers(), st.none(), st.just({"role": "user", "content": "hi"}))
        )
        body["messages"] = value
    elif field == "message":
        value = draw(
            st.one_of(st.integers(), text(max_size=10), st.none(), st.lists(st.integers(0, 9), max_size=2))
        )
        body["messages"][-1] = value
    elif field == "role":
        value = draw(st.one_of(st.integers(), st.none(), st.lists(st.just("user"), max_size=2), st.just({})))
        last["role"] = value
    elif field == "content":
        value = draw(
            st.one_of(
                st.integers(),
                st.floats(allow_nan=False, allow_infinity=False),
                st.booleans(),
                st.dictionaries(st.sampled_from(["text", "x"]), text(max_size=5), min_size=1, max_size=2),
            )
        )
        last["content"] = value
    elif field == "stream":
        value = draw(
            st.one_of(st.just("maybe"), st.integers(2, 99), st.lists(st.booleans(), max_size=2), st.just({}))
        )
        body["stream"] = value
    elif field == "n":
        value = draw(st.one_of(_not_a_number(), st.sampled_from([1.5, 0.5, 2.25])))
        body["n"] = value
    elif field == "stop":
        value = draw(
            st.one_of(st.integers(), st.just({"x": 1}), st.lists(st.integers(), min_size=1, max_size=3))
        )
        body["stop"] = value
    else:
        value = draw(_not_a_number())
        body[field] = value
    shown = json.dumps(value)[:40]
    return _case(f"wrong-type:{field}", rule, f"{field} has the wrong type ({shown})", body)


def _unknown_role(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    body = draw(_base(rules))
    role = draw(
        st.sampled_from(["wizard", "bot", "human", "model", "USER", "System", "Assistant", ""])
        | st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10).filter(lambda r: r not in ROLES)
    )
    body["messages"][-1]["role"] = role
    return _case("unknown-role", "REQ5", f"role {role!r} is not a chat role", body, "SHOULD")


def _non_object(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    value = draw(
        st.one_of(
            st.just([]),
            _base(rules).map(lambda b: [b]),
            text(max_size=10),
            st.integers(),
            st.none(),
            st.booleans(),
        )
    )
    return _case("json-not-object", "N3", f"the body is JSON {type(value).__name__}, not an object", value)


def _not_json(value: bytes) -> bool:
    try:
        json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return True
    return False


def _non_json(draw: st.DrawFn, rules: PayloadRules, kind: str) -> InvalidCase:
    if kind == "truncated":
        whole = dumps(draw(_base(rules)))
        raw = whole[: draw(st.integers(1, len(whole) - 1))]
        description = f"the body is JSON cut after {len(raw)} of {len(whole)} bytes"
    elif kind == "empty":
        raw, description = b"", "the body is empty"
    elif kind == "text":
        # x, y or z first: no JSON value starts so (no filter: the simplest draw is never thrown away).
        raw = draw(st.sampled_from("xyz").map(str.encode)) + draw(text(min_size=0, max_size=30)).encode()
        if not _not_json(raw):  # unreachable; kept as the guard that the class is what it says
            raise AssertionError(raw)
        description = "the body is plain text"
    else:
        raw = b"\xff\xfe" + draw(st.binary(max_size=16))
        description = "the body is not UTF-8"
    return _case(f"not-json:{kind}", "N3", description, raw)


# -- values -----------------------------------------------------------------------------------------


def _outside(low: float, high: float) -> st.SearchStrategy[float]:
    below = st.floats(min_value=-1e6, max_value=low, exclude_max=True)
    above = st.floats(min_value=high, max_value=1e6, exclude_min=True)
    return above | below


_RANGES: dict[str, tuple[float, float]] = {
    "frequency_penalty": (-2, 2),
    "n": (1, 128),
    "presence_penalty": (-2, 2),
    "temperature": (0, 2),
    "top_logprobs": (0, 20),
    "top_p": (0, 1),
}


def _out_of_range(draw: st.DrawFn, rules: PayloadRules, field: str) -> InvalidCase:
    body = draw(_base(rules))
    low, high = _RANGES[field]
    value: float
    if field in ("n", "top_logprobs"):
        # An over-large n that a lax server accepts multiplies the tokens spent: stay near the bound.
        value = draw(st.integers(int(high) + 1, int(high) + 50) | st.integers(int(low) - 50, int(low) - 1))
    else:
        value = draw(_outside(low, high))
    body[field] = value
    if field == "top_logprobs":
        body["logprobs"] = True
    return _case(
        f"out-of-range:{field}", "REQ6", f"{field} {value!r} is outside [{low:g}, {high:g}]", body, "SHOULD"
    )


def _stream_options(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    body = draw(_base(rules))
    if draw(st.booleans()):
        body["stream"] = False
    else:
        body.pop("stream", None)
    body["stream_options"] = {"include_usage": draw(st.booleans())}
    return _case(
        "stream-options-without-stream", "REQ8", "stream_options without stream: true", body, "SHOULD"
    )


def _tool_errors(draw: st.DrawFn, rules: PayloadRules, kind: str) -> InvalidCase:
    body = draw(_base(rules))
    tool = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {}}},
    }
    if kind == "undefined":
        body["tools"] = [tool]
        name = draw(
            st.sampled_from(["no_such_function", "get_time"])
            | text(max_size=12).filter(lambda n: n != "get_weather")
        )
        body["tool_choice"] = {"type": "function", "function": {"name": name}}
        return _case(
            "tool-choice-undefined", "TC6", f"tool_choice names {name!r}, which is not in tools", body
        )
    if kind == "without-tools":
        body["tool_choice"] = draw(
            st.sampled_from(["required", "auto"])
            | st.just({"type": "function", "function": {"name": "get_weather"}})
        )
        return _case("tool-choice-without-tools", "TC6", "tool_choice is given without tools", body)
    body["tools"] = [tool]
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
    body["messages"] += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "content": draw(text(max_size=10))},
    ]
    return _case("tool-message-without-id", "REQ5", "a tool message has no tool_call_id", body, "SHOULD")


# -- images -----------------------------------------------------------------------------------------


def _with_image_url(draw: st.DrawFn, rules: PayloadRules, image_url: Any) -> dict[str, Any]:
    """The base body whose last user turn is [image, text] (image first suits every profile)."""
    body = draw(_base(rules))
    body["messages"][-1]["content"] = [
        {"type": "image_url", "image_url": image_url},
        {"type": "text", "text": draw(text(max_size=20))},
    ]
    return body


_MIME = {"png": "image/png", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


def _format_of(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpeg"
    if data.startswith(b"GIF"):
        return "gif"
    return "webp"


_BROKEN_IMAGES = ("truncated-base64", "zero-byte", "not-an-image", "bare-string", "file-url")


def _broken_image(draw: st.DrawFn, rules: PayloadRules, kind: str) -> InvalidCase:
    if kind == "truncated-base64":
        data = draw(image_bytes(rules))
        encoded = base64.b64encode(data).decode()
        # A length of 4k+1 characters cannot be decoded by any base64 decoder, lax or strict.
        keep = draw(st.integers(0, (len(encoded) - 2) // 4)) * 4 + 1
        url = f"data:{_MIME[_format_of(data)]};base64,{encoded[:keep]}"
        body = _with_image_url(draw, rules, {"url": url})
        return _case(kind, "V5", f"the image's base64 is cut to {keep} of {len(encoded)} characters", body)
    if kind == "zero-byte":
        mime = draw(st.sampled_from(sorted(_MIME.values())))
        body = _with_image_url(draw, rules, {"url": f"data:{mime};base64,"})
        return _case(kind, "V5", f"a zero-byte {mime} image", body)
    if kind == "not-an-image":
        junk = draw(text(min_size=4, max_size=40)).encode()
        body = _with_image_url(draw, rules, {"url": data_url(junk, "image/png")})
        return _case(kind, "V5", "an image/png data URL whose bytes are text", body)
    if kind == "mime-mismatch":
        data = draw(image_bytes(rules))
        real = _format_of(data)
        declared = draw(st.sampled_from(sorted(f for f in _MIME if f != real)))
        body = _with_image_url(draw, rules, {"url": data_url(data, _MIME[declared])})
        return _case(kind, "V5", f"{real.upper()} bytes declared as {_MIME[declared]}", body, "SHOULD")
    if kind == "bare-string":
        body = _with_image_url(draw, rules, data_url(draw(image_bytes(rules))))
        return _case(kind, "V4", "image_url is a bare string, not {url}", body)
    path = draw(st.sampled_from(["/etc/passwd", "/etc/hostname", "/tmp/image.png", "C:/Windows/win.ini"]))
    body = _with_image_url(draw, rules, {"url": f"file://{path}"})
    return _case(kind, "V7", f"a file:// image URL ({path})", body)


def _external_url(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    scheme = draw(st.sampled_from(["https", "http"]))
    name = draw(st.text(alphabet=string.ascii_lowercase, min_size=1, max_size=8))
    url = f"{scheme}://example.com/chatcert/{name}.png"
    body = _with_image_url(draw, rules, {"url": url})
    return _case(
        "external-url", "V6", f"an external image link ({scheme}) where the profile rejects them", body
    )


def _over_limit(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    limits = {a: v for a, v in (("width", rules.max_image_width), ("height", rules.max_image_height)) if v}
    axis = draw(st.sampled_from(sorted(limits)))
    limit = limits[axis]
    big = limit + draw(st.integers(1, 2000))
    small = draw(st.integers(1, 8))
    width, height = (big, small) if axis == "width" else (small, big)
    encoders: dict[str, Callable[[int, int], bytes]] = {
        "png": images.png,
        "gif": images.gif,
        "jpeg": images.jpeg,
    }
    if big <= images.MAX_WEBP_SIDE:
        encoders["webp"] = images.webp
    fmt = draw(st.sampled_from(sorted(encoders)))
    body = _with_image_url(draw, rules, {"url": data_url(encoders[fmt](width, height))})
    return _case(
        "oversize-image",
        "V8",
        f"a {width}x{height} {fmt.upper()} is over the profile's {axis} limit of {limit}",
        body,
    )


def _under_limit(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    body = _with_image_url(draw, rules, {"url": data_url(images.png(1, 1))})
    return _case("undersize-image", "V8", "a 1x1 image is under the profile's minimum size", body)


# -- transport and corpus ---------------------------------------------------------------------------


def _wrong_content_type(draw: st.DrawFn, rules: PayloadRules) -> InvalidCase:
    body = draw(_base(rules))
    content_type = draw(
        st.sampled_from(
            [
                "text/plain",
                "application/x-www-form-urlencoded",
                "application/xml",
                "text/html",
                "application/octet-stream",
            ]
        )
    )
    return _case(
        "wrong-content-type",
        "N4",
        f"a JSON body sent as {content_type}",
        body,
        "SHOULD",
        content_type=content_type,
    )


def _needs(case: CorpusCase, rules: PayloadRules) -> bool:
    """Whether the profile claims what a corpus case exercises (a server without tools may ignore them)."""
    shown = json.dumps(case.body)
    wants = {
        "tools": '"tool' in shown,
        "vision": '"image_url"' in shown,
        "response_format": '"response_format"' in shown,
        "logprobs": '"top_logprobs"' in shown,
        "streaming": '"stream' in shown,
    }
    return all(getattr(rules, capability) for capability, wanted in wants.items() if wanted)


def _corpus_body(case: CorpusCase, rules: PayloadRules) -> Any:
    body = json.loads(json.dumps(case.body))
    if isinstance(body, dict):
        if body.get("model") == "test-model":
            body["model"] = rules.model
        tokens = body.get("max_tokens")
        if "max_tokens" not in body:
            body["max_tokens"] = MAX_TOKENS
        elif isinstance(tokens, str) and tokens.isdigit():
            body["max_tokens"] = str(MAX_TOKENS)  # still a string; a lax server must not spend 256 tokens
    return body


def corpus_cases(rules: PayloadRules) -> list[InvalidCase]:
    """The chat-request cases of fixtures/payloads/invalid/ this profile can be judged on."""
    out = []
    for case in load_corpus("invalid"):
        if (
            not case.schema.endswith("openai/chat-request")
            or case.rule in _CORPUS_SKIP
            or not _needs(case, rules)
        ):
            continue
        level: Level = "MUST" if case.rule in _MUST_RULES else "SHOULD"
        out.append(
            _case(f"corpus:{case.name}", case.rule, case.description, _corpus_body(case, rules), level)
        )
    return out


# -- the registry of classes ------------------------------------------------------------------------


def _always(rules: PayloadRules) -> bool:
    return True


@dataclass(frozen=True)
class Kind:
    """One class of invalid payload: the `kind` its cases carry, its family, how to build one, and which
    profiles it applies to (a class needs what the profile claims: no image cases without vision)."""

    name: str
    family: str
    build: Builder
    applies: Callable[[PayloadRules], bool] = _always

    def strategy(self, rules: PayloadRules) -> st.SearchStrategy[InvalidCase]:
        build, name = self.build, self.name

        @st.composite
        def one(draw: st.DrawFn) -> InvalidCase:
            case = build(draw, rules)
            if case.kind != name:  # a builder labelling its cases otherwise breaks the coverage promise
                raise AssertionError(f"class {name!r} built a case of kind {case.kind!r}")
            return case

        return one()


def _streaming(rules: PayloadRules) -> bool:
    return rules.streaming


def _tools(rules: PayloadRules) -> bool:
    return rules.tools


def _vision(rules: PayloadRules) -> bool:
    return rules.vision


def _logprobs(rules: PayloadRules) -> bool:
    return rules.logprobs


def _mime_checked(rules: PayloadRules) -> bool:
    return rules.vision and rules.image_mime_label == "checked"


def _external_rejected(rules: PayloadRules) -> bool:
    return rules.vision and rules.external_image_urls == "rejected"


def _max_size(rules: PayloadRules) -> bool:
    return rules.vision and bool(rules.max_image_width or rules.max_image_height)


def _min_size(rules: PayloadRules) -> bool:
    return rules.vision and bool(rules.min_image_width or rules.min_image_height)


_TOOL_ERRORS = {
    "tool-choice-undefined": "undefined",
    "tool-choice-without-tools": "without-tools",
    "tool-message-without-id": "tool-without-id",
}

# Families in search order, simplest first (shrinking moves left); each family's classes in order too.
KINDS: tuple[Kind, ...] = (
    *(Kind(f"missing-{f}", "missing", partial(_missing, field=f)) for f in ("messages", "model")),
    Kind("empty-messages", "empty-array", partial(_empty_array, where="messages")),
    Kind("empty-content", "empty-array", partial(_empty_array, where="content")),
    Kind("empty-stop", "empty-array", partial(_empty_array, where="stop")),
    *(Kind(f"wrong-type:{f}", "wrong-type", partial(_wrong_type, field=f)) for f in _WRONG_TYPE_FIELDS),
    Kind("wrong-type:stream", "wrong-type", partial(_wrong_type, field="stream"), _streaming),
    Kind("json-not-object", "json-not-object", _non_object),
    *(
        Kind(f"not-json:{k}", "not-json", partial(_non_json, kind=k))
        for k in ("truncated", "empty", "text", "bytes")
    ),
    Kind("unknown-role", "unknown-role", _unknown_role),
    *(
        Kind(
            f"out-of-range:{f}",
            "out-of-range",
            partial(_out_of_range, field=f),
            _logprobs if f == "top_logprobs" else _always,
        )
        for f in _RANGES
    ),
    Kind("stream-options-without-stream", "stream-options", _stream_options, _streaming),
    *(Kind(n, "tool-errors", partial(_tool_errors, kind=k), _tools) for n, k in _TOOL_ERRORS.items()),
    *(Kind(k, "broken-image", partial(_broken_image, kind=k), _vision) for k in _BROKEN_IMAGES),
    # No OpenAI rule forbids decoding JPEG bytes labelled image/png: only a profile that checks labels.
    Kind("mime-mismatch", "broken-image", partial(_broken_image, kind="mime-mismatch"), _mime_checked),
    Kind("external-url", "external-url", _external_url, _external_rejected),
    Kind("oversize-image", "oversize-image", _over_limit, _max_size),
    Kind("undersize-image", "undersize-image", _under_limit, _min_size),
    Kind("wrong-content-type", "wrong-content-type", _wrong_content_type),
)


def kinds(rules: PayloadRules) -> list[Kind]:
    """The classes of invalid payload `rules` can be judged on, in search order."""
    return [k for k in KINDS if k.applies(rules)]


def cases(rules: PayloadRules) -> st.SearchStrategy[InvalidCase]:
    """Every invalid class the profile can be judged on, by family, simplest first (shrinking moves left)."""
    families: dict[str, list[st.SearchStrategy[InvalidCase]]] = {}
    for kind in kinds(rules):
        families.setdefault(kind.family, []).append(kind.strategy(rules))
    strategies = [st.one_of(members) for members in families.values()]
    corpus = corpus_cases(rules)
    if corpus:
        strategies.append(st.sampled_from(corpus))
    return st.one_of(strategies)


def most_explicit() -> int:
    """The most explicit cases any profile gets: every class and every chat-request corpus case."""
    corpus = [c for c in load_corpus("invalid") if c.schema.endswith("openai/chat-request")]
    return len(KINDS) + sum(1 for c in corpus if c.rule not in _CORPUS_SKIP)


@cache
def explicit_cases(rules: PayloadRules) -> tuple[InvalidCase, ...]:
    """One case per class of `kinds(rules)` (the simplest the class's strategy draws), then every corpus
    case: what a fuzz run sends before its search, whatever --max-examples and the seed are."""
    drawn = first_examples({k.name: k.strategy(rules) for k in kinds(rules)})
    return (*(drawn[k.name] for k in kinds(rules)), *corpus_cases(rules))
