"""The mock's non-chat routes: legacy completions, Anthropic Messages, LibertAI discovery, Pharia extras."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert_data import data_dir
from mock_server import MockServer
from mock_server.samples import png_bytes

KEY = "routes-key"
BEARER = {"Authorization": f"Bearer {KEY}"}


def assert_schema(schema_id: str, instance: Any) -> None:
    """Validate against a project schema by `$id` (skips while it has not been written)."""
    resources = []
    for path in sorted(data_dir("schemas").rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents, DRAFT202012)))
    registry: Registry[Any] = Registry().with_resources(resources)
    try:
        schema = registry.contents(schema_id)
    except LookupError:
        pytest.skip(f"schema {schema_id} not written yet")
    errors = list(Draft202012Validator(schema, registry=registry).iter_errors(instance))
    assert not errors, f"{schema_id}: {errors[0].message} at {errors[0].json_path}"


def sse(text: str) -> list[tuple[str | None, str]]:
    events = []
    for block in filter(str.strip, text.split("\n\n")):
        lines = block.split("\n")
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), None)
        events.append((name, "\n".join(line[5:].strip() for line in lines if line.startswith("data:"))))
    return events


@pytest.fixture(scope="module")
def libertai() -> Iterator[MockServer]:
    with MockServer("libertai", api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def pharia() -> Iterator[MockServer]:
    with MockServer("pharia", api_key=KEY) as server:
        yield server


# ---- legacy completions -------------------------------------------------------------------------


def test_completions_reply(libertai: MockServer) -> None:
    body = {"model": "gemma-4-31b-it", "prompt": "Once upon a time"}
    response = httpx.post(libertai.route_url("completions"), json=body, headers=BEARER)
    assert response.status_code == 200
    reply = response.json()
    assert_schema("tag:chatcert,2026:openai/completion-response", reply)
    assert reply["object"] == "text_completion" and reply["id"].startswith("cmpl-")
    (choice,) = reply["choices"]
    assert choice["text"].startswith(" ") and choice["finish_reason"] in ("stop", "length")
    assert reply["usage"]["prompt_tokens"] == 4
    assert reply["usage"]["completion_tokens"] == len(choice["text"].split()) <= 16


def test_completions_prompt_arrays_n_and_cap(libertai: MockServer) -> None:
    body = {"model": "gemma-4-31b-it", "prompt": ["a b", "c"], "n": 2, "max_tokens": 1, "echo": True}
    reply = httpx.post(libertai.route_url("completions"), json=body, headers=BEARER).json()
    assert [c["index"] for c in reply["choices"]] == [0, 1, 2, 3]
    assert all(c["finish_reason"] == "length" for c in reply["choices"])
    assert reply["choices"][2]["text"].startswith("c ") and reply["usage"]["prompt_tokens"] == 3
    tokens = httpx.post(
        libertai.route_url("completions"),
        json={"model": "gemma-4-31b-it", "prompt": [1, 2, 3]},
        headers=BEARER,
    )
    assert tokens.json()["usage"]["prompt_tokens"] == 3


def test_completions_stream(libertai: MockServer) -> None:
    body = {
        "model": "gemma-4-31b-it",
        "prompt": "Hi",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response = httpx.post(libertai.route_url("completions"), json=body, headers=BEARER)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    datas = [d for _, d in sse(response.text)]
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    *content, usage = chunks
    for chunk in content:
        assert_schema("tag:chatcert,2026:openai/completion-chunk", chunk)
        assert chunk["object"] == "text_completion" and chunk["usage"] is None and "x_mock_sent_at" in chunk
    assert [c["choices"][0]["finish_reason"] is not None for c in content].count(True) == 1
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == len(content)


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "x"},
        {"model": "gemma-4-31b-it"},
        {"model": "gemma-4-31b-it", "prompt": {"a": 1}},
        {"model": "gemma-4-31b-it", "prompt": []},
        {"model": "gemma-4-31b-it", "prompt": "x", "stream_options": {}},
    ],
)
def test_completions_invalid_is_422_detail(libertai: MockServer, body: dict[str, Any]) -> None:
    response = httpx.post(libertai.route_url("completions"), json=body, headers=BEARER)
    assert response.status_code == 422 and isinstance(response.json()["detail"], str)


# ---- Anthropic Messages -------------------------------------------------------------------------


def messages(server: MockServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    headers.setdefault("x-api-key", KEY)
    headers.setdefault("anthropic-version", "2023-06-01")
    return httpx.post(server.route_url("messages"), json=body, headers=headers)


def test_messages_reply(libertai: MockServer) -> None:
    body = {
        "model": "gemma-4-31b-it",
        "max_tokens": 100,
        "system": "be brief",
        "messages": [{"role": "user", "content": "Hello there"}],
    }
    reply = messages(libertai, body).json()
    assert_schema("tag:chatcert,2026:anthropic/messages-response", reply)
    assert reply["type"] == "message" and reply["role"] == "assistant" and reply["id"].startswith("msg_")
    assert reply["stop_reason"] == "end_turn" and reply["stop_sequence"] is None
    (block,) = reply["content"]
    assert block["type"] == "text" and block["text"]
    assert reply["usage"] == {"input_tokens": 4, "output_tokens": len(block["text"].split())}
    capped = messages(libertai, {**body, "max_tokens": 1}).json()
    assert capped["stop_reason"] == "max_tokens" and capped["usage"]["output_tokens"] == 1
    assert messages(libertai, body, **{"x-api-key": "", "Authorization": f"Bearer {KEY}"}).status_code == 200


def test_messages_image_blocks(libertai: MockServer) -> None:
    def body(data: str, media_type: str = "image/png") -> dict[str, Any]:
        image = {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
        return {
            "model": "gemma-4-31b-it",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": [image, {"type": "text", "text": "what?"}]}],
        }

    good = base64.b64encode(png_bytes()).decode()
    assert messages(libertai, body(good)).status_code == 200
    # libertai's limits.image_mime_label is unknown: a PNG labelled image/jpeg is decoded, not refused.
    assert messages(libertai, body(good, "image/jpeg")).status_code == 200
    for bad in (body("!!"), body(base64.b64encode(b"text").decode())):
        response = messages(libertai, bad)
        assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"


def test_messages_tool_use_and_result(libertai: MockServer) -> None:
    tool = {
        "name": "lookup",
        "description": "d",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }
    first: dict[str, Any] = {
        "model": "gemma-4-31b-it",
        "max_tokens": 50,
        "tools": [tool],
        "messages": [{"role": "user", "content": "find it"}],
    }
    reply = messages(libertai, first).json()
    assert reply["stop_reason"] == "tool_use"
    (use,) = reply["content"]
    assert use["type"] == "tool_use" and use["id"].startswith("toolu_") and use["input"] == {"q": "mock"}
    follow = [
        *first["messages"],
        {"role": "assistant", "content": reply["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "42"}]},
    ]
    answer = messages(libertai, {**first, "messages": follow}).json()
    assert answer["stop_reason"] == "end_turn" and answer["content"][0]["type"] == "text"
    wrong = messages(libertai, {**first, "tool_choice": {"type": "tool", "name": "missing"}})
    assert wrong.status_code == 400


def test_messages_stream_uses_named_events_without_done(libertai: MockServer) -> None:
    body = {
        "model": "gemma-4-31b-it",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "Hello"}],
    }
    response = messages(libertai, body)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse(response.text)
    assert all(data != "[DONE]" for _, data in events)
    payloads = [json.loads(data) for _, data in events]
    assert [name for name, _ in events] == [p["type"] for p in payloads]
    for payload in payloads:
        assert_schema("tag:chatcert,2026:anthropic/stream-event", payload)
    kinds = [p["type"] for p in payloads]
    assert kinds[:3] == ["message_start", "ping", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    text = "".join(p["delta"]["text"] for p in payloads if p["type"] == "content_block_delta")
    assert text == messages(libertai, {**body, "stream": False}).json()["content"][0]["text"]
    assert payloads[-2]["delta"]["stop_reason"] == "end_turn"


def test_messages_tool_stream_uses_input_json_delta(libertai: MockServer) -> None:
    tool = {
        "name": "lookup",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }
    body = {
        "model": "gemma-4-31b-it",
        "max_tokens": 50,
        "stream": True,
        "tools": [tool],
        "messages": [{"role": "user", "content": "find"}],
    }
    payloads = [json.loads(d) for _, d in sse(messages(libertai, body).text)]
    start = next(p for p in payloads if p["type"] == "content_block_start")
    assert start["content_block"]["type"] == "tool_use" and start["content_block"]["input"] == {}
    partial = "".join(p["delta"]["partial_json"] for p in payloads if p["type"] == "content_block_delta")
    assert json.loads(partial) == {"q": "mock"}


@pytest.mark.parametrize(
    "body",
    [
        {"model": "gemma-4-31b-it", "messages": [{"role": "user", "content": "x"}]},
        {"max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        {"model": "gemma-4-31b-it", "max_tokens": 5},
        {"model": "gemma-4-31b-it", "max_tokens": 5, "messages": []},
        {"model": "gemma-4-31b-it", "max_tokens": 5, "messages": [{"role": "robot", "content": "x"}]},
        {
            "model": "gemma-4-31b-it",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "alien"}]}],
        },
    ],
)
def test_messages_invalid_is_anthropic_invalid_request(libertai: MockServer, body: dict[str, Any]) -> None:
    response = messages(libertai, body)
    assert response.status_code == 400
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "invalid_request_error"


def test_messages_auth_and_unknown_model(libertai: MockServer) -> None:
    body = {"model": "gemma-4-31b-it", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]}
    response = messages(libertai, body, **{"x-api-key": "wrong"})
    assert response.status_code == 401 and response.json()["error"]["type"] == "authentication_error"
    response = messages(libertai, {**body, "model": "claude-nope"})
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"


# ---- LibertAI discovery -------------------------------------------------------------------------


def test_discovery_points_at_this_server(libertai: MockServer) -> None:
    body = httpx.get(libertai.route_url("discovery")).json()
    # Seed 002's models: its examples' gemma-4-31b-it and hermes-3-8b-tee, its sample map's others.
    models = ["gemma-4-31b-it", "hermes-3-8b-tee", "qwen3.6-27b", "z-image-turbo"]
    assert body == {m: {"servers": [libertai.url]} for m in models}
    assert_schema("tag:chatcert,2026:libertai/models-map", body)
    server = body["gemma-4-31b-it"]["servers"][0]
    chat = {"model": "gemma-4-31b-it", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(server + "/v1/chat/completions", json=chat, headers=BEARER).status_code == 200


# ---- Pharia complete and transcribe -------------------------------------------------------------


def test_pharia_complete(pharia: MockServer) -> None:
    # Seed 001: "luminous worker type with e.g. luminous-base ... use the /v1/complete endpoint".
    body = {"model": "luminous-base", "prompt": "An apple a day", "maximum_tokens": 3}
    response = httpx.post(pharia.route_url("complete"), json=body, headers=BEARER)
    assert response.status_code == 200
    reply = response.json()
    (completion,) = reply["completions"]
    assert isinstance(reply["model_version"], str) and completion["finish_reason"] == "maximum_tokens"
    assert len(completion["completion"].split()) == 3
    items = {**body, "prompt": [{"type": "text", "data": "hello"}], "maximum_tokens": 100}
    done = httpx.post(pharia.route_url("complete"), json=items, headers=BEARER).json()
    assert done["completions"][0]["finish_reason"] == "end_of_text"
    for bad in (
        {"model": "luminous-base"},
        {**body, "maximum_tokens": "many"},
        {**body, "prompt": ""},
    ):
        assert httpx.post(pharia.route_url("complete"), json=bad, headers=BEARER).status_code == 400
    assert httpx.post(pharia.route_url("complete"), json=body).status_code == 401


def test_pharia_transcribe(pharia: MockServer) -> None:
    url = pharia.route_url("transcribe")
    audio = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(64)
    response = httpx.post(
        url, files={"file": ("a.wav", audio, "audio/wav")}, data={"model": "whisper"}, headers=BEARER
    )
    assert (
        response.status_code == 200 and isinstance(response.json()["text"], str) and response.json()["text"]
    )
    assert httpx.post(url, files={"other": ("a.wav", audio, "audio/wav")}, headers=BEARER).status_code == 400
    assert httpx.post(url, files={"file": ("a.wav", b"", "audio/wav")}, headers=BEARER).status_code == 400
    assert httpx.post(url, json={"file": "abc"}, headers=BEARER).status_code == 400
    assert httpx.post(url, files={"file": ("a.wav", audio, "audio/wav")}).status_code == 401
