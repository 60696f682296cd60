"""Aleph Alpha Pharia extras: `POST {complete}` and `POST {transcribe}`.

Both contracts are INFERRED (seed 001 names the endpoints but documents neither body):
- complete: `{model, prompt, maximum_tokens?}` -> `{"completions": [{"completion", "finish_reason"}],
  "model_version", "num_tokens_prompt_total", "num_tokens_generated"}`, the shape of Aleph Alpha's
  public `/complete`; finish_reason is "maximum_tokens" when cut, else "end_of_text".
- transcribe: multipart/form-data with a non-empty `file` part -> `{"text": "..."}`.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from mock_server.exchange import Exchange
from mock_server.generation import IMAGE_TOKENS, digest, reply_text, split_tokens, word_count
from mock_server.replies import JsonReply, Reply
from mock_server.validation import optional_int

__all__ = ["MODEL_VERSION", "handle_complete", "handle_transcribe"]

MODEL_VERSION = "chatcert-mock-2026"
_DEFAULT_MAXIMUM_TOKENS = 64


async def handle_complete(ex: Exchange) -> Reply:
    """Complete a prompt given as a string or a list of `{"type": "text", "data": ...}` items."""
    body = ex.json_object()
    model = ex.require_model(body.get("model"))
    texts, images = _prompt(ex, body.get("prompt"))
    cap = optional_int(ex, body, "maximum_tokens")
    cap = _DEFAULT_MAXIMUM_TOKENS if cap is None else cap
    pieces = split_tokens(" " + reply_text(digest(model, body["prompt"]), 0, ex.scenario.chunks))
    finish = "maximum_tokens" if len(pieces) > cap else "end_of_text"
    pieces = pieces[:cap]
    return JsonReply(
        {
            "model_version": MODEL_VERSION,
            "completions": [{"completion": "".join(pieces), "finish_reason": finish}],
            "num_tokens_prompt_total": word_count(texts) + IMAGE_TOKENS * images,
            "num_tokens_generated": len(pieces),
        }
    )


def _prompt(ex: Exchange, prompt: Any) -> tuple[list[str], int]:
    if isinstance(prompt, str) and prompt:
        return [prompt], 0
    if isinstance(prompt, list) and prompt and all(isinstance(p, dict) for p in prompt):
        texts = [p["data"] for p in prompt if p.get("type") == "text" and isinstance(p.get("data"), str)]
        return texts, sum(1 for p in prompt if p.get("type") == "image")
    raise ex.invalid("'prompt' must be a non-empty string or a list of prompt items", param="prompt")


async def handle_transcribe(ex: Exchange) -> Reply:
    """Transcribe the uploaded `file` part into deterministic words."""
    if ex.request.content_type != "multipart/form-data":
        raise ex.invalid("expected multipart/form-data with a 'file' part", param="file")
    audio = _file_part(ex.request.headers.get("Content-Type", ""), ex.raw)
    if not audio:
        raise ex.invalid("the 'file' part is missing or empty", param="file")
    return JsonReply({"text": reply_text(digest(audio.hex()[:4096], len(audio)), 0, ex.scenario.chunks)})


def _file_part(content_type: str, raw: bytes) -> bytes | None:
    # The stdlib MIME parser reads multipart/form-data without another dependency.
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        return None
    for part in message.iter_parts() if hasattr(message, "iter_parts") else ():
        if isinstance(part, Message) and part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return payload if isinstance(payload, bytes) else None
    return None
