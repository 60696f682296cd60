"""`certify --fuzz` against the mock and a misbehaving stand-in: findings, shrinking, budget, files."""

from __future__ import annotations

import copy
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st
from pytest_httpserver import HTTPServer
from werkzeug.wrappers import Request, Response

import chatcert.checks.fuzz  # noqa: F401  (registers the fuzz area until chatcert.checks imports it)
from chatcert._models import Exchange
from chatcert._schemas import schema_errors
from chatcert.budget import Budget, BudgetExhausted
from chatcert.cli import main
from chatcert.client import Target
from chatcert.engine import RunConfig, run_certification, run_check, start_run
from chatcert.fuzz.search import Failure, SearchConfig, run_search
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile
from chatcert.registry import get_check
from mock_server.defects import DEFECTS
from mock_server.fixtures import MockServerFactory
from mock_server.runner import MockServer

KEY = "chatcert-fuzz-secret-key-0123456789"
FUZZ_CHECKS = {
    "fuzz_valid_payloads_accepted",
    "fuzz_valid_payload_answers_conform",
    "fuzz_invalid_payloads_rejected",
    "fuzz_lenient_payloads_rejected",
    "fuzz_server_survives_invalid_payloads",
}
# (status, JSON body) to answer instead of the mock; bytes to forward instead of the request body.
Hook = Callable[[Any], "tuple[int, Any] | bytes | None"]


class StandIn:
    """A proxy in front of a mock that misbehaves for one class of payload (a bug the judge must find)."""

    def __init__(self, upstream: MockServer, hook: Hook) -> None:
        self.upstream = upstream
        self.hook = hook
        self.server = HTTPServer(host="127.0.0.1", port=0)
        self.http = httpx.Client(base_url=upstream.url, timeout=30)
        self.seen = 0

    def __enter__(self) -> StandIn:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.clear()
        self.server.stop()
        self.http.close()

    @property
    def url(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def _handle(self, request: Request) -> Response:
        self.seen += 1
        raw = request.get_data()
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        decision = self.hook(body)
        if isinstance(decision, tuple):
            status, doc = decision
            return Response(json.dumps(doc), status=status, content_type="application/json")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        answer = self.http.request(request.method, request.path, content=decision or raw, headers=headers)
        return Response(
            answer.content, status=answer.status_code, content_type=answer.headers.get("content-type")
        )


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "server_error", "param": None, "code": None}}


def crash_on_empty_messages(body: Any) -> tuple[int, Any] | None:
    if isinstance(body, dict) and body.get("messages") == []:
        return 500, _error("list index out of range")
    return None


def crash_without_messages(body: Any) -> tuple[int, Any] | None:
    """A crash for a broad class: messages missing, empty or not a list."""
    if isinstance(body, dict) and not (isinstance(body.get("messages"), list) and body["messages"]):
        return 500, _error("KeyError: 'messages'")
    return None


def clamp_sampling(body: Any) -> bytes | None:
    """Out-of-range temperature/top_p/penalties are clamped silently (the request is then accepted)."""
    if not isinstance(body, dict):
        return None
    ranges = {
        "temperature": (0, 2),
        "top_p": (0, 1),
        "presence_penalty": (-2, 2),
        "frequency_penalty": (-2, 2),
    }
    changed = False
    for key, (low, high) in ranges.items():
        value = body.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            body[key] = min(max(value, low), high)
            changed = True
    return json.dumps(body).encode() if changed else None


@pytest.fixture
def openai_mock(mock_server: MockServerFactory, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    monkeypatch.setenv("CHATCERT_FUZZ_TEST_KEY", KEY)
    server = mock_server("openai", api_key=KEY)
    server.clear_journal()
    return server


def certify(report: Path, *argv: str) -> tuple[int, dict[str, Any]]:
    # Paid profiles (openai, ...) need a spending decision on an --endpoint: unlimited unless the test caps.
    limited = any(a in argv for a in ("--max-requests", "--max-tokens"))
    spend = ["--no-budget"] if "--endpoint" in argv and not limited else []
    code = main(["certify", "--fuzz", "--report-dir", str(report), "-q", *spend, *argv])
    return code, json.loads((report / "results.json").read_text())


def fuzz_results(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in doc["results"] if r["area"] == "fuzz"}


def replay_files(report: Path) -> list[Path]:
    return sorted((report / "failures").glob("*.json"))


# -- the mock passes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["openai", "compatible", "liquidai", "pharia", "libertai"])
def test_mock_passes_a_short_fuzz_run(profile: str, tmp_path: Path) -> None:
    code, doc = certify(
        tmp_path, "--profile", profile, "--area", "fuzz", "--max-examples", "10", "--seed", "3"
    )
    results = fuzz_results(doc)
    assert set(results) == FUZZ_CHECKS
    assert code == 0, [(r["id"], r["message"]) for r in results.values() if r["outcome"] != "passed"]
    assert all(r["outcome"] == "passed" for r in results.values())
    # Ten valid and ten invalid payloads at least, plus the valid follow-up.
    assert doc["budget"]["requests_sent"] >= 21
    assert not (tmp_path / "failures").exists() or replay_files(tmp_path) == []


def test_fuzz_checks_are_disabled_without_fuzz(tmp_path: Path) -> None:
    code = main(["certify", "--area", "fuzz", "--report-dir", str(tmp_path), "-q"])
    doc = json.loads((tmp_path / "results.json").read_text())
    assert code == 0
    assert {r["outcome"] for r in fuzz_results(doc).values()} == {"disabled"}
    assert doc["budget"]["requests_sent"] == 0


def test_fixed_seed_sends_the_same_payloads(mock_server: MockServerFactory, tmp_path: Path) -> None:
    server = mock_server("compatible")
    bodies = []
    for run in ("a", "b"):
        server.clear_journal()
        certify(
            tmp_path / run, "--endpoint", server.url, "--area", "fuzz", "--max-examples", "8", "--seed", "11"
        )
        bodies.append([json.dumps(e["body"], sort_keys=True) for e in server.journal()])
    assert bodies[0] == bodies[1] and len(bodies[0]) >= 17


# -- defects are found and shrunk ---------------------------------------------------------------------


def test_server_error_on_empty_messages_is_found_and_shrunk(openai_mock: MockServer, tmp_path: Path) -> None:
    with StandIn(openai_mock, crash_on_empty_messages) as stand_in:
        code, doc = certify(
            tmp_path,
            "--endpoint",
            stand_in.url,
            "--profile",
            "openai",
            "--api-key-env",
            "CHATCERT_FUZZ_TEST_KEY",
            "--check",
            "fuzz_invalid_payloads_rejected",
            "--check",
            "fuzz_server_survives_invalid_payloads",
            "--max-examples",
            "100",
            "--seed",
            "1",
        )
    results = fuzz_results(doc)
    failed = results["fuzz_invalid_payloads_rejected"]
    assert code == 1 and failed["outcome"] == "failed"
    assert {r["outcome"] for i, r in results.items() if i != failed["id"]} == {"passed"}
    assert '"messages":[]' in failed["message"] and "500" in failed["actual"]
    files = [p for p in replay_files(tmp_path) if p.name.startswith("fuzz_invalid_payloads_rejected-")]
    assert files and files[0].name == "fuzz_invalid_payloads_rejected-1.json"
    saved = json.loads(files[0].read_text())
    assert schema_errors("harness/replay", saved) == []
    body = saved["request"]["body"]["json"]
    # Shrunk: nothing but what the request needs, and the smallest max_tokens.
    assert body == {"model": "gpt-4o-mini", "messages": [], "max_tokens": 1} or (
        body["messages"] == [] and set(body) <= {"model", "messages", "max_tokens"}
    )
    assert saved["expected"]["property"] == "rejected" and saved["expected"]["rule"] == "REQ2"
    assert saved["observed"] == {**saved["observed"], "status": 500, "kind": "server_error"}
    assert saved["request"]["headers"]["Authorization"] == "Bearer [REDACTED]"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(errors="replace"), path


def test_accepted_out_of_range_values_are_found_as_should(openai_mock: MockServer, tmp_path: Path) -> None:
    with StandIn(openai_mock, clamp_sampling) as stand_in:
        code, doc = certify(
            tmp_path,
            "--endpoint",
            stand_in.url,
            "--profile",
            "openai",
            "--api-key-env",
            "CHATCERT_FUZZ_TEST_KEY",
            "--check",
            "fuzz_lenient_payloads_rejected",
            "--check",
            "fuzz_invalid_payloads_rejected",
            "--max-examples",
            "100",
            "--seed",
            "1",
        )
    results = fuzz_results(doc)
    lenient = results["fuzz_lenient_payloads_rejected"]
    assert lenient["outcome"] == "non_strict", lenient  # a SHOULD: reported, not blocking
    assert results["fuzz_invalid_payloads_rejected"]["outcome"] == "passed"
    assert code == 0
    saved = json.loads((tmp_path / "failures" / "fuzz_lenient_payloads_rejected-1.json").read_text())
    body = saved["request"]["body"]["json"]
    kind = saved["expected"]["kind"]
    assert kind.startswith(("out-of-range:", "corpus:")) and saved["observed"]["kind"] == "accepted"
    if kind.startswith("out-of-range:"):
        field = kind.split(":")[1]
        assert set(body) == {"model", "messages", "max_tokens", field}
        assert body["messages"] == [{"role": "user", "content": "0"}]


def test_server_that_dies_after_an_invalid_payload_fails_survival(
    mock_server: MockServerFactory, tmp_path: Path
) -> None:
    poisoned: list[bool] = []

    def die(body: Any) -> tuple[int, Any] | None:
        if poisoned or crash_without_messages(body):
            poisoned.append(True)
            return (500 if len(poisoned) == 1 else 503), _error("worker died")
        return None

    with StandIn(mock_server("compatible"), die) as stand_in:
        code, doc = certify(
            tmp_path,
            "--endpoint",
            stand_in.url,
            "--check",
            "fuzz_server_survives_invalid_payloads",
            "--max-examples",
            "30",
            "--seed",
            "1",
        )
    survive = fuzz_results(doc)["fuzz_server_survives_invalid_payloads"]
    assert code == 1 and survive["outcome"] == "failed"
    assert "503" in survive["actual"]
    saved = json.loads((tmp_path / "failures" / "fuzz_server_survives_invalid_payloads-1.json").read_text())
    assert saved["expected"]["property"] == "survives" and saved["expected"]["rule"] == "REQ10"
    assert crash_without_messages(saved["request"]["body"]["json"])


@pytest.mark.parametrize(
    ("defect", "check_id", "outcome"),
    [
        ("empty_messages_500", "fuzz_invalid_payloads_rejected", "failed"),
        ("sampling_params_clamped", "fuzz_lenient_payloads_rejected", "non_strict"),
    ],
)
def test_mock_defects_are_found(
    defect: str, check_id: str, outcome: str, mock_server: MockServerFactory, tmp_path: Path
) -> None:
    if defect not in DEFECTS:
        pytest.skip(f"the mock has no defect {defect!r} yet")
    server = mock_server("compatible", defects=(defect,))
    _, doc = certify(
        tmp_path, "--endpoint", server.url, "--check", check_id, "--max-examples", "100", "--seed", "1"
    )
    assert fuzz_results(doc)[check_id]["outcome"] == outcome
    assert (tmp_path / "failures" / f"{check_id}-1.json").is_file()


# -- budget and dry run -------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [["--area", "fuzz"], []], ids=["fuzz-area", "whole-run"])
def test_max_requests_caps_what_reaches_the_server(
    scope: list[str], mock_server: MockServerFactory, tmp_path: Path
) -> None:
    server = mock_server("compatible")
    server.clear_journal()
    code, doc = certify(tmp_path, "--endpoint", server.url, "--max-requests", "10", "--seed", "1", *scope)
    assert len(server.journal()) == doc["budget"]["requests_sent"] == 10
    results = fuzz_results(doc)
    assert {r["outcome"] for r in results.values()} == {"skipped"}
    assert all(r["reason"].startswith("budget") for r in results.values())
    # MUST fuzz checks that never ran are no pass: the certificate is incomplete, exit 1.
    assert code == 1 and doc["certificate"]["verdict"] == "incomplete"
    assert {r["id"] for r in results.values() if r["level"] == "MUST"} <= set(
        doc["certificate"]["incomplete"]["checks"]
    )


def test_budget_spent_mid_search_keeps_the_findings(openai_mock: MockServer, tmp_path: Path) -> None:
    with StandIn(openai_mock, lambda body: (500, _error("down"))) as stand_in:
        code, doc = certify(
            tmp_path,
            "--endpoint",
            stand_in.url,
            "--profile",
            "openai",
            "--api-key-env",
            "CHATCERT_FUZZ_TEST_KEY",
            "--check",
            "fuzz_invalid_payloads_rejected",
            "--max-examples",
            "100",
            "--seed",
            "1",
            "--max-requests",
            "6",
        )
        seen = stand_in.seen
    assert seen == doc["budget"]["requests_sent"] <= 6
    failed = fuzz_results(doc)["fuzz_invalid_payloads_rejected"]
    assert code == 1 and failed["outcome"] == "failed"
    assert "search stopped early: budget" in failed["message"]
    assert (tmp_path / "failures" / "fuzz_invalid_payloads_rejected-1.json").is_file()


def test_unreachable_target_is_reported_and_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, doc = certify(tmp_path, "--endpoint", "http://127.0.0.1:9", "--area", "fuzz", "--seed", "1")
    assert code == 1 and doc["stopped"] and doc["budget"]["requests_sent"] <= 3
    assert "unreachable" in capsys.readouterr().err
    results = fuzz_results(doc)
    invalid = results["fuzz_invalid_payloads_rejected"]
    assert invalid["outcome"] == "failed" and "no HTTP response" in invalid["message"]
    assert results["fuzz_valid_payloads_accepted"]["reason"].startswith("stopped")


def test_dry_run_sends_nothing(mock_server: MockServerFactory, capsys: pytest.CaptureFixture[str]) -> None:
    server = mock_server("pharia")
    server.clear_journal()
    code = main(["certify", "--endpoint", server.url, "--profile", "pharia", "--fuzz", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0 and server.journal() == []
    for check_id in FUZZ_CHECKS:
        assert check_id in out


# -- the engine's view --------------------------------------------------------------------------------


def test_probe_data_and_evidence_stay_small(mock_server: MockServerFactory) -> None:
    server = mock_server("compatible")
    config = RunConfig(
        profile=load_profile("compatible"),
        target=Target(server.url),
        target_is_mock=True,
        areas=("fuzz",),
        options={"fuzz": True, "max_examples": 15, "seed": 2, "report_dir": None},
    )
    run = run_certification(config)
    assert {r.outcome for r in run.results} == {Outcome.PASSED}
    data = run.probes["fuzz_invalid_payloads"].data
    assert data["trials"] >= 15 and data["findings"] == [] and data["follow_up"] == "answered 200"
    assert sum(data["stats"].values()) == data["trials"]
    for name in ("fuzz_valid_payloads", "fuzz_invalid_payloads"):
        assert len(run.probes[name].exchanges) <= 3
    assert run.client.budget.requests_sent >= 31


@pytest.mark.parametrize(
    ("check_id", "outcome"),
    [
        ("fuzz_valid_payload_answers_conform", Outcome.FAILED),
        ("fuzz_invalid_payloads_rejected", Outcome.FAILED),
        ("fuzz_server_survives_invalid_payloads", Outcome.FAILED),
        ("fuzz_valid_payloads_accepted", Outcome.PASSED),  # a 500 is not a refusal: the other check's
    ],
)
def test_checks_judge_the_exchanges_they_keep(
    check_id: str, outcome: Outcome, mock_server: MockServerFactory
) -> None:
    """Re-judged offline (as tests/test_check_defects.py does), edited evidence changes the verdict."""
    server = mock_server("compatible")
    config = RunConfig(
        profile=load_profile("compatible"),
        target=Target(server.url),
        target_is_mock=True,
        only=(check_id,),
        options={"fuzz": True, "max_examples": 5, "seed": 4, "report_dir": None},
    )
    run = run_certification(config)
    assert run.results[0].outcome is Outcome.PASSED
    check = get_check(check_id)
    offline = start_run(config)
    offline.probes.update({name: copy.deepcopy(run.probes[name]) for name in check.probes})
    for result in offline.probes.values():
        for exchange in result.exchanges:
            exchange.status = 500
    judged = run_check(offline, check)
    assert offline.client.requests == []
    assert judged.outcome is outcome, judged.message
    if outcome is Outcome.FAILED:
        assert "500" in judged.message and judged.reproducer.startswith("curl ")


# -- the search itself --------------------------------------------------------------------------------


def _exchange(body: bytes) -> Exchange:
    return Exchange("x", "POST", "http://x", {}, body)


def test_search_shrinks_each_failure_class_separately() -> None:
    def trial(value: tuple[int, str]) -> Failure | None:
        number, word = value
        if number > 100:
            return Failure("big", "too big", _exchange(str(number).encode()))
        if word == "bad":
            return Failure("bad", "bad word", _exchange(f"{number}{word}".encode()))
        return None

    strategy = st.tuples(st.integers(0, 200), st.sampled_from(["ok", "fine", "bad"]))
    result = run_search(strategy, trial, SearchConfig(max_examples=200, seed=5), Budget())
    assert result.failures["big"].exchange.request_body == b"101"
    assert result.failures["bad"].exchange.request_body == b"0bad"


def test_search_stops_at_the_budget_and_keeps_a_reserve() -> None:
    budget = Budget(max_requests=9)

    def trial(value: int) -> Failure | None:
        budget.reserve(0)
        return None

    result = run_search(st.integers(), trial, SearchConfig(max_examples=50), budget, reserve=2)
    assert result.budget_spent and result.trials == 7 and budget.requests_sent == 7
    assert result.stopped and result.stopped.startswith("budget")


def test_search_keeps_the_best_failure_when_the_budget_ends_shrinking() -> None:
    budget = Budget(max_requests=12)

    def trial(value: int) -> Failure | None:
        budget.reserve(0)
        return Failure("big", "too big", _exchange(str(value).encode())) if value > 1000 else None

    result = run_search(st.integers(0, 10**9), trial, SearchConfig(max_examples=50, seed=3), budget)
    assert result.budget_spent and budget.requests_sent == 12
    kept = int(result.failures["big"].exchange.request_body or b"0")
    assert kept > 1000


def test_search_turns_budget_exhaustion_into_a_stop() -> None:
    def trial(value: int) -> Failure | None:
        raise BudgetExhausted("token budget spent (5 tokens)")

    result = run_search(st.integers(), trial, SearchConfig(max_examples=5), Budget())
    assert result.budget_spent and result.trials == 1 and "token budget" in str(result.stopped)


def test_search_caps_shrinking_requests() -> None:
    def trial(value: list[int]) -> Failure | None:
        return Failure("any", "fails", _exchange(json.dumps(value).encode())) if len(value) > 3 else None

    config = SearchConfig(max_examples=5, seed=1, shrink_requests=4)
    result = run_search(st.lists(st.integers(), min_size=30, max_size=60), trial, config, Budget())
    assert result.trials <= 9 and result.stopped and "shrinking stopped" in result.stopped
    assert "any" in result.failures


def test_search_reraises_its_own_bugs() -> None:
    def trial(value: int) -> Failure | None:
        raise KeyError("a bug in the harness")

    with pytest.raises(KeyError):
        run_search(st.integers(), trial, SearchConfig(max_examples=3), Budget())


def test_settings_follow_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "1")
    assert SearchConfig().hypothesis_settings().derandomize is True
    monkeypatch.delenv("CI")
    chosen = SearchConfig(max_examples=7).hypothesis_settings()
    assert chosen.derandomize is False and chosen.max_examples == 7 and chosen.database is None
