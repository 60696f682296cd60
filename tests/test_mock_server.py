"""The mock server over real HTTP on 127.0.0.1: routes, validation, errors, auth, streams, journal, x402."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatcert_data import data_dir
from mock_server import MockServer
from mock_server.profile import load_profile
from mock_server.samples import data_url, png_bytes

KEY = "test-key-123"
PNG = data_url(png_bytes(4, 3))
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
            "required": ["city", "days"],
        },
    },
}
TIME_TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


# ---- helpers ------------------------------------------------------------------------------------


@cache
def _registry() -> Registry[Any]:
    resources = []
    for path in sorted(data_dir("schemas").rglob("*.schema.json")):
        contents = json.loads(path.read_text(encoding="utf-8"))
        resources.append((contents["$id"], Resource.from_contents(contents, DRAFT202012)))
    return Registry().with_resources(resources)


def assert_schema(schema_id: str, instance: Any) -> None:
    """Validate against a project schema by `$id` (skips while another engineer has not written it)."""
    try:
        schema = _registry().contents(schema_id)
    except LookupError:
        pytest.skip(f"schema {schema_id} not written yet")
    errors = sorted(Draft202012Validator(schema, registry=_registry()).iter_errors(instance), key=str)
    assert not errors, f"{schema_id}: {errors[0].message} at {errors[0].json_path}"


def sse_events(text: str) -> list[tuple[str | None, str]]:
    """(event name, data) for each SSE event, in order."""
    events = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        events.append((name, "\n".join(data)))
    return events


def chunks_of(text: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON chunks of an OpenAI stream and whether it ended with [DONE] (and only there)."""
    datas = [d for _, d in sse_events(text)]
    done = bool(datas) and datas[-1] == "[DONE]"
    assert datas.count("[DONE]") == (1 if done else 0)
    return [json.loads(d) for d in datas if d != "[DONE]"], done


def user(content: Any = "Describe the weather in two words please") -> list[dict[str, Any]]:
    return [{"role": "user", "content": content}]


def chat(server: MockServer, body: dict[str, Any], **headers: str) -> httpx.Response:
    if server.api_key:
        headers.setdefault("Authorization", f"Bearer {server.api_key}")
    return httpx.post(server.route_url("chat"), json=body, headers=headers, timeout=30)


def assert_error_shape(response: httpx.Response, shape: str) -> None:
    body = response.json()
    if shape == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}, body
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
        assert_schema("tag:chatcert,2026:openai/error", body)
    elif shape == "detail":
        assert set(body) == {"detail"} and isinstance(body["detail"], str) and body["detail"], body
        assert_schema("tag:chatcert,2026:errors/detail", body)
    else:
        assert body["type"] == "error" and set(body["error"]) == {"type", "message"}, body
        assert_schema("tag:chatcert,2026:anthropic/error", body)


# ---- servers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compat() -> Iterator[MockServer]:
    with MockServer("compatible") as server:
        yield server


@pytest.fixture(scope="module")
def openai_srv() -> Iterator[MockServer]:
    with MockServer("openai", api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def libertai() -> Iterator[MockServer]:
    with MockServer("libertai", api_key=KEY) as server:
        yield server


@pytest.fixture(scope="module")
def liquid() -> Iterator[MockServer]:
    with MockServer("liquidai") as server:
        yield server


@pytest.fixture(scope="module")
def pharia() -> Iterator[MockServer]:
    with MockServer("pharia", api_key=KEY) as server:
        yield server


# ---- plain routes -------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["compatible", "openai", "libertai", "liquidai", "pharia"])
def test_every_profile_serves_health_and_its_routes(profile: str) -> None:
    with MockServer(profile, api_key=KEY) as server:
        assert httpx.get(server.url + "/health").json() == {"status": "ok"}
        for route, path in server.profile.routes.items():
            method = "GET" if route in ("models", "health", "discovery", "auth_check") else "POST"
            response = httpx.request(method, server.url + path, headers={"Authorization": f"Bearer {KEY}"})
            assert response.status_code != 404 or route == "models", (route, response.text)
            assert response.status_code < 500, (route, response.text)


def test_models_list_names_the_profile_model(openai_srv: MockServer) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    body = httpx.get(openai_srv.route_url("models"), headers=headers).json()
    assert body["object"] == "list" and [m["id"] for m in body["data"]] == ["gpt-4o-mini"]
    assert_schema("tag:chatcert,2026:openai/models-list", body)
    assert (
        httpx.get(openai_srv.route_url("models") + "/gpt-4o-mini", headers=headers).json()["id"]
        == "gpt-4o-mini"
    )
    missing = httpx.get(openai_srv.route_url("models") + "/nope", headers=headers)
    assert missing.status_code == 404
    assert_error_shape(missing, "openai")


def test_unknown_route_and_wrong_method_answer_in_the_profile_shape(
    openai_srv: MockServer, libertai: MockServer
) -> None:
    response = httpx.get(openai_srv.url + "/v2/nothing")
    assert response.status_code == 404
    assert_error_shape(response, "openai")
    response = httpx.get(libertai.url + "/v2/nothing")
    assert response.status_code == 404
    assert_error_shape(response, "detail")
    response = httpx.get(openai_srv.route_url("chat"))
    assert response.status_code == 405 and "POST" in response.headers["Allow"]
    assert_error_shape(response, "openai")


# ---- chat: non-stream ---------------------------------------------------------------------------


def test_chat_reply_is_complete_consistent_and_deterministic(openai_srv: MockServer) -> None:
    body: dict[str, Any] = {"model": "gpt-4o-mini", "messages": user(), "temperature": 0}
    first = chat(openai_srv, body)
    assert first.status_code == 200 and first.headers["content-type"] == "application/json"
    reply = first.json()
    assert_schema("tag:chatcert,2026:openai/strict/chat-response", reply)
    assert reply["object"] == "chat.completion" and reply["id"].startswith("chatcmpl-")
    assert reply["model"] == "gpt-4o-mini" and isinstance(reply["created"], int)
    assert isinstance(reply["system_fingerprint"], str)
    (choice,) = reply["choices"]
    assert choice["index"] == 0 and choice["logprobs"] is None and choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant" and message["refusal"] is None and message["content"]
    usage = reply["usage"]
    assert usage["completion_tokens"] == len(message["content"].split())
    assert usage["prompt_tokens"] == len(body["messages"][0]["content"].split())
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert chat(openai_srv, body).json()["choices"][0]["message"]["content"] == message["content"]
    other = chat(openai_srv, {**body, "messages": user("something else entirely")}).json()
    assert other["choices"][0]["message"]["content"] != message["content"]


@pytest.mark.parametrize("cap_key", ["max_tokens", "max_completion_tokens"])
def test_token_cap_cuts_the_reply_with_finish_reason_length(openai_srv: MockServer, cap_key: str) -> None:
    full = chat(openai_srv, {"model": "gpt-4o-mini", "messages": user()}).json()["choices"][0]["message"][
        "content"
    ]
    reply = chat(openai_srv, {"model": "gpt-4o-mini", "messages": user(), cap_key: 2}).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "length" and reply["usage"]["completion_tokens"] == 2
    assert full.startswith(choice["message"]["content"]) and len(choice["message"]["content"].split()) == 2


def test_n_gives_that_many_indexed_choices(compat: MockServer) -> None:
    reply = chat(compat, {"model": "default", "messages": user(), "n": 3}).json()
    assert [c["index"] for c in reply["choices"]] == [0, 1, 2]
    tokens = sum(len(c["message"]["content"].split()) for c in reply["choices"])
    assert reply["usage"]["completion_tokens"] == tokens


def test_each_image_adds_a_fixed_prompt_cost(liquid: MockServer) -> None:
    text = chat(liquid, {"model": "local", "messages": user([{"type": "text", "text": "describe this"}])})
    image = chat(
        liquid,
        {
            "model": "local",
            "messages": user(
                [{"type": "image_url", "image_url": {"url": PNG}}, {"type": "text", "text": "describe this"}]
            ),
        },
    )
    assert text.status_code == image.status_code == 200, image.text
    assert image.json()["usage"]["prompt_tokens"] > text.json()["usage"]["prompt_tokens"]


def test_logprobs_and_json_response_formats(openai_srv: MockServer) -> None:
    reply = chat(
        openai_srv, {"model": "gpt-4o-mini", "messages": user(), "logprobs": True, "top_logprobs": 2}
    ).json()
    choice = reply["choices"][0]
    entries = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in entries) == choice["message"]["content"]
    assert all(e["logprob"] <= 0 and len(e["top_logprobs"]) == 2 for e in entries)
    reply = chat(
        openai_srv, {"model": "gpt-4o-mini", "messages": user(), "response_format": {"type": "json_object"}}
    )
    assert isinstance(json.loads(reply.json()["choices"][0]["message"]["content"]), dict)
    schema = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 3}}, "required": ["n"]}
    response_format = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    reply = chat(openai_srv, {"model": "gpt-4o-mini", "messages": user(), "response_format": response_format})
    assert json.loads(reply.json()["choices"][0]["message"]["content"]) == {"n": 3}


# ---- chat: tools --------------------------------------------------------------------------------


def test_tools_give_a_tool_call_with_json_string_arguments(openai_srv: MockServer) -> None:
    reply = chat(openai_srv, {"model": "gpt-4o-mini", "messages": user(), "tools": [WEATHER_TOOL]}).json()
    assert_schema("tag:chatcert,2026:openai/strict/chat-response", reply)
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    (call,) = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "get_weather" and isinstance(call["function"]["arguments"], str)
    arguments = json.loads(call["function"]["arguments"])
    Draft202012Validator(WEATHER_TOOL["function"]["parameters"]).validate(arguments)  # type: ignore[index]


def test_tool_choice_parallelism_and_follow_up(openai_srv: MockServer) -> None:
    base = {"model": "gpt-4o-mini", "messages": user(), "tools": [WEATHER_TOOL, TIME_TOOL]}
    calls = chat(openai_srv, base).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_weather", "get_time"]
    single = chat(openai_srv, {**base, "parallel_tool_calls": False}).json()["choices"][0]["message"][
        "tool_calls"
    ]
    assert len(single) == 1
    named = {"type": "function", "function": {"name": "get_time"}}
    calls = chat(openai_srv, {**base, "tool_choice": named}).json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"]["name"] for c in calls] == ["get_time"]
    assert chat(openai_srv, {**base, "tool_choice": "none"}).json()["choices"][0]["finish_reason"] == "stop"
    follow_up = [
        *user(),
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": calls[0]["id"], "content": "12:00"},
    ]
    answer = chat(openai_srv, {**base, "messages": follow_up}).json()["choices"][0]
    assert answer["finish_reason"] == "stop" and answer["message"]["content"]


def test_tool_calls_stream_as_fragments(openai_srv: MockServer) -> None:
    body = {"model": "gpt-4o-mini", "messages": user(), "tools": [WEATHER_TOOL], "stream": True}
    chunks, done = chunks_of(chat(openai_srv, body).text)
    assert done
    fragments = [tc for c in chunks for tc in c["choices"][0]["delta"].get("tool_calls", [])]
    assert fragments[0]["id"].startswith("call_") and fragments[0]["function"]["name"] == "get_weather"
    assert all(f["index"] == 0 for f in fragments)
    arguments = "".join(f["function"].get("arguments", "") for f in fragments)
    assert json.loads(arguments)["city"]
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]] == [
        "tool_calls"
    ]


# ---- chat: streams ------------------------------------------------------------------------------


def test_stream_is_well_formed_and_matches_the_plain_reply(openai_srv: MockServer) -> None:
    body = {"model": "gpt-4o-mini", "messages": user(), "temperature": 0}
    plain = chat(openai_srv, body).json()["choices"][0]["message"]["content"]
    response = chat(openai_srv, {**body, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.text.startswith("data: ") and response.text.endswith("data: [DONE]\n\n")
    chunks, done = chunks_of(response.text)
    assert done and len({c["id"] for c in chunks}) == 1
    for chunk in chunks:
        assert_schema("tag:chatcert,2026:openai/strict/chat-chunk", chunk)
        assert chunk["object"] == "chat.completion.chunk" and "usage" not in chunk
        assert isinstance(chunk["x_mock_sent_at"], float)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert all("role" not in c["choices"][0]["delta"] for c in chunks[1:])
    finishes = [c["choices"][0]["finish_reason"] for c in chunks]
    assert finishes[-1] == "stop" and finishes.count(None) == len(finishes) - 1
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == plain
    stamps = [c["x_mock_sent_at"] for c in chunks]
    assert stamps == sorted(stamps)


def test_stream_usage_chunk_comes_last_when_asked(compat: MockServer) -> None:
    body = {"model": "default", "messages": user(), "stream": True, "stream_options": {"include_usage": True}}
    chunks, done = chunks_of(chat(compat, body).text)
    assert done
    *content, last = chunks
    assert all(c["usage"] is None for c in content)
    # content = the role chunk, one chunk per token, and the finish chunk
    assert last["choices"] == [] and last["usage"]["completion_tokens"] == len(content) - 2
    usage = last["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    for chunk in chunks:
        assert_schema("tag:chatcert,2026:openai/strict/chat-chunk", chunk)


def test_stream_with_n_finishes_each_choice_once(compat: MockServer) -> None:
    chunks, _ = chunks_of(chat(compat, {"model": "default", "messages": user(), "stream": True, "n": 2}).text)
    for index in (0, 1):
        mine = [c["choices"][0] for c in chunks if c["choices"][0]["index"] == index]
        assert mine[0]["delta"]["role"] == "assistant"
        assert sum(1 for c in mine if c["finish_reason"] is not None) == 1 and mine[-1]["finish_reason"]


def test_stream_chunk_count_follows_the_scenario(compat: MockServer) -> None:
    body = {"model": "default", "messages": user(), "stream": True}
    response = chat(compat, body, **{"X-Mock-Scenario": "ttft_ms=5; itl_ms=2; jitter_ms=1; chunks=7"})
    chunks, done = chunks_of(response.text)
    assert done and len(chunks) == 1 + 7 + 1  # role chunk, 7 content chunks, finish chunk
    assert (
        chat(compat, {**body, "stream": False}, **{"X-Mock-Scenario": "chunks=7"}).json()["usage"][
            "completion_tokens"
        ]
        == 7
    )


# ---- validation: always 4xx, never 5xx ----------------------------------------------------------

_BAD_BODIES: dict[str, Any] = {
    "missing model": {"messages": user()},
    "missing messages": {"model": "gpt-4o-mini"},
    "empty messages": {"model": "gpt-4o-mini", "messages": []},
    "messages null": {"model": "gpt-4o-mini", "messages": None},
    "messages string": {"model": "gpt-4o-mini", "messages": "hello"},
    "message number": {"model": "gpt-4o-mini", "messages": [123]},
    "message empty": {"model": "gpt-4o-mini", "messages": [{}]},
    "role number": {"model": "gpt-4o-mini", "messages": [{"role": 1, "content": "x"}]},
    "content object": {"model": "gpt-4o-mini", "messages": user({"a": 1})},
    "temperature 3": {"model": "gpt-4o-mini", "messages": user(), "temperature": 3},
    "n zero": {"model": "gpt-4o-mini", "messages": user(), "n": 0},
    "top_logprobs 21": {"model": "gpt-4o-mini", "messages": user(), "logprobs": True, "top_logprobs": 21},
    "negative max_tokens": {"model": "gpt-4o-mini", "messages": user(), "max_tokens": -1},
    "stream_options without stream": {"model": "gpt-4o-mini", "messages": user(), "stream_options": {}},
    "tool_choice without tools": {"model": "gpt-4o-mini", "messages": user(), "tool_choice": "auto"},
    "tool_choice undefined": {
        "model": "gpt-4o-mini",
        "messages": user(),
        "tools": [WEATHER_TOOL],
        "tool_choice": {"type": "function", "function": {"name": "missing"}},
    },
    "tool_choice empty": {
        "model": "gpt-4o-mini",
        "messages": user(),
        "tools": [WEATHER_TOOL],
        "tool_choice": {},
    },
    "tool without name": {"model": "gpt-4o-mini", "messages": user(), "tools": [{"type": "function"}]},
    "tool bad schema": {
        "model": "gpt-4o-mini",
        "messages": user(),
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}],
    },
    "json_schema without schema": {
        "model": "gpt-4o-mini",
        "messages": user(),
        "response_format": {"type": "json_schema", "json_schema": {"name": "x"}},
    },
    "tool message without id": {"model": "gpt-4o-mini", "messages": [{"role": "tool", "content": "x"}]},
}


def _image(url: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": user([{"type": "image_url", "image_url": url}])}


_BAD_IMAGES: dict[str, Any] = {
    "image_url bare string": _image(PNG),
    "image_url without url": _image({"detail": "low"}),
    "data URL malformed": _image({"url": "data:image/png,abc"}),
    "data URL not base64": _image({"url": "data:image/png;base64,@@@not-base64@@@"}),
    "data URL empty": _image({"url": "data:image/png;base64,"}),
    "bytes not an image": _image({"url": data_url(b"hello world, not an image")}),
    "unsupported MIME": _image({"url": data_url(png_bytes(), "image/bmp")}),
    "truncated PNG": _image({"url": data_url(png_bytes()[:20])}),
    "file URL": _image({"url": "file:///etc/passwd"}),
    "ftp URL": _image({"url": "ftp://example.com/a.png"}),
}


@pytest.mark.parametrize(
    "body", [*_BAD_BODIES.values(), *_BAD_IMAGES.values()], ids=[*_BAD_BODIES, *_BAD_IMAGES]
)
def test_invalid_requests_get_400_in_the_openai_shape(openai_srv: MockServer, body: Any) -> None:
    response = chat(openai_srv, body)
    assert response.status_code == 400, response.text
    assert_error_shape(response, "openai")
    assert chat(openai_srv, {"model": "gpt-4o-mini", "messages": user()}).status_code == 200


def test_a_mislabelled_image_is_refused_only_where_the_profile_says_labels_are_checked(
    openai_srv: MockServer,
) -> None:
    """image_mime_label absent (unknown): the bytes decide; `checked` refuses PNG bytes sent as JPEG."""
    body = _image({"url": data_url(png_bytes(), "image/jpeg")})
    assert chat(openai_srv, body).status_code == 200
    plain = load_profile("openai")
    limits = {**(plain.raw.get("limits") or {}), "image_mime_label": "checked"}
    checked = replace(plain, raw={**plain.raw, "limits": limits})
    with MockServer(checked, api_key=KEY) as strict:
        response = chat(strict, body)
    assert response.status_code == 400, response.text
    assert_error_shape(response, "openai")
    assert "image/jpeg" in response.text and "image/png" in response.text


@pytest.mark.parametrize(
    "name", ["missing model", "empty messages", "content object", "tool_choice undefined"]
)
def test_invalid_requests_get_422_in_the_detail_shape(libertai: MockServer, name: str) -> None:
    body = (
        {**_BAD_BODIES[name], "model": "gemma-4-31b-it"}
        if "model" in _BAD_BODIES[name]
        else _BAD_BODIES[name]
    )
    response = chat(libertai, body)
    assert response.status_code == 422, response.text
    assert_error_shape(response, "detail")


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 400),
        (b'"text"', "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        (b"", "application/json", 400),
        (b'{"model": "gpt-4o-mini"}', "text/plain", 415),
        (b"model=gpt-4o-mini", "application/x-www-form-urlencoded", 415),
    ],
)
def test_bodies_that_are_not_json_objects_are_rejected(
    openai_srv: MockServer, content: bytes, content_type: str, status: int
) -> None:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": content_type}
    response = httpx.post(openai_srv.route_url("chat"), content=content, headers=headers)
    assert response.status_code == status, response.text
    assert_error_shape(response, "openai")


def test_odd_but_valid_input_is_accepted(openai_srv: MockServer) -> None:
    extras = {"cache_prompt": False, "top_k": 40, "timings_per_token": True, "seed": 7}
    for content in ["nul \x00 byte", "emoji 🐈 and RTL \u202e text", ""]:
        response = chat(openai_srv, {"model": "gpt-4o-mini", "messages": user(content), **extras})
        assert response.status_code == 200, response.text
    vision = [
        {"type": "text", "text": "what is this?"},
        {"type": "image_url", "image_url": {"url": PNG, "detail": "low"}},
    ]
    assert chat(openai_srv, {"model": "gpt-4o-mini", "messages": user(vision)}).status_code == 200
    system_image = [
        {"role": "system", "content": [{"type": "image_url", "image_url": {"url": PNG}}]},
        *user(),
    ]
    assert chat(openai_srv, {"model": "gpt-4o-mini", "messages": system_image}).status_code in (200, 400)


def test_unknown_model_is_404(openai_srv: MockServer, libertai: MockServer) -> None:
    response = chat(openai_srv, {"model": "gpt-nope", "messages": user()})
    assert response.status_code == 404
    assert_error_shape(response, "openai")
    response = chat(libertai, {"model": "gpt-nope", "messages": user()})
    assert response.status_code == 404
    assert_error_shape(response, "detail")


@pytest.mark.parametrize(
    ("profile", "status"), [("liquidai", 400), ("pharia", 400), ("openai", 200), ("compatible", 200)]
)
def test_external_image_links_follow_the_profile(profile: str, status: int) -> None:
    with MockServer(profile) as server:
        body = _image({"url": "https://example.com/cat.png"})
        body["model"] = server.profile.model
        assert chat(server, body).status_code == status


def test_pharia_limits_dimensions_and_output_modalities(pharia: MockServer) -> None:
    ok = _image({"url": data_url(png_bytes(4000, 1))})
    ok["model"] = "qwen2.5-vl-32b-instruct"
    assert chat(pharia, ok).status_code == 200
    wide = {
        **ok,
        "messages": user([{"type": "image_url", "image_url": {"url": data_url(png_bytes(4001, 1))}}]),
    }
    response = chat(pharia, wide)
    assert response.status_code == 400 and "4001x1" in response.json()["error"]["message"]
    text = {"model": "qwen2.5-vl-32b-instruct", "messages": user()}
    assert chat(pharia, {**text, "modalities": ["text", "audio"]}).status_code == 400
    assert chat(pharia, {**text, "audio": {"voice": "alloy", "format": "wav"}}).status_code == 400


def test_request_size_limit_is_413(tmp_path: Path) -> None:
    profile = yaml_profile(tmp_path, "small", {"limits": {"max_request_bytes": 2000}})
    with MockServer(profile) as server:
        small = chat(server, {"model": "default", "messages": user()})
        assert small.status_code == 200
        big = chat(server, {"model": "default", "messages": user("word " * 1000)})
        assert big.status_code == 413
        assert_error_shape(big, "openai")
        chunked = httpx.post(
            server.route_url("chat"),
            content=iter([b'{"model": "default", "messages": ', b" " * 3000, b"[]}"]),
            headers={"Content-Type": "application/json"},
        )
        assert chunked.status_code == 413


def yaml_profile(folder: Path, name: str, changes: dict[str, Any]) -> Path:
    """A copy of the compatible profile with top-level keys replaced."""
    import yaml

    data = yaml.safe_load((data_dir("profiles") / "compatible.yaml").read_text())
    data.update(name=name, **changes)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


# ---- auth ---------------------------------------------------------------------------------------


def test_bearer_auth_is_enforced_when_the_profile_requires_it(openai_srv: MockServer) -> None:
    body = {"model": "gpt-4o-mini", "messages": user()}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}, {"x-api-key": KEY}):
        response = httpx.post(openai_srv.route_url("chat"), json=body, headers=headers)
        assert response.status_code == 401, headers
        assert_error_shape(response, "openai")
    assert httpx.get(openai_srv.route_url("models")).status_code == 401
    assert chat(openai_srv, body).status_code == 200


def test_auth_is_off_without_a_key_or_when_optional(compat: MockServer, liquid: MockServer) -> None:
    assert chat(compat, {"model": "default", "messages": user()}).status_code == 200
    assert chat(liquid, {"model": "local", "messages": user()}).status_code == 200
    with MockServer("compatible", api_key=KEY) as optional:
        response = httpx.post(optional.route_url("chat"), json={"model": "default", "messages": user()})
        assert response.status_code == 200
    with MockServer("openai") as keyless:
        response = httpx.post(keyless.route_url("chat"), json={"model": "gpt-4o-mini", "messages": user()})
        assert response.status_code == 200


def test_x_api_key_scheme(tmp_path: Path) -> None:
    auth = {"scheme": "x-api-key", "key_env": "K", "required": True}
    with MockServer(yaml_profile(tmp_path, "xkey", {"auth": auth}), api_key=KEY) as server:
        body = {"model": "default", "messages": user()}
        assert httpx.post(server.route_url("chat"), json=body, headers={"x-api-key": KEY}).status_code == 200
        wrong = httpx.post(server.route_url("chat"), json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert wrong.status_code == 401


def test_libertai_auth_check(libertai: MockServer) -> None:
    url = libertai.route_url("auth_check")
    assert httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}).json() == {"status": "ok"}
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = httpx.get(url, headers=headers)
        assert response.status_code == 401
        assert_error_shape(response, "detail")


# ---- scenario statuses and the x402 flow --------------------------------------------------------

_STATUSES = [400, 401, 403, 404, 413, 422, 429, 500, 503]


@pytest.mark.parametrize("status", _STATUSES)
@pytest.mark.parametrize(("server_name", "shape"), [("openai_srv", "openai"), ("libertai", "detail")])
def test_scenario_status_is_answered_in_the_profile_shape(
    request: pytest.FixtureRequest, server_name: str, shape: str, status: int
) -> None:
    server: MockServer = request.getfixturevalue(server_name)
    body = {"model": server.profile.model, "messages": user()}
    response = chat(server, body, **{"X-Mock-Scenario": f"status={status}"})
    assert response.status_code == status
    assert_error_shape(response, shape)
    if status == 429:
        assert int(response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("status", _STATUSES)
def test_scenario_status_on_messages_is_anthropic_shaped(libertai: MockServer, status: int) -> None:
    headers = {"x-api-key": KEY, "X-Mock-Scenario": f"status={status};retry_after=7"}
    body = {"model": "gemma-4-31b-it", "max_tokens": 10, "messages": user()}
    response = httpx.post(libertai.route_url("messages"), json=body, headers=headers)
    assert response.status_code == status
    assert_error_shape(response, "anthropic")
    if status == 429:
        assert response.headers["Retry-After"] == "7"


def test_x402_challenge_then_paid_resubmission(libertai: MockServer) -> None:
    body = {"model": "gemma-4-31b-it", "messages": user()}
    first = chat(libertai, body, **{"X-Mock-Scenario": "status=402"})
    assert first.status_code == 402
    challenge = first.json()
    assert challenge["x402Version"] == 1 and isinstance(challenge["error"], str)
    (offer,) = challenge["accepts"]
    expected = {
        "scheme",
        "network",
        "maxAmountRequired",
        "resource",
        "description",
        "mimeType",
        "payTo",
        "maxTimeoutSeconds",
        "asset",
    }
    assert expected <= set(offer)
    assert offer["scheme"] == "exact" and offer["resource"] == libertai.route_url("chat")
    assert (
        offer["payTo"].startswith("0x")
        and offer["asset"].startswith("0x")
        and offer["maxTimeoutSeconds"] == 60
    )
    payment = x402_payment(offer)
    paid = chat(libertai, body, **{"X-Mock-Scenario": "status=402", "X-PAYMENT": payment})
    assert paid.status_code == 200 and paid.json()["choices"][0]["message"]["content"]
    receipt = json.loads(base64.b64decode(paid.headers["X-PAYMENT-RESPONSE"]))
    assert receipt["success"] is True
    entries = libertai.journal()
    assert entries[-1]["headers"]["X-PAYMENT"] == "[REDACTED]" and payment not in json.dumps(entries)


def x402_payment(offer: dict[str, Any], **changes: Any) -> str:
    """An X-PAYMENT header as x402 v1 clients build it: base64 of a signed `exact` PaymentPayload."""
    payment: dict[str, Any] = {
        "x402Version": 1,
        "scheme": offer["scheme"],
        "network": offer["network"],
        "payload": {
            "signature": "0x" + "12" * 65,
            "authorization": {
                "from": "0x" + "34" * 20,
                "to": offer["payTo"],
                "value": offer["maxAmountRequired"],
                "validAfter": "0",
                "validBefore": "9999999999",
                "nonce": "0x" + "56" * 32,
            },
        },
    }
    payment.update(changes)
    return base64.b64encode(json.dumps(payment).encode()).decode()


_GARBAGE_PAYMENTS: dict[str, Callable[[dict[str, Any]], str]] = {
    "garbage": lambda offer: "garbage",
    "not_json": lambda offer: base64.b64encode(b"paid, honest").decode(),
    "version_2": lambda offer: x402_payment(offer, x402Version=2),
    "other_network": lambda offer: x402_payment(offer, network="base-sepolia"),
    "unsigned": lambda offer: x402_payment(offer, payload={"authorization": {}}),
    "underpaid": lambda offer: x402_payment(
        offer,
        payload={
            "signature": "0xab",
            "authorization": {
                "from": "0x1",
                "to": offer["payTo"],
                "value": "1",
                "validAfter": "0",
                "validBefore": "1",
                "nonce": "0x1",
            },
        },
    ),
}


@pytest.mark.parametrize("kind", sorted(_GARBAGE_PAYMENTS))
def test_x402_a_malformed_payment_is_challenged_again(libertai: MockServer, kind: str) -> None:
    body = {"model": "gemma-4-31b-it", "messages": user()}
    (offer,) = chat(libertai, body, **{"X-Mock-Scenario": "status=402"}).json()["accepts"]
    header = _GARBAGE_PAYMENTS[kind](offer)
    again = chat(libertai, body, **{"X-Mock-Scenario": "status=402", "X-PAYMENT": header})
    assert again.status_code == 402 and "X-PAYMENT-RESPONSE" not in again.headers
    challenge = again.json()
    assert challenge["x402Version"] == 1 and challenge["accepts"]
    # Seed 002: 'Errors return JSON of the form {"detail": "..."}'; x402 clients read `error`.
    assert challenge["detail"] == challenge["error"] and "X-PAYMENT" in challenge["error"]


def test_x402_free_routes_are_never_charged() -> None:
    # Seed 002: the key check works "without spending tokens"; /libertai/models is called with no key.
    with MockServer("libertai", api_key=KEY, scenario={"status": 402}) as server:
        auth = {"Authorization": f"Bearer {KEY}"}
        checked = httpx.get(server.route_url("auth_check"), headers=auth)
        wrong = httpx.get(server.route_url("auth_check"), headers={"Authorization": "Bearer nope"})
        hosts = httpx.get(server.route_url("discovery"))
        charged = httpx.get(server.route_url("models"), headers=auth)
    assert (checked.status_code, wrong.status_code, hosts.status_code) == (200, 401, 200)
    assert "X-PAYMENT-RESPONSE" not in checked.headers and "X-PAYMENT-RESPONSE" not in hosts.headers
    assert set(hosts.json()) >= {"hermes-3-8b-tee", "qwen3.6-27b", "z-image-turbo", "gemma-4-31b-it"}
    assert charged.status_code == 402


# ---- journal ------------------------------------------------------------------------------------


def test_journal_records_requests_with_secrets_redacted(libertai: MockServer) -> None:
    libertai.clear_journal()
    secret_query = "sk-query-secret"
    httpx.post(
        libertai.route_url("chat") + f"?api_key={secret_query}&plain=1",
        json={
            "model": "gemma-4-31b-it",
            "messages": user(
                [{"type": "image_url", "image_url": {"url": PNG}}, {"type": "text", "text": "long " * 2000}]
            ),
        },
        headers={"Authorization": f"Bearer {KEY}", "x-api-key": KEY},
    )
    httpx.get(libertai.url + "/_mock/journal")  # the mock's own routes are not journalled
    (entry,) = libertai.journal()
    assert entry["method"] == "POST" and entry["path"] == "/v1/chat/completions" and entry["status"] == 200
    assert entry["query"] == {"api_key": "[REDACTED]", "plain": "1"}
    assert (
        entry["headers"]["Authorization"] == "Bearer [REDACTED]"
        and entry["headers"]["x-api-key"] == "[REDACTED]"
    )
    assert isinstance(entry["time"], float) and entry["route"] == "chat"
    image, text = entry["body"]["messages"][0]["content"]
    assert image["image_url"]["url"] == PNG
    assert text["text"].startswith("long long") and text["text"].endswith("…[5904 more chars]")
    dumped = json.dumps(entry)
    assert KEY not in dumped and secret_query not in dumped
    over_http = httpx.get(libertai.url + "/_mock/journal").json()["requests"]
    assert over_http == libertai.journal()
    assert httpx.delete(libertai.url + "/_mock/journal").status_code == 200
    assert libertai.journal() == []


def test_journal_keeps_non_json_bodies_as_bounded_text(compat: MockServer) -> None:
    compat.clear_journal()
    httpx.post(compat.route_url("chat"), content=b"x" * 10_000, headers={"Content-Type": "text/plain"})
    httpx.get(compat.url + "/nowhere")
    first, second = compat.journal()
    assert first["status"] == 415 and first["body"].startswith("xxx") and len(first["body"]) < 2200
    assert second["status"] == 404 and second["route"] is None and second["body"] is None


# ---- load ---------------------------------------------------------------------------------------


def test_holds_256_concurrent_timed_streams(compat: MockServer) -> None:
    import asyncio

    async def one(client: httpx.AsyncClient, i: int) -> tuple[int, bool]:
        body = {"model": "default", "messages": user(f"stream number {i}"), "stream": True}
        headers = {"X-Mock-Scenario": "ttft_ms=50;itl_ms=10;chunks=10"}
        response = await client.post(compat.route_url("chat"), json=body, headers=headers)
        chunks, done = chunks_of(response.text)
        return len(chunks), done

    async def all_streams() -> list[tuple[int, bool]]:
        limits = httpx.Limits(max_connections=300)
        async with httpx.AsyncClient(limits=limits, timeout=60) as client:
            return await asyncio.gather(*(one(client, i) for i in range(256)))

    results = asyncio.run(all_streams())
    assert results == [(12, True)] * 256  # role, 10 content chunks, finish chunk
