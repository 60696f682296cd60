"""Aleph Alpha's own client (`aleph-alpha-client`) against the mock's Pharia profile, unchanged.

The openai SDK (chat, stream, tools, vision), the anthropic SDK (messages, stream) and the stdlib urllib
client of the LiquidAI seed are in tests/test_mock_server_clients.py. Version 11 of aleph-alpha-client
speaks OpenAI-style `POST {host}/chat/completions` with images as PNG data: URLs; `host` is the server's
origin, as in seed 001's example, and the pharia mock serves that path (its `chat_alias` route). Without
the package these tests skip.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from mock_server import MockServer

aleph = pytest.importorskip("aleph_alpha_client", reason="aleph-alpha-client is not installed")
chat = pytest.importorskip("aleph_alpha_client.chat", reason="this aleph-alpha-client has no chat API")
Image = pytest.importorskip("PIL.Image", reason="aleph-alpha-client sends images as Pillow images")

KEY = "aleph-sdk-key"
MODEL = "qwen2.5-vl-32b-instruct"  # the pharia profile's model


@pytest.fixture(scope="module")
def pharia() -> Iterator[MockServer]:
    with MockServer("pharia", api_key=KEY) as server:
        yield server


@pytest.fixture
def client(pharia: MockServer) -> Any:
    pharia.clear_journal()
    return aleph.Client(token=KEY, host=pharia.url, total_retries=0)


def ask(content: Any, **options: Any) -> Any:
    message = chat.Message(role=chat.Role.User, content=content)
    return chat.ChatRequest(model=MODEL, messages=[message], **options)


def test_chat_with_an_image(client: Any, pharia: MockServer) -> None:
    picture = Image.new("RGB", (32, 24), (200, 30, 30))
    reply = client.chat(ask([picture, "What is in this image?"]), model=MODEL)
    assert reply.finish_reason == chat.FinishReason.Stop
    assert reply.message.role == chat.Role.Assistant and reply.message.content.strip()
    (entry,) = pharia.journal()
    assert (entry["path"], entry["status"]) == ("/chat/completions", 200)
    assert entry["headers"]["Authorization"] == "Bearer [REDACTED]"
    image, text = entry["body"]["messages"][0]["content"]
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/png;base64,")
    assert text == {"type": "text", "text": "What is in this image?"}


def test_chat_errors_surface_as_the_client_documents(pharia: MockServer) -> None:
    wrong = aleph.Client(token="wrong-key", host=pharia.url, total_retries=0)
    with pytest.raises(PermissionError):
        wrong.chat(ask("hi"), model=MODEL)
    right = aleph.Client(token=KEY, host=pharia.url, total_retries=0)
    with pytest.raises(RuntimeError, match="404"):
        right.chat(chat.ChatRequest(model="no-such-model", messages=[chat.Message(chat.Role.User, "x")]), "x")


async def _stream(pharia: MockServer, request: Any) -> list[Any]:
    async with aleph.AsyncClient(token=KEY, host=pharia.url, total_retries=0) as client:
        return [item async for item in client.chat_with_streaming(request, model=MODEL)]


def test_streamed_chat_with_usage(pharia: MockServer) -> None:
    options = chat.StreamOptions(include_usage=True)
    items = asyncio.run(_stream(pharia, ask("Count to five", stream_options=options)))
    chunks = [i for i in items if isinstance(i, chat.ChatStreamChunk)]
    assert chunks[0].role == chat.Role.Assistant and all(c.role is None for c in chunks[1:])
    assert chat.FinishReason.Stop in items
    (usage,) = [i for i in items if isinstance(i, chat.Usage)]
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens > 0


def test_streamed_text_equals_the_plain_answer(client: Any, pharia: MockServer) -> None:
    plain = client.chat(ask("Count to five"), model=MODEL).message.content
    items = asyncio.run(_stream(pharia, ask("Count to five")))
    streamed = "".join(i.content for i in items if isinstance(i, chat.ChatStreamChunk))
    assert streamed == plain
