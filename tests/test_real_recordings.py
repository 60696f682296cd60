"""Exchanges recorded from real servers, replayed offline through the checks: the verdicts they earn.

Each file under fixtures/exchanges/real/<server>/<case>.json (format: schemas/harness/recording.schema.json)
holds what a real server answered to chatcert's probes and the verdict each named check must give. The
first tests pin those verdicts (false alarms of issue 14/18 gone, real defects still named); the controls
below edit a recording or the profile to show the same check still fails where the defect is real.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from chatcert._models import Exchange
from chatcert._schemas import schema_errors
from chatcert.client import Target
from chatcert.context import ProbeResult
from chatcert.engine import RunConfig, run_check, start_run
from chatcert.outcomes import CheckResult, Outcome
from chatcert.profiles import Profile, load_profile
from chatcert.registry import get_check
from chatcert.sse import parse_sse

RECORDINGS = Path(__file__).resolve().parents[1] / "fixtures" / "exchanges" / "real"
FILES = sorted(RECORDINGS.rglob("*.json"))


def _load(name: str) -> dict[str, Any]:
    return dict(json.loads((RECORDINGS / name).read_text(encoding="utf-8")))


def _bytes(part: dict[str, Any]) -> bytes | None:
    if "body" in part:
        return json.dumps(part["body"]).encode()
    if "body_text" in part:
        return str(part["body_text"]).encode()
    return None


def exchange(doc: dict[str, Any]) -> Exchange:
    """The Exchange chatcert's client would have recorded for this request and answer."""
    request, response = doc["request"], doc["response"]
    ex = Exchange(
        label=doc["label"],
        method=request["method"],
        url=request["url"],
        request_headers=dict(request.get("headers", {})),
        request_body=_bytes(request),
        error=doc.get("error"),
        elapsed_s=float(doc.get("elapsed_s", 0.0)),
    )
    if response is not None:
        ex.status = response["status"]
        ex.headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        ex.body = _bytes(response) or b""
        ex.chunks = [(ex.elapsed_s, len(ex.body))]
        if ex.media_type == "text/event-stream" or ex.body.startswith(b"data:"):
            ex.events, ex.sse_errors = parse_sse(ex.body, ex.chunks)
    return ex


def profile_of(recording: dict[str, Any]) -> Profile:
    base = load_profile(recording["profile"])
    raw = copy.deepcopy(base.raw)
    raw.setdefault("limits", {}).update(recording.get("limits", {}))
    raw["routes"].update(recording.get("routes", {}))
    return Profile(base.name, raw, base.origin)


def replay(
    recording: dict[str, Any], check_id: str, profile: Profile | None = None, *, strict: bool = False
) -> CheckResult:
    """Judge one check over the recorded exchanges; the engine must send nothing."""
    config = RunConfig(
        profile=profile or profile_of(recording), target=Target("http://127.0.0.1:9"), strict=strict
    )
    run = start_run(config)
    run.probes.update(
        {
            name: ProbeResult(exchanges=[exchange(d) for d in docs])
            for name, docs in recording["probes"].items()
        }
    )
    result = run_check(run, get_check(check_id))
    assert run.client.requests == [], (
        f"{check_id} sent requests: the recording lacks one of {get_check(check_id).probes}"
    )
    return result


def _text(result: CheckResult) -> str:
    return " | ".join((result.message, result.reason, result.expected, result.actual)).lower()


def _cases() -> list[Any]:
    return [
        pytest.param(path, want, id=f"{path.parent.name}/{path.stem}:{want['check']}")
        for path in FILES
        for want in json.loads(path.read_text(encoding="utf-8"))["expect"]
    ]


def test_there_are_recordings() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recording_is_well_formed(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert schema_errors("harness/recording", doc) == []
    load_profile(doc["profile"])


@pytest.mark.parametrize(("path", "want"), _cases())
def test_recorded_exchange_earns_its_verdict(path: Path, want: dict[str, str]) -> None:
    recording = json.loads(path.read_text(encoding="utf-8"))
    result = replay(recording, want["check"])
    assert result.outcome.value == want["outcome"], (
        f"{want['check']}: {result.outcome.value}: {_text(result)}"
    )
    assert want.get("evidence", "").lower() in _text(result)


# -- controls: the same checks still fail where the defect is real -------------------------------------------


def test_error_body_without_message_still_fails_and_names_the_key() -> None:
    recording = _load("llama-cpp/error-integer-code-no-param.json")
    recording["probes"]["missing_messages"][0]["response"]["body"] = {"error": {"code": 400, "type": "x"}}
    for check_id in ("error_body_matches_profile_shape", "rejections_carry_error_body"):
        result = replay(recording, check_id)
        assert result.outcome is Outcome.FAILED
        assert "'message' is a required property" in result.actual


def test_error_body_in_no_shape_still_fails() -> None:
    recording = _load("vllm/error-integer-code.json")
    recording["probes"]["empty_messages"][0]["response"] = {
        "status": 400,
        "headers": {"content-type": "text/plain"},
        "body_text": "Bad Request",
    }
    result = replay(recording, "rejections_carry_error_body")
    assert result.outcome is Outcome.FAILED
    assert "no recognised shape" in result.message


def test_vllm_integer_code_is_a_must_finding_only_in_the_strict_tier() -> None:
    """Under the openai profile (strict tier) the spec's types are a MUST; the SDK-readable shape passes."""
    recording = _load("vllm/error-integer-code.json")
    openai = load_profile("openai")
    assert replay(recording, "error_body_matches_profile_shape", openai).outcome is Outcome.PASSED
    strict = replay(recording, "error_object_has_all_fields", openai)
    assert strict.outcome is Outcome.FAILED
    assert "400 is not of type" in strict.actual


def test_tool_choice_none_is_judged_once_the_server_calls_tools() -> None:
    recording = _load("llama-cpp-python/tools-no-call.json")
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
    }
    answered = recording["probes"]["tools_required"][0]["response"]["body"]
    answered["choices"][0]["message"].update(content=None, tool_calls=[call])
    answered["choices"][0]["finish_reason"] = "tool_calls"
    assert replay(recording, "tool_choice_none_calls_nothing").outcome is Outcome.PASSED
    assert replay(recording, "tool_call_finish_reason_is_tool_calls").outcome is Outcome.PASSED
    recording["probes"]["tools_none"][0]["response"]["body"]["choices"][0]["message"]["tool_calls"] = [call]
    assert replay(recording, "tool_choice_none_calls_nothing").outcome is Outcome.NON_STRICT


def test_complete_call_at_the_cap_is_not_a_cut() -> None:
    recording = _load("issue14-server/tool-call-cut-at-cap.json")
    for name in ("tools_required", "tools_named", "tools_parallel_false"):
        call = recording["probes"][name][0]["response"]["body"]["choices"][0]["message"]["tool_calls"][0]
        call["function"]["arguments"] = '{"city": "Paris"}'
    assert replay(recording, "tool_calls_finish_not_claimed_when_cut").outcome is Outcome.PASSED


def test_mime_mismatch_fails_for_a_profile_that_declares_mime_checking() -> None:
    recording = _load("llama-cpp-python/vision-mime-mismatch-decoded.json")
    recording["limits"] = {"image_mime_label": "checked"}
    result = replay(recording, "vision_mime_mismatch_rejected")
    assert result.outcome is Outcome.NON_STRICT
    assert "200" in result.actual


def test_health_404_fails_for_a_profile_that_claims_the_route() -> None:
    recording = _load("llama-cpp-python/health-404.json")
    result = replay(recording, "health_endpoint_ok", load_profile("liquidai"))
    assert result.outcome is Outcome.NON_STRICT
    assert "404" in result.actual


@pytest.mark.parametrize(
    ("body", "content_type"),
    [("", "text/plain"), ('{"status":"ok"}', "application/json"), ("OK", "text/plain")],
    ids=["vllm_empty", "llama_cpp_json", "short_text"],
)
def test_health_answers_pass(body: str, content_type: str) -> None:
    recording = _load("issue14-server/health-welcome-page.json")
    recording["probes"]["health"][0]["response"] = {
        "status": 200,
        "headers": {"content-type": content_type},
        "body_text": body,
    }
    assert replay(recording, "health_endpoint_ok").outcome is Outcome.PASSED


def test_deadline_on_a_must_check_still_fails() -> None:
    recording = _load("issue14-server/should-check-deadline.json")
    result = replay(recording, "odd_unicode_not_5xx", strict=True)
    assert result.outcome is Outcome.FAILED
    assert "no HTTP response" in result.message


def test_cap_ignored_without_a_rate_says_so_plainly() -> None:
    recording = _load("llama-cpp-python/max-completion-tokens-ignored.json")
    recording["probes"]["chat_basic"][0]["response"] = {"status": 503, "body": {"detail": "busy"}}
    result = replay(recording, "max_completion_tokens_honoured")
    assert result.outcome is Outcome.NON_STRICT
    assert result.message.startswith("cap ignored: no complete answer within 60.0s")


def test_profile_override_keeps_the_builtin_untouched() -> None:
    recording = _load("llama-cpp-python/vision-mime-mismatch-decoded.json")
    recording["limits"] = {"image_mime_label": "checked"}
    assert profile_of(recording).limit("image_mime_label") == "checked"
    assert load_profile("compatible").limit("image_mime_label") is None


def test_call_cut_at_the_cap_reported_as_length_is_right() -> None:
    recording = _load("issue14-server/tool-call-cut-at-cap.json")
    for name in ("tools_required", "tools_named", "tools_parallel_false"):
        recording["probes"][name][0]["response"]["body"]["choices"][0]["finish_reason"] = "length"
    assert replay(recording, "tool_call_finish_reason_is_tool_calls").outcome is Outcome.PASSED
    assert replay(recording, "tool_calls_finish_not_claimed_when_cut").outcome is Outcome.SKIPPED
