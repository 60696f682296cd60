"""Smoke tests: the real server answers chat completions (plain, streamed, with PNG/JPEG/GIF images).

Every request uses a fresh connection (after some 500s this server closes keep-alive connections without
``Connection: close``) and sets ``max_tokens`` (without it the server generates up to ``n_ctx``: a minute).
Answers are noise (random vision weights, base model): only the protocol is checked.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from realserver import RealServer

pytestmark = pytest.mark.real

MAX_TOKENS = 8
TIMEOUT = 120.0

# 16x16 two-colour images, made with Pillow once and kept here so the tests need no imaging library.
PNG_B64 = (
    "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAJ0lEQVR4nGPU0DjBgA0sYEjAKs6EVRQPGNVADGA8oaFBWxtGNRA"
    "DACsgA0/aQ7kPAAAAAElFTkSuQmCC"
)
JPEG_B64 = (
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA0JCgsKCA0LCgsODg0PEyAVExISEyccHhcgLikxMC4pLSwzOko+MzZGNywtQFdBRk"
    "xOUlNSMj5aYVpQYEpRUk//2wBDAQ4ODhMREyYVFSZPNS01T09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09P"
    "T09PT09PT09PT0//wAARCAAQABADASIAAhEBAxEB/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAw"
    "IEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdI"
    "SUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1N"
    "XW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/8QAHwEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoL/8QAtREAAgECBAQDBAcF"
    "BAQAAQJ3AAECAxEEBSExBhJBUQdhcRMiMoEIFEKRobHBCSMzUvAVYnLRChYkNOEl8RcYGRomJygpKjU2Nzg5OkNERUZHSElKU1"
    "RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6goOEhYaHiImKkpOUlZaXmJmaoqOkpaanqKmqsrO0tba3uLm6wsPExcbHyMnK0tPU1dbX"
    "2Nna4uPk5ebn6Onq8vP09fb3+Pn6/9oADAMBAAIRAxEAPwDlK0qKKMdjvrXL7trX633PoMHg/q3N71726H//2Q=="
)
GIF_B64 = (
    "R0lGODdhEAAQAIMAAJkAAMwAAMwzAJkAM8wAM5kzM8wzMzMzmQAAzDMAzAAzzDMzzAAAAAAAAAAAAAAAACwAAAAAEAAQAEAIew"
    "AXCBwo0IDBgwcFGFC40CBDgwUMDDxAEGHEhA0ZPnxIsCLCgx0XHFDwEaHGhQUeNnTIUqHKiwsQxJyJQAABmzglypwZU+FNAz9p"
    "zkyA82bQnTsTGARgMMBBAkCjQoXq9GdUoBGhGgiQ9amBAVKB2hRrUKtZAwV+OjUQEAA7"
)
IMAGES = {
    "png": ("image/png", PNG_B64, b"\x89PNG\r\n\x1a\n"),
    "jpeg": ("image/jpeg", JPEG_B64, b"\xff\xd8\xff"),
    "gif": ("image/gif", GIF_B64, b"GIF8"),
}


def _post(server: RealServer, body: dict[str, Any]) -> httpx.Response:
    """POST /v1/chat/completions on a fresh connection."""
    with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
        return client.post(f"{server.base_url}/chat/completions", json=body)


def _body(server: RealServer, content: Any, **extra: Any) -> dict[str, Any]:
    return {
        "model": server.model_alias,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": MAX_TOKENS,
        **extra,
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _image_part(mime: str, b64: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{b64}"}}


def test_models_lists_the_alias(real_server: RealServer) -> None:
    with httpx.Client(timeout=TIMEOUT, trust_env=False) as client:
        response = client.get(f"{real_server.base_url}/models")
    assert response.status_code == 200
    ids = [model["id"] for model in response.json()["data"]]
    assert real_server.model_alias in ids


def test_chat_non_stream(real_server: RealServer) -> None:
    response = _post(real_server, _body(real_server, "Say hi"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["id"], str) and body["id"]
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert isinstance(body["model"], str)
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["message"]["role"] == "assistant"
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in {"stop", "length"}
    usage = body["usage"]
    assert all(isinstance(usage[key], int) for key in ("prompt_tokens", "completion_tokens", "total_tokens"))
    assert usage["prompt_tokens"] > 0
    assert 0 < usage["completion_tokens"] <= MAX_TOKENS
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_chat_stream_ends_with_done(real_server: RealServer) -> None:
    with (
        httpx.Client(timeout=TIMEOUT, trust_env=False) as client,
        client.stream(
            "POST",
            f"{real_server.base_url}/chat/completions",
            json=_body(real_server, [_text_part("Say hi")], stream=True),
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        payloads = [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]
    assert payloads, "no data: lines"
    assert payloads[-1] == "[DONE]"
    chunks = [json.loads(payload) for payload in payloads[:-1]]
    assert chunks, "no chunk before [DONE]"
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"].get("role") == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] in {"stop", "length"}
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    assert isinstance(text, str)


@pytest.mark.parametrize("kind", sorted(IMAGES))
def test_vision_data_url_adds_image_tokens(real_server: RealServer, kind: str) -> None:
    mime, b64, magic = IMAGES[kind]
    assert base64.b64decode(b64).startswith(magic)
    question = "What is in this picture?"
    text_only = _post(real_server, _body(real_server, [_text_part(question)]))
    assert text_only.status_code == 200, text_only.text
    with_image = _post(real_server, _body(real_server, [_text_part(question), _image_part(mime, b64)]))
    assert with_image.status_code == 200, with_image.text
    assert with_image.json()["choices"][0]["message"]["role"] == "assistant"
    assert with_image.json()["usage"]["prompt_tokens"] > text_only.json()["usage"]["prompt_tokens"]


def test_undecodable_image_is_an_error(real_server: RealServer) -> None:
    response = _post(real_server, _body(real_server, [_text_part("x"), _image_part("image/png", "!!!")]))
    assert response.status_code >= 400
    assert "error" in response.json()
