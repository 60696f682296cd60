"""Semantic request rules the schema cannot express: images, tools, stream options, output modalities.

These checks also guard the reply builders, so every input that reaches them is well-formed even
while a schema is missing; a failure is a 4xx, never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from chatcert.wire.images import SUPPORTED_MIME, canonical_mime, parse_data_url, sniff
from mock_server.exchange import Exchange

__all__ = ["ChatFacts", "check_chat", "check_image_bytes", "check_image_url", "optional_int", "tool_names"]

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_TOOL_CHOICES = frozenset({"none", "auto", "required"})


@dataclass(frozen=True)
class ChatFacts:
    """What the reply needs from a valid request: the prompt's text and image count."""

    texts: tuple[str, ...]
    images: int


def check_chat(ex: Exchange, body: dict[str, Any]) -> ChatFacts:
    """Apply every semantic rule to a chat request; raise the first violation."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ex.invalid("'messages' must be a non-empty array", param="messages")
    texts: list[str] = []
    images = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise ex.invalid(f"messages[{i}] must be an object with a valid 'role'", param=f"messages[{i}]")
        if message["role"] == "tool" and not isinstance(message.get("tool_call_id"), str):
            raise ex.invalid(f"messages[{i}]: a tool message needs 'tool_call_id'", param=f"messages[{i}]")
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            images += _check_parts(ex, content, f"messages[{i}].content", texts)
        elif content is not None:
            raise ex.invalid(f"messages[{i}].content must be a string or an array", param=f"messages[{i}]")
    optional_int(ex, body, "n", minimum=1, maximum=128)
    optional_int(ex, body, "top_logprobs", maximum=20)
    for key in ("max_tokens", "max_completion_tokens"):
        optional_int(ex, body, key)
    if body.get("top_logprobs") is not None and body.get("logprobs") is not True:
        raise ex.invalid("'top_logprobs' requires 'logprobs': true", param="top_logprobs")
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise ex.invalid("'stream_options' is only allowed when 'stream' is true", param="stream_options")
    _check_tools(ex, body)
    _check_output(ex, body)
    return ChatFacts(tuple(texts), images)


def optional_int(
    ex: Exchange, body: dict[str, Any], key: str, *, minimum: int = 0, maximum: int | None = None
) -> int | None:
    """An optional integer field within bounds."""
    value = body.get(key)
    if value is None:
        return None
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and value >= minimum and (maximum is None or value <= maximum):
        return int(value)
    bounds = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
    raise ex.invalid(f"'{key}' must be an integer {bounds}", param=key)


def _check_parts(ex: Exchange, parts: list[Any], where: str, texts: list[str]) -> int:
    images = 0
    for j, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("text", "refusal") and isinstance(part.get(kind), str):
            texts.append(part[kind])
        elif kind == "image_url":
            check_image_url(ex, part.get("image_url"), f"{where}[{j}].image_url")
            images += 1
        elif kind not in ("input_audio", "file"):
            raise ex.invalid(f"{where}[{j}] is not a valid content part", param=f"{where}[{j}]")
    return images


def check_image_url(ex: Exchange, image_url: Any, where: str) -> None:
    """An `image_url` object: a valid base64 data: image, or an http(s) link where the profile allows."""
    if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str):
        raise ex.invalid(f"{where} must be an object with a string 'url'", param=where)
    url: str = image_url["url"]
    scheme = url.partition(":")[0].lower() if ":" in url else ""
    if scheme == "data":
        try:
            decoded = parse_data_url(url)
        except ValueError as exc:
            raise ex.invalid(f"{where}.url: {exc}", param=where) from None
        check_image_bytes(ex, decoded.mime, decoded.data, where)
    elif scheme == "file":
        raise ex.invalid(f"{where}.url: file:// URLs are not allowed", param=where)
    elif scheme in ("http", "https"):
        if ex.profile.external_image_urls == "rejected":
            raise ex.invalid(
                f"{where}.url: external image links are not supported; send a data: URL", param=where
            )
    else:
        raise ex.invalid(f"{where}.url: unsupported URL scheme {scheme or url[:20]!r}", param=where)


def check_image_bytes(ex: Exchange, declared: str, data: bytes, where: str) -> None:
    """The bytes must be an image of the declared MIME within the profile's size limits."""
    declared = canonical_mime(declared)
    if declared not in SUPPORTED_MIME:
        raise ex.invalid(
            f"{where}: unsupported image type {declared!r}; use {', '.join(SUPPORTED_MIME)}", where
        )
    info = sniff(data)
    if info is None:
        raise ex.invalid(f"{where}: the data is not a valid image", param=where)
    if info.mime != declared and ex.profile.image_mime_label == "checked":
        # `ignored`/`unknown` (seed 000's server, whose client labels unguessable files image/jpeg):
        # the bytes decide, as a decoder that sniffs the format does.
        raise ex.invalid(f"{where}: declared {declared} but the bytes are {info.mime}", param=where)
    limit_w, limit_h = ex.profile.max_image_width, ex.profile.max_image_height
    if (limit_w and info.width > limit_w) or (limit_h and info.height > limit_h):
        raise ex.invalid(
            f"{where}: image is {info.width}x{info.height}, larger than {limit_w or '-'}x{limit_h or '-'}",
            where,
        )


def tool_names(body: dict[str, Any]) -> list[str]:
    """Names of the declared function tools, in order."""
    tools = body.get("tools")
    return [t["function"]["name"] for t in tools or ()] if isinstance(tools, list) else []


def _check_tools(ex: Exchange, body: dict[str, Any]) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise ex.invalid("'tools' must be an array", param="tools")
        for i, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("name"), str):
                raise ex.invalid(f"tools[{i}] must be a function tool with a name", param=f"tools[{i}]")
            _check_json_schema(ex, function.get("parameters", {}), f"tools[{i}].function.parameters")
    choice = body.get("tool_choice")
    if choice is None:
        return
    names = tool_names(body)
    if not names:
        raise ex.invalid("'tool_choice' is only allowed when 'tools' are specified", param="tool_choice")
    if isinstance(choice, str) and choice in _TOOL_CHOICES:
        return
    if isinstance(choice, dict) and choice.get("type") == "allowed_tools":
        return
    named = choice.get("function") if isinstance(choice, dict) and choice.get("type") == "function" else None
    if not isinstance(named, dict) or not isinstance(named.get("name"), str):
        raise ex.invalid(
            "'tool_choice' must be none, auto, required or a named function", param="tool_choice"
        )
    if named["name"] not in names:
        raise ex.invalid(
            f"tool_choice names function {named['name']!r}, which is not in 'tools'", "tool_choice"
        )


def _check_json_schema(ex: Exchange, schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise ex.invalid(f"{where} must be a JSON Schema object", param=where)
    problem = _schema_problem(json.dumps(schema, sort_keys=True))
    if problem is not None:
        raise ex.invalid(f"{where} is not a valid JSON Schema: {problem}", param=where)


@lru_cache(maxsize=512)
def _schema_problem(canonical: str) -> str | None:
    """Why a JSON Schema (as canonical JSON) is invalid, or None. Memoised: checking a schema against
    the metaschema costs about 0.5 ms, and clients send the same tool schemas with every request."""
    try:
        Draft202012Validator.check_schema(json.loads(canonical))
    except SchemaError as exc:
        return exc.message
    return None


def _check_output(ex: Exchange, body: dict[str, Any]) -> None:
    allowed = ex.profile.output_modalities
    if allowed is not None:
        modalities = body.get("modalities")
        wanted = set(modalities) if isinstance(modalities, list) else set()
        if body.get("audio") is not None:
            wanted.add("audio")
        refused = sorted(m for m in wanted - set(allowed) if isinstance(m, str))
        if refused:
            raise ex.invalid(f"output modalities {', '.join(refused)} are not supported", param="modalities")
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or "schema" not in spec:
            raise ex.invalid(
                "response_format json_schema needs 'json_schema.schema'", param="response_format"
            )
        _check_json_schema(ex, spec["schema"], "response_format.json_schema.schema")
