"""The seeds' own examples, replayed against the mock, and the verdict a user of each seed expects.

Seed 000 (LiquidAI on Clustergate 2): the example request body, with and without its optional knobs;
a server that holds clients to the seed's image-first order is certified. Seed 001 (Pharia): the
aleph-alpha-client example verbatim (its host has no /v1, so it POSTs /chat/completions), the curl
example, luminous-base on /v1/complete, a 4000x4000 image. Seed 002 (LibertAI): every curl example
and model of the page, the key check, the error table's 404. The placeholders in the seeds (`"..."`
for base64, an empty image URL) are filled with a real image; nothing else is changed. Traffic goes
to 127.0.0.1 only.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from chatcert.client import Target
from chatcert.engine import Run, RunConfig, run_certification
from chatcert.images import make_png
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile
from mock_server import MockServer

KEY = "seed-example-key"


def png_data_url(width: int = 8, height: int = 8) -> str:
    return "data:image/png;base64," + base64.b64encode(make_png(width, height)).decode()


def certify(profile: str, *, defects: tuple[str, ...] = (), areas: tuple[str, ...] = ()) -> Run:
    loaded = load_profile(profile)
    key = KEY if loaded.auth_scheme != "none" else None
    with MockServer(profile, api_key=key, defects=defects) as server:
        target = Target(server.url, loaded.auth_scheme, key, verify_tls=False)
        config = RunConfig(profile=loaded, target=target, target_is_mock=True, areas=areas)
        return run_certification(config)


def outcome(run: Run, check_id: str) -> tuple[Outcome, str, str, str]:
    (result,) = [r for r in run.results if r.id == check_id]
    return result.outcome, result.level, result.source, result.reason or result.message or ""


def answer_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    content = response.json()["choices"][0]["message"]["content"]
    assert isinstance(content, str) and content
    return content


# ---- seed 000: LiquidAI ------------------------------------------------------------------------------

# The seed's "Example request body", verbatim but for the elided base64 ("data:image/png;base64,...").
SEED_000_BODY = json.loads(
    """{
"model": "local",
"messages": [
{
"role": "user",
"content": [
{
"type": "image_url",
"image_url": {
"url": "data:image/png;base64,..."
}
},
{
"type": "text",
"text": "describe this"
}
]
}
],
"max_tokens": 256,
"temperature": 0.2,
"cache_prompt": false
}"""
)


@pytest.fixture(scope="module")
def liquidai() -> Iterator[MockServer]:
    with MockServer("liquidai") as server:
        yield server


def seed_000_body(**drop: bool) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(SEED_000_BODY))
    body["messages"][0]["content"][0]["image_url"]["url"] = png_data_url()
    for key in drop:
        del body[key]
    return body


def test_seed_000_example_body_is_answered(liquidai: MockServer) -> None:
    response = httpx.post(liquidai.url + "/v1/chat/completions", json=seed_000_body())
    answer_text(response)
    assert response.json()["usage"]["completion_tokens"] <= 256


def test_seed_000_optional_knobs_are_optional(liquidai: MockServer) -> None:
    # "max_tokens and temperature are optional parameters used by the example".
    answer_text(httpx.post(liquidai.url + "/v1/chat/completions", json=seed_000_body(max_tokens=True)))
    answer_text(httpx.post(liquidai.url + "/v1/chat/completions", json=seed_000_body(temperature=True)))


def test_seed_000_the_model_is_local(liquidai: MockServer) -> None:
    # "model: set to local in the example": the only name the seed documents; the preflight agrees.
    other = seed_000_body()
    other["model"] = "lfm2-vl"
    assert httpx.post(liquidai.url + "/v1/chat/completions", json=other).status_code == 404


def test_seed_000_a_png_labelled_jpeg_is_decoded(liquidai: MockServer) -> None:
    # The seed's script falls back to image/jpeg for a file name it cannot guess; the seed never says the
    # server refuses the label, so the liquidai mock reads the bytes (profile: image_mime_label unknown).
    body = seed_000_body()
    body["messages"][0]["content"][0]["image_url"]["url"] = png_data_url().replace("image/png", "image/jpeg")
    answer_text(httpx.post(liquidai.url + "/v1/chat/completions", json=body))


def test_seed_000_a_server_enforcing_image_first_is_certified() -> None:
    # "The image should come before the text in the content array": refusing text first is no defect.
    run = certify("liquidai", defects=("text_before_image_rejected",), areas=("vision",))
    state, _, _, reason = outcome(run, "vision_text_first_accepted")
    assert state is Outcome.SKIPPED and "image_first_required" in reason
    failed = [r.id for r in run.results if r.outcome in (Outcome.FAILED, Outcome.ERRORED)]
    assert failed == []
    assert outcome(run, "vision_png_data_url_accepted")[0] is Outcome.PASSED


def test_seed_000_text_first_still_matters_where_the_profile_allows_it() -> None:
    run = certify("compatible", defects=("text_before_image_rejected",), areas=("vision",))
    assert outcome(run, "vision_text_first_accepted")[0] is Outcome.FAILED
    assert run.exit_code == 1


# ---- seed 001: Pharia -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pharia() -> Iterator[MockServer]:
    with MockServer("pharia", api_key=KEY) as server:
        yield server


def test_seed_001_aleph_alpha_client_example_verbatim(
    pharia: MockServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("aleph_alpha_client", reason="aleph-alpha-client is not installed")
    image = pytest.importorskip("PIL.Image", reason="aleph-alpha-client sends images as Pillow images")
    # The seed's files/cat.jpg, and its host with the mock's origin in place of inference-api...
    (tmp_path / "files").mkdir()
    image.new("RGB", (64, 48), (20, 20, 20)).save(tmp_path / "files" / "cat.jpg", format="JPEG")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PHARIA_TOKEN", KEY)
    pharia.clear_journal()

    # -- the seed's code, unchanged but for host= --
    from aleph_alpha_client.aleph_alpha_client import Client
    from aleph_alpha_client.chat import ChatRequest, Message, Role
    from PIL import Image as PILImage

    client = Client(
        host=pharia.url,
        token=os.environ["PHARIA_TOKEN"],
    )
    # example vision model
    model = "qwen2.5-vl-32b-instruct"
    messages = [
        Message(role=Role.System, content="You are a helpful assistant."),
        Message(
            role=Role.User,
            content=[
                "Describe the following image. Answer in 20 words or less.",
                PILImage.open("files/cat.jpg"),
            ],
        ),
    ]
    chat_request = ChatRequest(model=model, messages=messages)
    response = client.chat(request=chat_request, model=model)
    content = response.message.content
    # -- end of the seed's code; its `assert " cat " in content` is about a real model's words --

    assert isinstance(content, str) and content.strip()
    (entry,) = pharia.journal()
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/chat/completions", 200)
    system, user = entry["body"]["messages"]
    assert system == {"role": "system", "content": "You are a helpful assistant."}
    assert [p["type"] for p in user["content"]] == ["text", "image_url"]


def test_seed_001_curl_example(pharia: MockServer) -> None:
    body = {
        "model": "qwen2.5-vl-32b-instruct",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image? Answer in 20 words or less."},
                    {"type": "image_url", "image_url": {"url": png_data_url()}},  # the seed's url is ""
                ],
            },
        ],
    }
    headers = {"Accept": "application/json", "Authorization": f"Bearer {KEY}"}
    response = httpx.post(pharia.url + "/v1/chat/completions", json=body, headers=headers)
    answer_text(response)
    reply = response.json()
    # The fields of the seed's sample response.
    assert {"id", "choices", "created", "model", "object", "usage"} <= set(reply)
    assert reply["choices"][0]["finish_reason"] == "stop" and reply["object"] == "chat.completion"


def test_seed_001_luminous_base_is_served_on_v1_complete_only(pharia: MockServer) -> None:
    # "If you want to use the luminous worker type with e.g. luminous-base you have to use the
    # /v1/complete endpoint instead."
    auth = {"Authorization": f"Bearer {KEY}"}
    complete = {"model": "luminous-base", "prompt": "An apple a day", "maximum_tokens": 16}
    response = httpx.post(pharia.url + "/v1/complete", json=complete, headers=auth)
    assert response.status_code == 200 and response.json()["completions"][0]["completion"]
    vision_on_complete = {**complete, "model": "qwen2.5-vl-32b-instruct"}
    assert httpx.post(pharia.url + "/v1/complete", json=vision_on_complete, headers=auth).status_code == 404
    luminous_chat = {"model": "luminous-base", "messages": [{"role": "user", "content": "hi"}]}
    assert (
        httpx.post(pharia.url + "/v1/chat/completions", json=luminous_chat, headers=auth).status_code == 404
    )
    listed = httpx.get(pharia.url + "/v1/models", headers=auth).json()["data"]
    assert {m["id"] for m in listed} == {"qwen2.5-vl-32b-instruct", "luminous-base"}


def test_seed_001_a_4000x4000_image_is_answered_and_a_larger_one_refused(pharia: MockServer) -> None:
    # "have a resolution of 4000x4000 pixels or smaller"; one colour: about 71 KB of base64.
    auth = {"Authorization": f"Bearer {KEY}"}

    def ask(width: int, height: int) -> httpx.Response:
        content = [{"type": "image_url", "image_url": {"url": png_data_url(width, height)}}]
        body = {"model": "qwen2.5-vl-32b-instruct", "messages": [{"role": "user", "content": content}]}
        return httpx.post(pharia.url + "/v1/chat/completions", json=body, headers=auth, timeout=60)

    answer_text(ask(4000, 4000))
    assert ask(4001, 4000).status_code == 400
    assert ask(4000, 4001).status_code == 400


def test_seed_001_certification_covers_the_sdk_path_luminous_and_the_pixel_limit() -> None:
    run = certify("pharia", areas=("pharia", "vision"))
    for check_id in ("chat_alias_route_answers", "complete_route_answers", "vision_max_dimensions_accepted"):
        state, level, source, _ = outcome(run, check_id)
        assert (state, level) == (Outcome.PASSED, "PROFILE"), check_id
        assert source.startswith("SEED-P"), check_id
    (complete,) = [r for r in run.results if r.id == "complete_route_answers"]
    assert "luminous-base" in json.dumps(complete.evidence)


def test_seed_001_a_server_without_the_sdk_path_fails_its_profile(tmp_path: Path) -> None:
    # The clean mock with a profile that lacks /chat/completions stands for a server that 404s it.
    data = dict(load_profile("pharia").raw)
    data["routes"] = {k: v for k, v in data["routes"].items() if k != "chat_alias"}
    served = tmp_path / "pharia-no-alias.yaml"
    served.write_text(yaml.safe_dump(data), encoding="utf-8")
    with MockServer(served, api_key=KEY) as server:
        run = run_certification(
            RunConfig(
                profile=load_profile("pharia"),
                target=Target(server.url, "bearer", KEY, verify_tls=False),
                target_is_mock=True,
                areas=("pharia",),
            )
        )
    state, level, _, message = outcome(run, "chat_alias_route_answers")
    assert (state, level) == (Outcome.FAILED, "PROFILE") and "200" in message
    (result,) = [r for r in run.results if r.id == "chat_alias_route_answers"]
    assert "404" in json.dumps(result.evidence)
    assert run.exit_code == 1


# ---- seed 002: LibertAI -----------------------------------------------------------------------------

SEED_002_MODELS = {"hermes-3-8b-tee", "qwen3.6-27b", "z-image-turbo", "gemma-4-31b-it"}


@pytest.fixture(scope="module")
def libertai() -> Iterator[MockServer]:
    with MockServer("libertai", api_key=KEY) as server:
        yield server


def post(server: MockServer, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}", **headers}
    return httpx.post(server.url + path, content=json.dumps(body), headers=sent, timeout=30)


def test_seed_002_basic_chat_completion(libertai: MockServer) -> None:
    body = {"model": "hermes-3-8b-tee", "messages": [{"role": "user", "content": "Hello!"}]}
    response = post(libertai, "/v1/chat/completions", body)
    answer_text(response)
    assert response.json()["model"] == "hermes-3-8b-tee"


def test_seed_002_vision(libertai: MockServer) -> None:
    # The seed's data URL is cut ("iVBORw0KGgoAAAANSUhEUgAAAAUA..."): a whole 5-pixel-wide PNG instead.
    body = {
        "model": "gemma-4-31b-it",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": png_data_url(5, 5)}},
                ],
            }
        ],
    }
    answer_text(post(libertai, "/v1/chat/completions", body))


def test_seed_002_streaming(libertai: MockServer) -> None:
    body = {
        "model": "gemma-4-31b-it",
        "stream": True,
        "messages": [{"role": "user", "content": "Count from 1 to 5, one number per line."}],
    }
    response = post(libertai, "/v1/chat/completions", body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in response.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert all(json.loads(line[6:])["object"] == "chat.completion.chunk" for line in lines[:-1])


def test_seed_002_tool_calling_with_the_openai_sdk(libertai: MockServer) -> None:
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=libertai.url + "/v1", api_key=KEY, max_retries=0)
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the current weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    resp = client.chat.completions.create(
        model="gemma-4-31b-it",
        messages=[{"role": "user", "content": "What's the weather in Paris?"}],
        tools=tools,
    )
    tool_call = resp.choices[0].message.tool_calls[0]
    assert tool_call.function.name == "get_weather"
    assert isinstance(json.loads(tool_call.function.arguments), dict)


def test_seed_002_anthropic_messages(libertai: MockServer) -> None:
    body = {"model": "gemma-4-31b-it", "max_tokens": 256, "messages": [{"role": "user", "content": "Hello!"}]}
    response = post(libertai, "/v1/messages", body, **{"anthropic-version": "2023-06-01"})
    assert response.status_code == 200 and response.json()["content"][0]["text"]


def test_seed_002_discovery_lists_the_seeds_models_and_each_host_answers(libertai: MockServer) -> None:
    hosts = httpx.get(libertai.url + "/libertai/models")  # the seed's curl sends no key
    assert hosts.status_code == 200 and set(hosts.json()) == SEED_002_MODELS
    for model, entry in hosts.json().items():
        (server,) = entry["servers"]
        body = {"model": model, "messages": [{"role": "user", "content": "Hello!"}]}
        sent = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
        response = httpx.post(server + "/v1/chat/completions", content=json.dumps(body), headers=sent)
        answer_text(response)
    listed = httpx.get(libertai.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
    assert {m["id"] for m in listed.json()["data"]} == SEED_002_MODELS


def test_seed_002_key_check(libertai: MockServer) -> None:
    # "returns 200 OK if your key is valid, 401 Unauthorized otherwise".
    url = libertai.url + "/libertai/auth/check"
    assert httpx.get(url, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    wrong = httpx.get(url, headers={"Authorization": "Bearer YOUR_API_KEY"})
    assert wrong.status_code == 401 and isinstance(wrong.json()["detail"], str)
    assert httpx.get(url).status_code == 401


def test_seed_002_unknown_model_is_404_with_a_detail_body(libertai: MockServer) -> None:
    body = {"model": "no-such-model", "messages": [{"role": "user", "content": "Hello!"}]}
    response = post(libertai, "/v1/chat/completions", body)
    assert response.status_code == 404 and isinstance(response.json()["detail"], str)


def test_seed_002_certification_judges_the_key_check_and_the_error_table() -> None:
    run = certify("libertai", areas=("discovery", "errors"))
    state, level, source, _ = outcome(run, "unknown_model_is_404")
    assert (state, level) == (Outcome.PASSED, "PROFILE") and "404 Unknown model" in source
    assert outcome(run, "auth_check_rejects_wrong_key")[:2] == (Outcome.PASSED, "PROFILE")


def test_seed_002_a_422_for_an_unknown_model_fails_libertai() -> None:
    # The seed's error table documents 404: a 422 is a broken promise there, not a warning.
    run = certify("libertai", defects=("unknown_model_not_404",), areas=("errors",))
    state, level, _, _ = outcome(run, "unknown_model_is_404")
    assert (state, level) == (Outcome.FAILED, "PROFILE")
    assert run.exit_code == 1


def test_seed_002_elsewhere_an_unknown_model_422_stays_a_warning() -> None:
    run = certify("compatible", defects=("unknown_model_not_404",), areas=("errors",))
    state, level, source, _ = outcome(run, "unknown_model_is_404")
    assert (state, level) == (Outcome.NON_STRICT, "SHOULD") and not source.startswith("SEED-B error")


def test_seed_002_an_auth_check_that_accepts_a_wrong_key_fails() -> None:
    run = certify("libertai", defects=("auth_check_accepts_any_key",), areas=("discovery",))
    assert outcome(run, "auth_check_rejects_wrong_key")[:2] == (Outcome.FAILED, "PROFILE")


def test_seed_002_the_chat_probe_body_is_replayable_as_the_seeds_curl(libertai: MockServer) -> None:
    # The seed's curl for a direct host call, byte for byte the JSON it sends.
    raw = b"""{
    "model": "hermes-3-8b-tee",
    "messages": [
      { "role": "user", "content": "Hello!" }
    ]
  }"""
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    answer_text(httpx.post(libertai.url + "/v1/chat/completions", content=raw, headers=sent))


def test_the_4000x4000_probe_image_is_small_on_the_wire() -> None:
    # vision_max_dimensions_accepted is no costly probe: one colour compresses to about 53 KB.
    assert len(make_png(4000, 4000)) < 100_000


def test_profile_check_levels_name_registered_checks_with_a_seed_source() -> None:
    from chatcert.profiles import builtin_profiles
    from chatcert.registry import get_check

    for name in builtin_profiles():
        profile = load_profile(name)
        for check_id, entry in (profile.raw.get("check_levels") or {}).items():
            judged = get_check(check_id).for_profile(profile)
            assert (judged.level.value, judged.source) == (entry["level"], entry["source"]), name
            assert entry["source"].startswith("SEED-"), f"{name}: {check_id} needs the seed line"
    # Elsewhere the registered level and source stand.
    assert get_check("unknown_model_is_404").for_profile(load_profile("openai")).level.value == "SHOULD"


# ---- the seeds' curl commands, run by curl itself -----------------------------------------------------

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
needs_curl = pytest.mark.skipif(
    shutil.which("curl") is None or not SEEDS.is_dir(), reason="needs curl and the seeds folder"
)


def seed_curls(seed: str) -> list[str]:
    """Every `curl ...` command of a seed file, as written (continuation lines and quoted bodies joined)."""
    (path,) = sorted(SEEDS.glob(f"{seed}_*"))
    commands: list[str] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith("curl "):
            i += 1
            continue
        block = [lines[i]]
        while block[-1].endswith("\\") or not _balanced("\n".join(block)):
            i += 1
            block.append(lines[i])
        commands.append("\n".join(block))
        i += 1
    return commands


def _balanced(text: str) -> bool:
    try:
        shlex.split(text.replace("\\\n", " "))
    except ValueError:
        return False
    return True


def run_curl(command: str, cwd: Path, *, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run a seed's curl command through bash, quiet, with a deadline; returns (HTTP status, body)."""
    # -s and a deadline go right after `curl`; -w appends the status on a line of its own.
    command = command.replace("curl ", "curl -s --max-time 30 -w '\\n%{http_code}' ", 1)
    if " | jq" in command:
        # `curl ... | jq` (seed 001): jq would swallow the status line; keep the status through a file.
        command = command.replace(" | jq", " > out.txt; tail -n1 out.txt > code.txt; head -n -1 out.txt | jq")
        command += "; cat code.txt"
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, env=env, cwd=cwd, check=False
    )
    assert done.returncode == 0, done.stderr
    body, _, code = done.stdout.rstrip("\n").rpartition("\n")
    return int(code), body


@needs_curl
def test_seed_002_every_curl_example_as_written(libertai: MockServer, tmp_path: Path) -> None:
    png5 = base64.b64encode(make_png(5, 5)).decode()
    assert png5.startswith("iVBORw0KGgoAAAANSUhEUgAAAAUA")  # the seed's cut data URL is a 5-px-wide PNG
    answers = []
    for command in seed_curls("002"):
        command = (
            command.replace("https://api.libertai.io", libertai.url)
            .replace("https://hermes-3-8b-2.tee.models.libertai.io", libertai.url)  # the map points here
            .replace("iVBORw0KGgoAAAANSUhEUgAAAAUA...", png5)
        )
        keyed = command.replace("YOUR_API_KEY", KEY)
        answers.append((command, *run_curl(keyed, tmp_path)))
    paths = [c.split("\n")[0] for c, _, _ in answers]
    assert len(answers) == 7, paths  # chat, vision, stream, messages, models map, direct host, key check
    for command, status, body in answers:
        assert status == 200, (command, body)
        if '"stream": true' in command:
            assert body.rstrip().endswith("data: [DONE]")
        elif "/v1/messages" in command:
            assert json.loads(body)["content"][0]["text"]
        elif "/v1/chat/completions" in command:
            assert json.loads(body)["choices"][0]["message"]["content"]
        elif "/libertai/models" in command:
            assert set(json.loads(body)) == SEED_002_MODELS
        else:
            assert "/libertai/auth/check" in command and "HTTP/1.1 200" in body  # curl -i: headers too
    # The same key check with the seed's placeholder left in: a wrong key, answered 401 as documented.
    (check,) = [c for c, _, _ in answers if "/libertai/auth/check" in c]
    status, body = run_curl(check, tmp_path)
    assert status == 401 and '"detail"' in body


@needs_curl
def test_seed_001_curl_example_as_written(pharia: MockServer, tmp_path: Path) -> None:
    (command,) = seed_curls("001")
    assert command.startswith("curl -L ") and command.endswith("| jq")
    command = command.replace("https://inference-api.pharia.example.com", pharia.url).replace(
        '"url": ""',
        f'"url": "{png_data_url()}"',  # the seed leaves the image out
    )
    status, body = run_curl(command, tmp_path, env={**os.environ, "PHARIA_TOKEN": KEY})
    assert status == 200
    reply = json.loads(body)
    assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["content"]
