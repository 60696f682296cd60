"""`POST {chat}`: OpenAI chat completions, JSON or SSE, with tool calls, logprobs and JSON output."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
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
from mock_server.validation import check_chat, tool_names

__all__ = ["CHAT_REQUEST_ID", "FINGERPRINT", "handle_chat", "openai_error_event", "usage_block"]

CHAT_REQUEST_ID = "tag:chatcert,2026:openai/chat-request"
FINGERPRINT = "fp_chatcert_mock"
_MAX_PARALLEL_CALLS = 8


@dataclass(frozen=True)
class Choice:
    """One planned choice: content tokens or tool calls, and why it ended."""

    index: int
    pieces: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str = "stop"

    @property
    def content(self) -> str | None:
        return None if self.tool_calls else "".join(self.pieces)

    @property
    def completion_tokens(self) -> int:
        return len(self.pieces) + sum(
            1 + len(split_tokens(c["function"]["arguments"])) for c in self.tool_calls
        )


def usage_block(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI `usage` with a consistent total."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def openai_error_event() -> SseEvent:
    """The OpenAI-convention mid-stream error event."""
    error = {
        "message": "mock mid-stream error",
        "type": "server_error",
        "param": None,
        "code": "midstream_error",
    }
    return SseEvent({"error": error}, kind="error")


async def handle_chat(ex: Exchange) -> Reply:
    """Validate the request and answer it deterministically."""
    body = ex.json_object()
    ex.check_schema(CHAT_REQUEST_ID, body)
    model = ex.require_model(body.get("model"))
    facts = check_chat(ex, body)
    seed = digest(model, body["messages"])
    choices = [_plan(body, seed, i, ex.scenario.chunks) for i in range(body.get("n") or 1)]
    prompt = word_count(facts.texts) + IMAGE_TOKENS * facts.images
    usage = usage_block(prompt, sum(c.completion_tokens for c in choices))
    head = {
        "id": f"chatcmpl-{seed[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }
    top = (body.get("top_logprobs") or 0) if body.get("logprobs") is True else None
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        reply = _stream(head, choices, usage if include_usage else None, top, seed)
        reply.usage = usage
        return reply
    return JsonReply({**head, "choices": [_choice_body(c, top) for c in choices], "usage": usage})


def _plan(body: dict[str, Any], seed: str, index: int, chunks: int | None) -> Choice:
    calls = _tool_calls(body, seed, index)
    if calls:
        return Choice(index, tool_calls=calls, finish_reason="tool_calls")
    pieces = split_tokens(_content(body, seed, index, chunks))
    cap = body.get("max_completion_tokens")
    cap = body.get("max_tokens") if cap is None else cap
    if cap is not None and len(pieces) > cap:
        return Choice(index, pieces[:cap], finish_reason="length")
    return Choice(index, pieces)


def _content(body: dict[str, Any], seed: str, index: int, chunks: int | None) -> str:
    response_format = body.get("response_format")
    if not isinstance(response_format, dict):
        return reply_text(seed, index, chunks)
    if response_format.get("type") == "json_object":
        return json.dumps({"answer": reply_text(seed, index, chunks)})
    if response_format.get("type") == "json_schema":
        return json.dumps(minimal_instance(response_format["json_schema"]["schema"]))
    return reply_text(seed, index, chunks)


def _tool_calls(body: dict[str, Any], seed: str, index: int) -> list[dict[str, Any]]:
    names = tool_names(body)
    choice = body.get("tool_choice")
    last = body["messages"][-1]
    if not names or choice == "none" or last.get("role") != "user":
        return []  # after a tool result (or an assistant turn) the model answers in text
    if isinstance(choice, dict) and choice.get("type") == "function":
        chosen = [choice["function"]["name"]]
    elif body.get("parallel_tool_calls") is False:
        chosen = names[:1]
    else:
        chosen = list(dict.fromkeys(names))[:_MAX_PARALLEL_CALLS]
    parameters = {t["function"]["name"]: t["function"].get("parameters", {}) for t in body["tools"]}
    return [
        {
            "id": f"call_{digest(seed, index, k)[:24]}",
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(minimal_instance(parameters[name]))},
        }
        for k, name in enumerate(chosen)
    ]


def _logprob_entry(token: str, top: int) -> dict[str, Any]:
    logprob = -round(0.05 * (1 + len(token) % 7), 4)
    alternatives = [{"token": token, "logprob": logprob, "bytes": list(token.encode())}]
    for k in range(1, top):
        alternative = f" alt{k}"
        alternatives.append(
            {"token": alternative, "logprob": logprob - k, "bytes": list(alternative.encode())}
        )
    return {**alternatives[0], "top_logprobs": alternatives[:top]}


def _logprobs(pieces: list[str], top: int | None) -> dict[str, Any] | None:
    if top is None:
        return None
    return {"content": [_logprob_entry(p, top) for p in pieces], "refusal": None}


def _choice_body(choice: Choice, top: int | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": choice.content, "refusal": None}
    if choice.tool_calls:
        message["tool_calls"] = choice.tool_calls
    return {
        "index": choice.index,
        "message": message,
        "logprobs": _logprobs(choice.pieces, top),
        "finish_reason": choice.finish_reason,
    }


def _deltas(choice: Choice, top: int | None) -> list[tuple[dict[str, Any], dict[str, Any] | None]]:
    """The choice's content chunks as (delta, logprobs); tool calls as id/name then argument fragments."""
    if not choice.tool_calls and top is None:  # the usual stream: nothing to build per token but the delta
        return [({"content": p}, None) for p in choice.pieces] or [({}, None)]
    if not choice.tool_calls:
        return [({"content": p}, _logprobs([p], top)) for p in choice.pieces] or [({}, None)]
    deltas: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
    for k, call in enumerate(choice.tool_calls):
        function = call["function"]
        first = {
            "index": k,
            "id": call["id"],
            "type": "function",
            "function": {"name": function["name"], "arguments": ""},
        }
        deltas.append(({"tool_calls": [first]}, None))
        for fragment in split_tokens(function["arguments"]):
            deltas.append(({"tool_calls": [{"index": k, "function": {"arguments": fragment}}]}, None))
    return deltas


def _stream(
    head: dict[str, Any], choices: list[Choice], usage: dict[str, int] | None, top: int | None, seed: str
) -> StreamReply:
    base = {**head, "object": "chat.completion.chunk"}
    if usage is not None:
        base["usage"] = None  # every chunk but the last says "no usage yet"

    def chunk(index: int, delta: dict[str, Any], finish: str | None, logprobs: Any = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        return {**base, "choices": [choice]}

    events = [
        SseEvent(chunk(c.index, {"role": "assistant", "content": None if c.tool_calls else ""}, None))
        for c in choices
    ]
    plans = [(c, _deltas(c, top)) for c in choices]
    for step in range(max(len(d) for _, d in plans)):
        for choice, deltas in plans:
            if step < len(deltas):
                delta, logprobs = deltas[step]
                events.append(SseEvent(chunk(choice.index, delta, None, logprobs), step=step))
    # finish_reason travels in its own empty-delta chunk, as OpenAI sends it: some clients (aleph-alpha)
    # drop the text of a chunk that also carries finish_reason.
    events.extend(SseEvent(chunk(c.index, {}, c.finish_reason)) for c in choices)
    if usage is not None:
        events.append(SseEvent({**base, "choices": [], "usage": usage}, kind="usage"))
    events.append(SseEvent("[DONE]", kind="done"))
    return StreamReply(events, openai_error_event(), seed=seed)
