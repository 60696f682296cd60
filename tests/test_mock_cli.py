"""`chatcert mock`: listing defects, refusing bad options (one line, exit 2), serving until SIGTERM/SIGINT;
and the scenario-file schema (harness/scenario) kept in step with the mock's own rules."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from chatcert.cli import main
from chatcert_data import data_dir
from mock_server.defects import DEFECTS, defects_for
from mock_server.faults import FAULTS
from mock_server.profile import load_profile
from mock_server.scenarios import SCENARIO_KEYS, Scenario, ScenarioError, load_scenario_file

REPO = Path(__file__).resolve().parents[1]
KEY = "mock-cli-key"
SCHEMA = json.loads((data_dir("schemas") / "harness" / "scenario.schema.json").read_text(encoding="utf-8"))


def listed(capsys: pytest.CaptureFixture[str], *extra: str) -> list[str]:
    assert main(["mock", "--list-defects", *extra]) == 0
    return capsys.readouterr().out.splitlines()


# ---- --list-defects ------------------------------------------------------------------------------


def test_list_defects_defaults_to_openai(capsys: pytest.CaptureFixture[str]) -> None:
    lines = listed(capsys)
    names = [line.split()[0] for line in lines]
    assert len(lines) >= 30 and names == sorted(names)
    assert names == [d.name for d in defects_for(load_profile("openai"))]
    assert "stream_missing_done" in names and "anthropic_stream_with_done" not in names
    line = lines[names.index("tool_arguments_as_object")]
    assert "[tools]" in line and "tool_arguments_are_json_string" in line and "llama.cpp#20198" in line


@pytest.mark.parametrize(
    ("profile", "present", "absent"),
    [
        ("liquidai", "bad_base64_500", "tool_arguments_as_object"),  # no tools claimed
        ("libertai", "anthropic_events_out_of_order", "logprobs_ignored"),
        ("compatible", "stream_no_blank_line", "auth_not_enforced"),  # auth not required
    ],
)
def test_list_defects_per_profile(
    capsys: pytest.CaptureFixture[str], profile: str, present: str, absent: str
) -> None:
    names = [line.split()[0] for line in listed(capsys, "--profile", profile)]
    assert present in names and absent not in names
    assert set(names) <= set(DEFECTS)


def test_list_defects_takes_a_profile_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    text = (data_dir("profiles") / "liquidai.yaml").read_text(encoding="utf-8")
    path = tmp_path / "mine.yaml"
    path.write_text(text.replace("tools: false", "tools: true"), encoding="utf-8")
    names = [line.split()[0] for line in listed(capsys, "--profile", str(path))]
    assert "tool_arguments_as_object" in names


# ---- bad options: one line on stderr, exit 2 ----------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--list-defects", "--profile", "nope"], "unknown profile 'nope'"),
        (["--profile", "nope"], "unknown profile 'nope'"),
        (["--defect", "stream_missing_done,bogus"], "unknown defect(s) 'bogus'"),
        (["--host", "0.0.0.0"], "not a loopback address"),
        (["--port", "70000"], "between 0 and 65535"),
        (["--port", "http"], "not a port number"),
        (["--fault", "nope"], "unknown fault 'nope'"),
        (
            ["--api-key-env", "CHATCERT_MOCK_CLI_UNSET"],
            "CHATCERT_MOCK_CLI_UNSET (from --api-key-env) is not set",
        ),
        (["--scenario", "/nonexistent/scenario.yaml"], "cannot read scenario file"),
        (["--scenario", "ttft_ms=-5"], "non-negative"),
        (["--unknown-option"], "unrecognized arguments"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, arguments: list[str], message: str
) -> None:
    monkeypatch.delenv("CHATCERT_MOCK_CLI_UNSET", raising=False)
    assert run_cli("mock", "--port", "0", *arguments) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def run_cli(*arguments: str) -> int | str | None:
    """main()'s exit code, also when argparse exits on its own."""
    try:
        return main(list(arguments))
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("ttft_ms: fast\n", "'fast' is not of type 'number', 'null' (at $.ttft_ms)"),
        ("scenario:\n  chunks: 3\n  colour: red\n", "'colour' was unexpected"),
        ("fault: meltdown\n", "'meltdown' is not one of"),
        ("status: 200\n", "200 is less than the minimum of 400"),
        ("- ttft_ms\n", "is not of type 'object', 'null'"),
    ],
)
def test_bad_scenario_file_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(content, encoding="utf-8")
    assert main(["mock", "--port", "0", "--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert "is invalid" in err and message in err and len(err.strip().splitlines()) == 1, err


# ---- serving: a subprocess, as a user runs it ----------------------------------------------------


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, **extra}


class Served:
    """`python -m chatcert mock ...` on a free port; `url` once its banner is out."""

    def __init__(self, *arguments: str, env: dict[str, str] | None = None) -> None:
        command = [sys.executable, "-m", "chatcert", "mock", "--port", "0", *arguments]
        self.process = subprocess.Popen(
            command, env=env or _env(), stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stderr is not None
        self.banner = self.process.stderr.readline()
        self.url = self.banner.rsplit(" ", 1)[-1].strip()

    def stop(self, sig: signal.Signals) -> tuple[int, str]:
        """Send `sig`; the exit code and the rest of stderr."""
        self.process.send_signal(sig)
        code = self.process.wait(timeout=20)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def served() -> Iterator[list[Served]]:
    started: list[Served] = []
    yield started
    for server in started:
        server.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serves_logs_one_line_per_request_and_stops_cleanly(
    served: list[Served], sig: signal.Signals
) -> None:
    server = Served("--host", "127.0.0.1", "--profile", "liquidai")
    served.append(server)
    assert "profile liquidai (auth off)" in server.banner and server.url.startswith("http://127.0.0.1:")
    body = {"model": "local", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(server.url + "/v1/chat/completions", json=body).status_code == 200
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    assert httpx.post(server.url + "/v1/chat/completions", json={"model": "local"}).status_code == 400
    code, log = server.stop(sig)
    assert code == 0
    lines = log.strip().splitlines()
    requests = [line for line in lines if " /v1/chat/completions " in line or " /health " in line]
    assert len(requests) == 3, log
    assert "POST /v1/chat/completions 200" in requests[0] and "GET /health 200" in requests[1]
    assert "POST /v1/chat/completions 400" in requests[2]
    assert lines[-1] == "mock_server: shutting down"


def test_options_reach_the_server(served: list[Served], tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"scenario": {"chunks": 3}}), encoding="utf-8")
    server = Served(
        "--profile",
        "pharia",
        "--api-key-env",
        "MOCK_CLI_KEY",
        "--scenario",
        str(scenario),
        "--defect",
        "json_wrong_content_type",
        "--quiet",
        env=_env(MOCK_CLI_KEY=KEY),
    )
    served.append(server)
    assert "auth on" in server.banner and KEY not in server.banner
    body = {"model": "qwen2.5-vl-32b-instruct", "messages": [{"role": "user", "content": "hi"}]}
    url = server.url + "/v1/chat/completions"
    assert httpx.post(url, json=body).status_code == 401
    answer = httpx.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    assert answer.json()["usage"]["completion_tokens"] == 3
    code, log = server.stop(signal.SIGTERM)
    assert code == 0 and "POST" not in log and KEY not in log  # --quiet: no request lines


def test_a_taken_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = subprocess.run(
            [sys.executable, "-m", "chatcert", "mock", "--port", port],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2, result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# ---- the scenario schema and the mock's rules agree ----------------------------------------------


def test_scenario_schema_names_every_key_and_fault() -> None:
    Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$id"] == "tag:chatcert,2026:harness/scenario"
    properties = SCHEMA["$defs"]["Scenario"]["properties"]
    assert set(properties) == set(SCENARIO_KEYS)
    assert set(properties["fault"]["enum"]) == {*FAULTS, None}


GOOD: list[Any] = [
    None,
    {},
    {"ttft_ms": 50, "itl_ms": 10.5, "jitter_ms": 0, "chunks": 32},
    {"scenario": {"fault": "stall", "stall_ms": 200}},
    {"scenario": None},
    {"status": 429, "retry_after": 2},
    {"delay_ms": None, "fault": None},
]
BAD: list[Any] = [
    [1, 2],
    "ttft_ms=50",
    {"ttft_ms": -1},
    {"ttft_ms": "50"},
    {"chunks": 2.5},
    {"chunks": True},
    {"status": 302},
    {"status": 600},
    {"fault": "explode"},
    {"colour": "red"},
    {"scenario": {"ttft_ms": 5}, "chunks": 3},
    {"scenario": [1]},
]


@pytest.mark.parametrize("content", GOOD, ids=[json.dumps(c) for c in GOOD])
def test_files_the_schema_accepts_the_mock_loads(tmp_path: Path, content: Any) -> None:
    assert Draft202012Validator(SCHEMA).is_valid(content)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    assert isinstance(load_scenario_file(path), Scenario)


@pytest.mark.parametrize("content", BAD, ids=[json.dumps(c) for c in BAD])
def test_files_the_schema_rejects_the_mock_refuses(tmp_path: Path, content: Any) -> None:
    assert not Draft202012Validator(SCHEMA).is_valid(content)
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ScenarioError, match="is invalid"):
        load_scenario_file(path)
