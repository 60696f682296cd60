"""`POST {completions}`: the legacy OpenAI text completions API (`text_completion`), JSON or SSE."""

from __future__ import annotations

import time
from typing import Any

from mock_server.chat import FINGERPRINT, openai_error_event, usage_block
from mock_server.exchange import Exchange
from mock_server.generation import digest, reply_text, split_tokens, word_count
from mock_server.replies import JsonReply, Reply, SseEvent, StreamReply
from mock_server.validation import optional_int

__all__ = ["COMPLETION_REQUEST_ID", "handle_completions"]

COMPLETION_REQUEST_ID = "tag:chatcert,2026:openai/completion-request"
_DEFAULT_MAX_TOKENS = 16  # the legacy API's documented default


async def handle_completions(ex: Exchange) -> Reply:
    """Answer each prompt `n` times; choice index = prompt index * n + j."""
    body = ex.json_object()
    ex.check_schema(COMPLETION_REQUEST_ID, body)
    model = ex.require_model(body.get("model"))
    prompts = _prompts(ex, body.get("prompt"))
    n = optional_int(ex, body, "n", minimum=1, maximum=128) or 1
    cap = optional_int(ex, body, "max_tokens")
    cap = _DEFAULT_MAX_TOKENS if cap is None else cap
    if body.get("stream_options") is not None and body.get("stream") is not True:
        raise ex.invalid("'stream_options' is only allowed when 'stream' is true", param="stream_options")
    echo = body.get("echo") is True
    choices: list[tuple[int, str, list[str], str]] = []  # index, echoed prompt, pieces, finish_reason
    for p, (text, _) in enumerate(prompts):
        for j in range(n):
            pieces = split_tokens(" " + reply_text(digest(model, text), j, ex.scenario.chunks))
            finish = "length" if len(pieces) > cap else "stop"
            choices.append((p * n + j, text if echo else "", pieces[:cap], finish))
    seed = digest(model, [t for t, _ in prompts])
    usage = usage_block(sum(count for _, count in prompts), sum(len(c[2]) for c in choices))
    head = {
        "id": f"cmpl-{seed[:24]}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }
    if body.get("stream") is True:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        return _stream(head, choices, usage if include_usage else None, seed)
    return JsonReply(
        {
            **head,
            "choices": [
                {"text": echoed + "".join(pieces), "index": i, "logprobs": None, "finish_reason": finish}
                for i, echoed, pieces, finish in choices
            ],
            "usage": usage,
        }
    )


def _prompts(ex: Exchange, prompt: Any) -> list[tuple[str, int]]:
    """(text, prompt tokens) per prompt: a string, strings, token ids, or lists of token ids."""
    if isinstance(prompt, str):
        return [(prompt, word_count([prompt]))]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(p, str) for p in prompt):
            return [(p, word_count([p])) for p in prompt]
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return [(" ".join(map(str, prompt)), len(prompt))]
        if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
            return [(" ".join(map(str, p)), len(p)) for p in prompt]
    raise ex.invalid("'prompt' must be a string, an array of strings or of token ids", param="prompt")


def _stream(
    head: dict[str, Any],
    choices: list[tuple[int, str, list[str], str]],
    usage: dict[str, int] | None,
    seed: str,
) -> StreamReply:
    base = dict(head)
    if usage is not None:
        base["usage"] = None

    def chunk(index: int, text: str, finish: str | None) -> dict[str, Any]:
        return {
            **base,
            "choices": [{"text": text, "index": index, "logprobs": None, "finish_reason": finish}],
        }

    events = [SseEvent(chunk(i, echoed, None)) for i, echoed, _, _ in choices if echoed]
    for step in range(max(max(len(c[2]) for c in choices), 1)):
        for index, _, pieces, finish in choices:
            last = max(len(pieces) - 1, 0)
            if step <= last:
                text = pieces[step] if pieces else ""
                events.append(SseEvent(chunk(index, text, finish if step == last else None), step=step))
    if usage is not None:
        events.append(SseEvent({**base, "choices": [], "usage": usage}, kind="usage"))
    events.append(SseEvent("[DONE]", kind="done"))
    return StreamReply(events, openai_error_event(), seed=seed)
