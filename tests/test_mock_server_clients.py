"""Real clients against the mock: the openai and anthropic SDKs, a stdlib urllib client, the CLI, fixtures."""

from __future__ import annotations

import base64
import json
import mimetypes
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai
import pytest

from mock_server import MockServer
from mock_server.fixtures import MOCK_API_KEY, MockServerFactory
from mock_server.samples import data_url, png_bytes

KEY = "sdk-key"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def libertai() -> Iterator[MockServer]:
    with MockServer("libertai", api_key=KEY) as server:
        yield server


@pytest.fixture
def client(libertai: MockServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=libertai.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


# ---- openai SDK ---------------------------------------------------------------------------------


def test_openai_sdk_chat(client: openai.OpenAI) -> None:
    reply = client.chat.completions.create(
        model="gemma-4-31b-it", messages=[{"role": "user", "content": "Hello!"}], max_tokens=50
    )
    assert reply.choices[0].message.content and reply.choices[0].finish_reason == "stop"
    assert (
        reply.usage is not None
        and reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    )
    assert [m.id for m in client.models.list()] == [
        "gemma-4-31b-it",
        "hermes-3-8b-tee",
        "qwen3.6-27b",
        "z-image-turbo",
    ]


def test_openai_sdk_stream(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="gemma-4-31b-it",
        messages=[{"role": "user", "content": "Count to five"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, finish, usage = [], [], None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert "".join(parts) and finish == ["stop"]
    assert usage is not None and usage.completion_tokens == len("".join(parts).split())


def test_openai_sdk_tools_round_trip(client: openai.OpenAI) -> None:
    tools: Any = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    messages: list[Any] = [{"role": "user", "content": "What's the weather in Paris?"}]
    reply = client.chat.completions.create(model="gemma-4-31b-it", messages=messages, tools=tools)
    message = reply.choices[0].message
    assert message.tool_calls and reply.choices[0].finish_reason == "tool_calls"
    call = message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    messages += [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny"},
    ]
    final = client.chat.completions.create(model="gemma-4-31b-it", messages=messages, tools=tools)
    assert final.choices[0].message.content and not final.choices[0].message.tool_calls


def test_openai_sdk_vision_and_errors(client: openai.OpenAI) -> None:
    content: Any = [
        {"type": "text", "text": "What is in this image?"},
        {"type": "image_url", "image_url": {"url": data_url(png_bytes(16, 16))}},
    ]
    reply = client.chat.completions.create(
        model="gemma-4-31b-it", messages=[{"role": "user", "content": content}]
    )
    assert reply.choices[0].message.content
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="unknown", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="gemma-4-31b-it", messages=[])
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=client.base_url, api_key="wrong", max_retries=0).models.list()


# ---- anthropic SDK ------------------------------------------------------------------------------


@pytest.fixture
def claude(libertai: MockServer) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=libertai.url, api_key=KEY, max_retries=0) as sdk:
        yield sdk


def test_anthropic_sdk_messages(claude: anthropic.Anthropic) -> None:
    reply = claude.messages.create(
        model="gemma-4-31b-it", max_tokens=256, messages=[{"role": "user", "content": "Hello!"}]
    )
    assert reply.type == "message" and reply.stop_reason == "end_turn"
    block = reply.content[0]
    assert block.type == "text" and block.text
    assert reply.usage.output_tokens == len(block.text.split())
    with pytest.raises(anthropic.NotFoundError):
        claude.messages.create(model="nope", max_tokens=5, messages=[{"role": "user", "content": "x"}])


def test_anthropic_sdk_stream_and_tools(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="gemma-4-31b-it", max_tokens=256, messages=[{"role": "user", "content": "Hello!"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text and final.content[0].type == "text" and final.content[0].text == text
    tool: Any = {
        "name": "lookup",
        "description": "d",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]},
    }
    with claude.messages.stream(
        model="gemma-4-31b-it", max_tokens=64, tools=[tool], messages=[{"role": "user", "content": "find"}]
    ) as stream:
        message = stream.get_final_message()
    assert message.stop_reason == "tool_use"
    use = message.content[0]
    assert use.type == "tool_use" and use.input == {"q": "mock"}


# ---- a stdlib client in the style of the LiquidAI seed's vlm_infer.py --------------------------


def vlm_infer(server: str, image: Path, prompt: str) -> str:
    """What seed 000's example does: urllib, image first as a data: URL, cache_prompt false."""
    mime = mimetypes.guess_type(str(image))[0] or "image/jpeg"
    encoded = base64.b64encode(image.read_bytes()).decode("ascii")
    payload = {
        "model": "local",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{encoded}"}},
                    {"type": "text", "text": prompt},
                ],
            }
        ],
        "max_tokens": 256,
        "temperature": 0.2,
        "cache_prompt": False,
    }
    request = urllib.request.Request(
        f"{server}/v1/chat/completions",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer: str = json.load(response)["choices"][0]["message"]["content"]
    return answer


def test_liquidai_stdlib_client(tmp_path: Path) -> None:
    image = tmp_path / "image.png"
    image.write_bytes(png_bytes(32, 24))
    with MockServer("liquidai") as server:
        assert vlm_infer(server.url, image, "describe this")
        (entry,) = server.journal()
        parts = entry["body"]["messages"][0]["content"]
        assert parts[0]["type"] == "image_url" and entry["body"]["cache_prompt"] is False
        # The seed's fallback MIME for unknown extensions is image/jpeg: PNG bytes under it are refused.
        odd = tmp_path / "image.bin"
        odd.write_bytes(png_bytes())
        with pytest.raises(urllib.error.HTTPError) as refused:
            vlm_infer(server.url, odd, "describe this")
        assert refused.value.code == 400


# ---- python -m mock_server ----------------------------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_cli_serves_logs_and_stops_on_sigterm() -> None:
    command = [
        sys.executable,
        "-m",
        "mock_server",
        "--profile",
        "pharia",
        "--port",
        "0",
        "--api-key-env",
        "MOCK_T_KEY",
    ]
    process = subprocess.Popen(command, env=_env(MOCK_T_KEY=KEY), stderr=subprocess.PIPE, text=True)
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "auth on" in banner and KEY not in banner, banner
        url = banner.rsplit(" ", 1)[-1].strip()
        assert url.startswith("http://127.0.0.1:")
        body = {"model": "qwen2.5-vl-32b-instruct", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 401
        ok = httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert ok.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        log = process.stderr.read()
        assert "POST /v1/chat/completions 401" in log and "POST /v1/chat/completions 200" in log
        assert KEY not in log
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--host", "0.0.0.0"], "loopback"),
        (["--api-key-env", "MOCK_UNSET_VAR_X"], "MOCK_UNSET_VAR_X"),
        (["--profile", "nonexistent"], "unknown profile"),
        (["--defect", "bogus"], "bogus"),
    ],
)
def test_cli_refuses_bad_options(arguments: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "--port", "0", *arguments],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2 and message in result.stderr, result.stderr


# ---- the pytest fixtures (loaded by the root conftest.py) ----------------------------------------


def test_mock_endpoint_defaults_to_compatible(mock_endpoint: MockServer) -> None:
    assert mock_endpoint.profile.name == "compatible" and mock_endpoint.journal() == []
    httpx.get(mock_endpoint.url + "/health")
    assert len(mock_endpoint.journal()) == 1


@pytest.mark.parametrize("mock_endpoint", ["liquidai", "openai"], indirect=True)
def test_mock_endpoint_per_profile(mock_endpoint: MockServer) -> None:
    assert mock_endpoint.journal() == []  # cleared before each test
    key = MOCK_API_KEY if mock_endpoint.profile.auth_required else None
    assert mock_endpoint.api_key == key
    body = {"model": mock_endpoint.profile.model, "messages": [{"role": "user", "content": "hi"}]}
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    assert httpx.post(mock_endpoint.route_url("chat"), json=body, headers=headers).status_code == 200


def test_factory_reuses_one_server_per_configuration(mock_server: MockServerFactory) -> None:
    first = mock_server("liquidai")
    assert mock_server("liquidai") is first
    assert mock_server("liquidai", defects=("stream_missing_done",)) is not first
    factory = MockServerFactory()
    url = factory("compatible").url
    assert httpx.get(url + "/health").status_code == 200
    factory.close()
    with pytest.raises(httpx.TransportError):
        httpx.get(url + "/health")
