"""`POST {messages}`: the Anthropic Messages API (as LibertAI serves it), JSON or named-event SSE."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from mock_server.exchange import Exchange
from mock_server.generation import (
    IMAGE_TOKENS,
    digest,
    minimal_instance,
    reply_text,
    split_tokens,
    word_count,
)
from mock_server.replies import JsonReply, Reply, SseEvent, StreamReply
from mock_server.validation import check_image_bytes

__all__ = ["MESSAGES_REQUEST_ID", "handle_messages"]

MESSAGES_REQUEST_ID = "tag:chatcert,2026:anthropic/messages-request"
_BLOCK_TYPES = frozenset(
    {"text", "image", "document", "tool_use", "tool_result", "thinking", "redacted_thinking", "search_result"}
)


async def handle_messages(ex: Exchange) -> Reply:
    """Validate an Anthropic request and answer with text or tool_use blocks."""
    body = ex.json_object()
    ex.check_schema(MESSAGES_REQUEST_ID, body)
    max_tokens = body.get("max_tokens")
    if not isinstance(body.get("model"), str):
        raise ex.invalid("model: Field required (a string)")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ex.invalid("max_tokens: Field required (an integer >= 1)")
    texts, images = _check_messages(ex, body)
    model = ex.require_model(body["model"])
    seed = digest(model, body.get("system"), body["messages"])
    blocks = _tool_uses(ex, body, seed)
    pieces: list[str] = []
    stop_reason = "tool_use" if blocks else "end_turn"
    if not blocks:
        pieces = split_tokens(reply_text(seed, 0, ex.scenario.chunks))
        if len(pieces) > max_tokens:
            pieces, stop_reason = pieces[:max_tokens], "max_tokens"
        blocks = [{"type": "text", "text": "".join(pieces)}]
    output = len(pieces) + sum(1 + len(split_tokens(json.dumps(b["input"]))) for b in blocks if "input" in b)
    usage = {"input_tokens": word_count(texts) + IMAGE_TOKENS * images, "output_tokens": output}
    message = {
        "id": f"msg_{seed[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }
    if body.get("stream") is True:
        return _stream(message, pieces, seed)
    return JsonReply(message)


def _check_messages(ex: Exchange, body: dict[str, Any]) -> tuple[list[str], int]:
    """Anthropic's structural rules the SDKs rely on; returns the prompt texts and image count."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ex.invalid("messages: must be a non-empty array")
    system = body.get("system")
    texts = [system] if isinstance(system, str) else []
    if isinstance(system, list):
        texts += [b["text"] for b in system if isinstance(b, dict) and isinstance(b.get("text"), str)]
    elif system is not None and not isinstance(system, str):
        raise ex.invalid("system: must be a string or an array of text blocks")
    images = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ("user", "assistant"):
            raise ex.invalid(f"messages.{i}: must be an object with role 'user' or 'assistant'")
        content = message.get("content")
        if isinstance(content, str):
            texts.append(content)
            continue
        if not isinstance(content, list):
            raise ex.invalid(f"messages.{i}.content: must be a string or an array of blocks")
        for j, block in enumerate(content):
            if not isinstance(block, dict) or block.get("type") not in _BLOCK_TYPES:
                kind = block.get("type") if isinstance(block, dict) else None
                raise ex.invalid(f"messages.{i}.content.{j}: unknown or missing block type {kind!r}")
            kind = block["type"]
            if kind == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif kind == "image":
                _check_image(ex, block.get("source"), f"messages.{i}.content.{j}.source")
                images += 1
    return texts, images


def _check_image(ex: Exchange, source: Any, where: str) -> None:
    if not isinstance(source, dict):
        raise ex.invalid(f"{where}: must be an object")
    if source.get("type") == "url" and isinstance(source.get("url"), str):
        if ex.profile.external_image_urls == "rejected":
            raise ex.invalid(f"{where}: external image links are not supported")
        return
    data, mime = source.get("data"), source.get("media_type")
    if source.get("type") != "base64" or not isinstance(data, str) or not isinstance(mime, str):
        raise ex.invalid(f"{where}: expected type 'base64' with media_type and data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise ex.invalid(f"{where}.data: not valid base64") from None
    check_image_bytes(ex, mime, raw, where)


def _tool_uses(ex: Exchange, body: dict[str, Any], seed: str) -> list[dict[str, Any]]:
    tools = body.get("tools")
    choice = body.get("tool_choice")
    if tools is None:
        if choice is not None:
            raise ex.invalid("tool_choice: only allowed when tools are given")
        return []
    if not isinstance(tools, list) or not all(
        isinstance(t, dict) and isinstance(t.get("name"), str) for t in tools
    ):
        raise ex.invalid("tools: must be an array of tools with a name")
    schemas = {t["name"]: t.get("input_schema", {}) for t in tools}
    if choice is not None and not isinstance(choice, dict):
        raise ex.invalid("tool_choice: must be an object")
    choice = choice or {}
    kind = choice.get("type", "auto")
    if kind not in ("auto", "any", "tool", "none"):
        raise ex.invalid("tool_choice: type must be auto, any, tool or none")
    if kind == "tool" and choice.get("name") not in schemas:
        raise ex.invalid(f"tool_choice: tool {choice.get('name')!r} is not in tools")
    last = body["messages"][-1]
    answered = isinstance(last.get("content"), list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in last["content"]
    )
    if not schemas or kind == "none" or last.get("role") != "user" or answered:
        return []
    if kind == "tool":
        names = [str(choice["name"])]
    elif choice.get("disable_parallel_tool_use") is True:
        names = list(schemas)[:1]
    else:
        names = list(schemas)
    return [
        {
            "type": "tool_use",
            "id": f"toolu_{digest(seed, k)[:24]}",
            "name": name,
            "input": minimal_instance(schemas[name]),
        }
        for k, name in enumerate(names)
    ]


def _stream(message: dict[str, Any], pieces: list[str], seed: str) -> StreamReply:
    def event(data: dict[str, Any], **extra: Any) -> SseEvent:
        return SseEvent(data, event=str(data["type"]), **extra)

    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 0},
    }
    events = [event({"type": "message_start", "message": start}), event({"type": "ping"})]
    step = 0
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opened: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": p} for p in pieces] or [
                {"type": "text_delta", "text": ""}
            ]
        else:
            opened = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            fragments = split_tokens(json.dumps(block["input"]))
            deltas = [{"type": "input_json_delta", "partial_json": f} for f in fragments]
        events.append(event({"type": "content_block_start", "index": index, "content_block": opened}))
        for delta in deltas:
            events.append(event({"type": "content_block_delta", "index": index, "delta": delta}, step=step))
            step += 1
        events.append(event({"type": "content_block_stop", "index": index}))
    tail = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(
        event(
            {
                "type": "message_delta",
                "delta": tail,
                "usage": {"output_tokens": message["usage"]["output_tokens"]},
            },
            kind="usage",
        )
    )
    events.append(event({"type": "message_stop"}, kind="done"))
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "mock mid-stream error"}}
    return StreamReply(events, SseEvent(error, kind="error", event="error"), seed=seed)
