"""Scenarios, faults and defects of the mock server, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server import FAULTS, MockConfigError, MockServer

BODY: dict[str, Any] = {"model": "default", "messages": [{"role": "user", "content": "say something nice"}]}
STREAM: dict[str, Any] = {**BODY, "stream": True}


@pytest.fixture(scope="module")
def server() -> Iterator[MockServer]:
    with MockServer("compatible") as mock:
        yield mock


def post(server: MockServer, body: dict[str, Any], scenario: str = "", defect: str = "") -> httpx.Response:
    headers = {"X-Mock-Scenario": scenario} if scenario else {}
    if defect:
        headers["X-Mock-Defect"] = defect
    return httpx.post(server.route_url("chat"), json=body, headers=headers, timeout=30)


def data_lines(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def read_stream(server: MockServer, scenario: str) -> tuple[list[str], Exception | None]:
    """Data lines received before the stream ended or broke, and what broke it."""
    lines: list[str] = []
    headers = {"X-Mock-Scenario": scenario}
    try:
        with httpx.stream(
            "POST", server.route_url("chat"), json=STREAM, headers=headers, timeout=30
        ) as response:
            assert response.status_code == 200
            for line in response.iter_lines():
                if line.startswith("data: "):
                    lines.append(line[6:])
    except httpx.TransportError as exc:
        return lines, exc
    return lines, None


# ---- faults -------------------------------------------------------------------------------------


def test_every_fault_is_documented() -> None:
    assert set(FAULTS) == {
        "drop",
        "drop_mid_stream",
        "truncated_json",
        "malformed_json",
        "slow_headers",
        "stall",
        "midstream_error",
    }


@pytest.mark.parametrize("body", [BODY, STREAM], ids=["json", "stream"])
def test_drop_closes_before_any_header(server: MockServer, body: dict[str, Any]) -> None:
    server.clear_journal()
    with pytest.raises(httpx.TransportError):
        post(server, body, "fault=drop")
    assert post(server, body).status_code == 200  # still serving
    assert server.journal()[0]["status"] is None


def test_drop_mid_stream_cuts_after_some_chunks(server: MockServer) -> None:
    lines, error = read_stream(server, "fault=drop_mid_stream;chunks=6")
    assert isinstance(error, httpx.RemoteProtocolError | httpx.ReadError)
    assert 1 <= len(lines) < 8 and "[DONE]" not in lines
    assert all(parses(line) for line in lines)


def test_drop_mid_body_leaves_an_incomplete_json_response(server: MockServer) -> None:
    with pytest.raises(httpx.TransportError):
        post(server, BODY, "fault=drop_mid_stream")


def test_truncated_json(server: MockServer) -> None:
    response = post(server, BODY, "fault=truncated_json")
    assert response.status_code == 200 and response.text and not parses(response.text)
    lines, error = read_stream(server, "fault=truncated_json;chunks=6")
    assert error is None and "[DONE]" not in lines
    assert all(parses(line) for line in lines[:-1]) and not parses(lines[-1])


def test_malformed_json(server: MockServer) -> None:
    response = post(server, BODY, "fault=malformed_json")
    assert response.status_code == 200 and response.text.startswith("{") and not parses(response.text)
    lines, error = read_stream(server, "fault=malformed_json;chunks=6")
    assert error is None and lines[-1] == "[DONE]"
    assert [parses(line) for line in lines[:-1]].count(False) == 1


def test_midstream_error(server: MockServer) -> None:
    lines, error = read_stream(server, "fault=midstream_error;chunks=6")
    assert error is None and "[DONE]" not in lines
    *before, last = [json.loads(line) for line in lines]
    assert set(last["error"]) == {"message", "type", "param", "code"}
    assert before and all("choices" in chunk for chunk in before)
    response = post(server, BODY, "fault=midstream_error")
    assert response.status_code == 200 and "error" in response.json()


@pytest.mark.parametrize("scenario", ["fault=slow_headers;delay_ms=30", "fault=stall;stall_ms=30;itl_ms=1"])
def test_slow_headers_and_stall_still_deliver_everything(server: MockServer, scenario: str) -> None:
    plain = post(server, BODY).json()
    assert post(server, BODY, scenario).json()["choices"] == plain["choices"]
    lines, error = read_stream(server, scenario)
    assert error is None and lines[-1] == "[DONE]"
    text = "".join(json.loads(line)["choices"][0]["delta"].get("content", "") for line in lines[:-1])
    assert text == plain["choices"][0]["message"]["content"]


def test_stream_with_no_content_still_meets_its_fault(server: MockServer) -> None:
    body = {**STREAM, "max_tokens": 0}
    response = post(server, body, "fault=midstream_error")
    lines = data_lines(response.text)
    assert "error" in json.loads(lines[-1]) and "[DONE]" not in lines


# ---- scenario header ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "bogus=1",
        "ttft_ms=-5",
        "ttft_ms=abc",
        "chunks=1.5",
        "status=200",
        "status=99x",
        "fault=explode",
        "ttft_ms",
        "itl_ms=1;itl_ms=2",
        "=3",
    ],
)
def test_invalid_scenario_header_is_a_clear_400(server: MockServer, header: str) -> None:
    response = post(server, BODY, header)
    assert response.status_code == 400
    assert "X-Mock-Scenario" in response.json()["error"]["message"]


def test_scenario_applies_to_other_routes(server: MockServer) -> None:
    response = httpx.get(server.route_url("models"), headers={"X-Mock-Scenario": "status=503"})
    assert response.status_code == 503
    assert httpx.get(server.url + "/health", headers={"X-Mock-Scenario": "status=500"}).status_code == 500


def test_server_wide_fault_spares_health_and_yields_to_the_header() -> None:
    with MockServer("compatible", fault="midstream_error") as mock:
        assert httpx.get(mock.url + "/health").status_code == 200
        broken = httpx.post(mock.route_url("chat"), json=STREAM).text
        assert '"code":"midstream_error"' in broken and "[DONE]" not in broken
        response = httpx.post(mock.route_url("chat"), json=STREAM, headers={"X-Mock-Scenario": "status=429"})
        assert response.status_code == 429


def test_server_wide_scenario_file(tmp_path: Path) -> None:
    scenario = tmp_path / "slow.yaml"
    scenario.write_text("scenario:\n  status: 503\n")
    with MockServer("compatible", scenario=scenario) as mock:
        assert httpx.post(mock.route_url("chat"), json=BODY).status_code == 503
    (tmp_path / "bad.json").write_text('{"fault": "nope"}')
    with pytest.raises(MockConfigError, match="fault"):
        MockServer("compatible", scenario=tmp_path / "bad.json")
    with pytest.raises(MockConfigError, match="ttft_ms"):
        MockServer("compatible", scenario={"ttft_ms": -1})
    with MockServer("compatible", scenario="status=429;retry_after=3") as mock:
        response = httpx.post(mock.route_url("chat"), json=BODY)
        assert response.status_code == 429 and response.headers["Retry-After"] == "3"


# ---- defects ------------------------------------------------------------------------------------


def test_defect_stream_wrong_content_type(server: MockServer) -> None:
    response = post(server, STREAM, defect="stream_wrong_content_type")
    assert response.headers["content-type"] == "application/json"
    assert (
        post(server, BODY, defect="stream_wrong_content_type").headers["content-type"] == "application/json"
    )


def test_defect_stream_missing_done(server: MockServer) -> None:
    lines = data_lines(post(server, STREAM, defect="stream_missing_done").text)
    assert lines and "[DONE]" not in lines and all(parses(line) for line in lines)


def test_defect_finish_reason_empty_string(server: MockServer) -> None:
    # Declared twice (fixtures/defects/response.json): the body, and the stream for streaming profiles.
    body = post(server, BODY, defect="finish_reason_empty_string").json()
    assert body["choices"][0]["finish_reason"] == ""
    untouched = [
        json.loads(line)
        for line in data_lines(post(server, STREAM, defect="finish_reason_empty_string").text)
        if line != "[DONE]"
    ]
    assert [c["choices"][0]["finish_reason"] for c in untouched][-1] == "stop"
    chunks = [
        json.loads(line)
        for line in data_lines(post(server, STREAM, defect="stream_finish_reason_empty_string").text)
        if line != "[DONE]"
    ]
    assert [c["choices"][0]["finish_reason"] for c in chunks][-1] == ""
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    plain = post(server, BODY, defect="stream_finish_reason_empty_string").json()
    assert plain["choices"][0]["finish_reason"] == "stop"


def test_defects_combine_and_unknown_ones_are_rejected(server: MockServer) -> None:
    response = post(server, STREAM, defect="stream_missing_done, stream_wrong_content_type")
    assert response.headers["content-type"] == "application/json" and "[DONE]" not in response.text
    bad = post(server, BODY, defect="no_such_defect")
    assert bad.status_code == 400 and "no_such_defect" in bad.json()["error"]["message"]
    with pytest.raises(MockConfigError, match="no_such_defect"):
        MockServer("compatible", defects=["no_such_defect"])


def test_server_wide_defect() -> None:
    with MockServer("compatible", defects=["stream_missing_done"]) as mock:
        assert "[DONE]" not in httpx.post(mock.route_url("chat"), json=STREAM).text
