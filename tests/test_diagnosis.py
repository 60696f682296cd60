"""Root causes: each misconfiguration is named once, first, and the results it explains carry caused_by.

The run-level causes are replayed end to end through `chatcert certify` against loopback servers (the
mock, a hostile server, a small proxy); the check-level folds are judged offline on edited copies of
conformant exchanges, as tests/test_check_defects.py does.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from defects.fakes import body, chunks, each, json_edit, on, status

from chatcert._models import Exchange
from chatcert._schemas import schema_errors
from chatcert.cli import main
from chatcert.client import Target
from chatcert.context import ProbeResult
from chatcert.diagnosis import CAUSES, body_problem, diagnose
from chatcert.engine import Run, RunConfig, run_certification, run_check, start_run
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile
from chatcert.registry import all_checks, get_check
from chatcert.reporting.console import ConsoleReporter
from chatcert.sse import parse_sse
from mock_server.runner import MockServer

from evil_server import EvilServer

FAILING = ("failed", "non_strict")


def certify(argv: list[str], report: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    # Paid profiles (openai, pharia, ...) need a spending decision on an --endpoint; these runs are free.
    limited = any(a in argv for a in ("--max-requests", "--max-tokens"))
    spend = ["--no-budget"] if "--endpoint" in argv and not limited else []
    code = main(["certify", *argv, *spend, "--report-dir", str(report)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def results(report: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((report / "results.json").read_text())
    assert schema_errors("harness/results", doc) == []
    return doc


def assert_named_once_first(cause_id: str, out: str, err: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The cause is listed once in results.json, printed once before any failure, and owns dependents."""
    ids = [c["id"] for c in doc["causes"]]
    assert ids.count(cause_id) == 1, ids
    cause = next(c for c in doc["causes"] if c["id"] == cause_id)
    line = f"CAUSE {cause_id}: "
    assert out.count(line) == 1, out
    lines = out.splitlines()
    first_cause = next(i for i, text in enumerate(lines) if text.strip().startswith("CAUSE "))
    failure_marks = [
        i for i, text in enumerate(lines) if text.strip().startswith(("FAIL ", "WARN ", "ERROR "))
    ]
    assert all(i > first_cause for i in failure_marks), out
    assert not any("] FAIL" in text or "] WARN" in text for text in lines), (
        "failures printed before the cause"
    )
    # Dependents keep their outcome, carry caused_by, and are not repeated among the failures.
    dependents = [r for r in doc["results"] if r["caused_by"] == cause_id]
    assert dependents and sorted(r["id"] for r in dependents) == sorted(cause["dependents"])
    failing = [r for r in doc["results"] if r["outcome"] in FAILING]
    if failing:
        failures = out.split("\nfailures:\n", 1)[1] if "\nfailures:\n" in out else ""
        for r in dependents:
            assert f" {r['id']}\n" not in failures
    # The run fails as before: the exit code follows the root cause, once.
    assert doc["exit_code"] == 1
    assert len(err.strip().splitlines()) == 1 and cause["message"][:40] in err
    return dict(cause)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- the misconfigurations ----------------------------------------------------------------------------------


def test_unreachable_host_is_one_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    code, out, err = certify(["--endpoint", f"http://127.0.0.1:{port}"], tmp_path, capsys)
    doc = results(tmp_path)
    assert code == 1
    cause = assert_named_once_first("unreachable_host", out, err, doc)
    assert f"127.0.0.1:{port}" in cause["message"] and "unreachable" in err
    outcomes = {r["outcome"] for r in doc["results"] if r["caused_by"] == "unreachable_host"}
    # The requests that failed (at the check's level), and the checks never run.
    assert "skipped" in outcomes and outcomes & {"failed", "non_strict"}
    assert outcomes <= {"failed", "non_strict", "skipped"}
    assert "check(s) not run because of it" in out


def test_auth_required_without_a_key_names_the_key_variable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with MockServer("openai", api_key="the-right-key") as server:
        _, out, err = certify(["--endpoint", server.url, "--profile", "openai"], tmp_path, capsys)
    doc = results(tmp_path)
    cause = assert_named_once_first("auth_refused", out, err, doc)
    assert "401/403" in cause["message"] and "set OPENAI_API_KEY" in cause["message"]
    assert [c["id"] for c in doc["causes"]] == ["auth_refused"]
    assert not [r["id"] for r in doc["results"] if r["outcome"] in FAILING and not r["caused_by"]]
    # JUnit: each dependent names its cause (message and property); every suite names the cause once.
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    failures = junit.findall(".//testcase/failure")
    assert failures and all(f.get("message", "").startswith("[caused by auth_refused]") for f in failures)
    props = [p.get("value") for p in junit.findall(".//testcase/properties/property[@name='caused_by']")]
    assert len(props) == len(cause["dependents"]) and set(props) == {"auth_refused"}
    for suite in junit.findall("testsuite"):
        roots = suite.findall("properties/property[@name='root_cause']")
        assert [r.get("value", "").split(":")[0] for r in roots] == ["auth_refused"]
    # HTML: the cause above the table, dependents folded (listed, not expanded) and linked to it.
    page = (tmp_path / "report.html").read_text()
    assert page.count('id="cause-auth_refused"') == 1 and page.index("Root causes") < page.index("<table>")
    assert page.count('class="r failed folded"') == doc["summary"]["failed"]
    assert 'id="failures"' not in page  # every failure is the cause's: no second story below it


def test_a_refused_key_is_named_as_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WRONG_KEY_VAR", "not-the-key")
    with MockServer("openai", api_key="the-right-key") as server:
        argv = ["--endpoint", server.url, "--profile", "openai", "--api-key-env", "WRONG_KEY_VAR", "-q"]
        certify(argv, tmp_path, capsys)
    doc = results(tmp_path)
    (cause,) = doc["causes"]
    assert cause["id"] == "auth_refused" and "the key from WRONG_KEY_VAR was refused" in cause["message"]
    assert "not-the-key" not in json.dumps(doc)


def test_an_html_server_is_not_an_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with EvilServer("html_200") as server:
        _, out, err = certify(["--endpoint", server.url], tmp_path, capsys)
    doc = results(tmp_path)
    cause = assert_named_once_first("not_an_api", out, err, doc)
    assert "text/html" in cause["message"] and "/v1/models" in cause["message"]
    assert not [r["id"] for r in doc["results"] if r["outcome"] in FAILING and not r["caused_by"]]


def test_pytest_suites_name_the_cause_once_in_their_summary() -> None:
    root = Path(__file__).resolve().parents[1]
    with EvilServer("html_200") as server:
        argv = ["suites/test_discovery.py", "suites/test_usage.py", "--endpoint", server.url]
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *argv, "-q", "-p", "no:cacheprovider"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert done.returncode == 1, done.stdout[-2000:]
    summary = done.stdout.split("chatcert root causes", 1)[1]
    assert done.stdout.count("CAUSE not_an_api: ") == 1 and "Welcome to nginx" in summary
    assert "models_list_ok" in summary.split("short test summary info", 1)[0]


def test_html_error_pages_alone_do_not_make_a_server_no_api() -> None:
    """Pharia sends more bad requests than good ones: HTML error pages outnumber the JSON answers there."""
    profile = load_profile("pharia")
    with MockServer(profile.origin, api_key=KEY, defects=["error_html_page"]) as server:
        config = RunConfig(profile=profile, target=Target(server.url, profile.auth_scheme, KEY))
        run = run_certification(config)
    failing = [r for r in run.results if r.outcome is Outcome.FAILED]
    assert failing and "not_an_api" not in [c.id for c in run.causes]
    assert "rejections_carry_error_body" in [c.id for c in run.causes]


def test_an_endpoint_ending_in_v1_suggests_dropping_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server:
        _, out, err = certify(["--endpoint", server.url + "/v1"], tmp_path, capsys)
        base = server.url
    doc = results(tmp_path)
    cause = assert_named_once_first("base_url_ends_in_v1", out, err, doc)
    assert "/v1/v1/" in cause["message"] and f"--endpoint {base}" in cause["message"]
    assert cause["message"].rstrip().endswith(base)
    assert [c["id"] for c in doc["causes"]] == ["base_url_ends_in_v1"]


def test_the_v1_hint_keeps_endpoint_credentials_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server:
        host = server.url.split("://", 1)[1]
        argv = ["--endpoint", f"http://someone:canary-secret-5ab1@{host}/v1", "-q"]
        _, out, err = certify(argv, tmp_path, capsys)
    doc = results(tmp_path)
    (cause,) = doc["causes"]
    assert cause["id"] == "base_url_ends_in_v1" and cause["message"].endswith(f"@{host}")
    assert "canary-secret-5ab1" not in out + err + json.dumps(doc)


def test_truncated_bodies_are_one_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with MockServer("compatible", scenario={"fault": "truncated_json"}) as server:
        _, out, err = certify(["--endpoint", server.url], tmp_path, capsys)
    doc = results(tmp_path)
    cause = assert_named_once_first("unparseable_bodies", out, err, doc)
    assert "cut short" in cause["message"]
    assert len(cause["dependents"]) >= 20


class TrailingDataProxy:
    """Forwards to `upstream` and follows every JSON (not SSE) answer with a second JSON document."""

    def __init__(self, upstream: str) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                content = self.rfile.read(length) if length else None
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                answer = httpx.request(
                    self.command, upstream + self.path, headers=headers, content=content, timeout=30
                )
                data = answer.content
                if answer.headers.get("content-type", "").startswith("application/json"):
                    data += b'\n{"id": "a-second-document"}'
                proxy.forwarded += 1
                self.send_response(answer.status_code)
                for name in ("content-type",):
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _forward

        self.forwarded = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> TrailingDataProxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_trailing_data_after_the_json_document_is_one_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible") as server, TrailingDataProxy(server.url) as proxy:
        _, out, err = certify(["--endpoint", proxy.url], tmp_path, capsys)
    assert proxy.forwarded > 20
    doc = results(tmp_path)
    cause = assert_named_once_first("unparseable_bodies", out, err, doc)
    assert "trailing data after the JSON document" in cause["message"]
    streamed = {r["id"]: r for r in doc["results"] if r["area"] == "streaming"}
    # SSE answers were left whole: what they judge passes and carries no cause.
    assert streamed["stream_ends_with_done"]["outcome"] == "passed"
    assert streamed["stream_ends_with_done"]["caused_by"] is None


def test_deadlines_hit_are_one_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every answer comes 1.5 s late; a 0.5 s deadline makes each request time out (the run then stops).
    with MockServer("compatible", scenario={"fault": "slow_headers", "delay_ms": 1500}) as server:
        _, out, err = certify(["--endpoint", server.url, "--timeout", "0.5"], tmp_path, capsys)
        sent = results(tmp_path)["budget"]["requests_sent"]
        # Let the mock finish the answers chatcert gave up on before it shuts down.
        end = time.monotonic() + 10
        while len(server.journal()) < sent and time.monotonic() < end:
            time.sleep(0.05)
    doc = results(tmp_path)
    cause = assert_named_once_first("deadlines_hit", out, err, doc)
    assert "--timeout 0.5s" in cause["message"] and "not run" in cause["message"]
    outcomes = {r["outcome"] for r in doc["results"] if r["caused_by"] == "deadlines_hit"}
    assert "skipped" in outcomes and outcomes & {"failed", "non_strict"}
    assert outcomes <= {"failed", "non_strict", "skipped"}


def test_a_healthy_run_has_no_cause(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = certify(["--area", "discovery", "--area", "usage"], tmp_path, capsys)
    doc = results(tmp_path)
    assert code == 0 and doc["causes"] == [] and "CAUSE" not in out
    assert all(r["caused_by"] is None for r in doc["results"])


# -- what one body shows -------------------------------------------------------------------------------------


def _ex(raw: bytes, content_type: str = "application/json", code: int | None = 200) -> Exchange:
    ex = Exchange("x", "POST", "http://127.0.0.1/v1/chat/completions", {}, None, status=code)
    ex.headers = {"content-type": content_type}
    ex.body = raw
    return ex


@pytest.mark.parametrize(
    ("raw", "content_type", "problem"),
    [
        (b'{"id": "x"}', "application/json", None),
        (b'{"id": "x"}\n{"id": "y"}', "application/json", "trailing data"),
        (b'{"id": "x", "choi', "application/json", "truncated"),
        (b'{"id": "x",}', "application/json", "invalid JSON"),
        (b"<html><title>Welcome</title></html>", "text/html", "html"),
        (b"<html></html>", "application/json", "html"),
        (b"Internal Server Error", "text/plain", "not JSON"),
        (b"", "application/json", None),
        (b'"a JSON string"', "application/json", None),
    ],
)
def test_body_problem_names_what_is_wrong(raw: bytes, content_type: str, problem: str | None) -> None:
    assert body_problem(_ex(raw, content_type)) == problem


def test_stream_events_that_run_together_are_a_framing_problem() -> None:
    doc = '{"id": "x", "choices": []}'
    framed = _ex(f"data: {doc}\ndata: {doc}\n\ndata: [DONE]\n\n".encode(), "text/event-stream")
    framed.events, framed.sse_errors = parse_sse(framed.body, [(0.0, len(framed.body))])
    assert body_problem(framed) == "sse framing"
    cut = _ex(b'data: {"id": "x", "cho\n\ndata: [DONE]\n\n', "text/event-stream")
    cut.events, cut.sse_errors = parse_sse(cut.body, [(0.0, len(cut.body))])
    assert body_problem(cut) == "truncated"


def test_non_stream_answers_sent_as_sse_are_one_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible", defects=["non_stream_sent_as_sse"]) as server:
        _, out, err = certify(["--endpoint", server.url], tmp_path, capsys)
    doc = results(tmp_path)
    cause = assert_named_once_first("non_stream_answered_as_sse", out, err, doc)
    assert "non_stream_is_not_sse" in cause["dependents"] and len(cause["dependents"]) >= 20
    streamed = {r["id"]: r for r in doc["results"] if r["area"] == "streaming"}
    assert streamed["stream_ends_with_done"]["outcome"] == "passed"


def test_a_stream_without_blank_lines_is_one_framing_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with MockServer("compatible", defects=["stream_no_blank_line"]) as server:
        _, out, err = certify(["--endpoint", server.url], tmp_path, capsys)
    doc = results(tmp_path)
    cause = assert_named_once_first("sse_framing_broken", out, err, doc)
    assert "stream_sse_framing_valid" in cause["dependents"] and len(cause["dependents"]) >= 10


def test_a_body_chatcert_cut_itself_is_no_unparseable_body() -> None:
    ex = _ex(b'{"id": "x", "choi')
    ex.truncated, ex.error = True, "wall-clock deadline of 1.0s exceeded while reading body"
    assert body_problem(ex) is None


# -- check-level preconditions ------------------------------------------------------------------------------


def test_every_precondition_is_a_registered_check_without_cycles() -> None:
    checks = {c.id: c for c in all_checks()}
    for c in checks.values():
        for dep in c.depends_on:
            assert dep in checks and dep != c.id, (c.id, dep)
            seen, todo = {c.id}, [dep]
            while todo:
                current = todo.pop()
                assert current not in seen, f"dependency cycle through {c.id}"
                seen.add(current)
                todo += list(checks[current].depends_on)


FOLDS = {
    "tools": (
        "tool_call_returned_when_required",
        (
            "tool_call_finish_reason_is_tool_calls",
            "named_tool_choice_honoured",
            "stream_tool_call_fragments_valid",
        ),
    ),
    "include_usage": ("stream_usage_chunk_when_asked", ("stream_usage_totals_consistent",)),
    "error_shape": (
        "rejections_carry_error_body",
        ("error_body_matches_profile_shape", "error_object_has_all_fields"),
    ),
}
KEY = "chatcert-diagnosis-key"


@pytest.fixture(scope="module")
def conformant() -> Run:
    """Conformant exchanges for every check folded above (openai profile: its error shape has all fields)."""
    profile = load_profile("openai")
    only = tuple(
        sorted({root for root, _ in FOLDS.values()} | {d for _, deps in FOLDS.values() for d in deps})
    )
    with MockServer(profile=profile.origin, api_key=KEY) as server:
        config = RunConfig(profile=profile, target=Target(server.url, profile.auth_scheme, KEY), only=only)
        run = run_certification(config)
    assert run.causes == []
    assert all(r.outcome is Outcome.PASSED for r in run.results), [(r.id, r.message) for r in run.results]
    return run


def judge_offline(source: Run, check_ids: tuple[str, ...], edit: Any) -> Run:
    """Judge `check_ids` on edited copies of the conformant exchanges (nothing is sent), then diagnose."""
    run = start_run(source.config)
    probes: dict[str, ProbeResult] = {name: copy.deepcopy(pr) for name, pr in source.probes.items()}
    edit(probes)
    run.probes.update(probes)
    for check_id in check_ids:
        run_check(run, get_check(check_id))
    assert run.client.requests == []
    run.causes = diagnose(run)
    return run


def no_tool_calls(probes: dict[str, ProbeResult]) -> None:
    def answer_in_text(doc: Any) -> None:
        doc["choices"][0]["message"] = {"role": "assistant", "content": "It is sunny in Paris."}
        doc["choices"][0]["finish_reason"] = "stop"

    for name in ("tools_required", "tools_named"):
        on(name, json_edit(answer_in_text))(probes)

    def text_stream(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            for choice in doc.get("choices", []):
                choice.get("delta", {}).pop("tool_calls", None)
                if choice.get("finish_reason"):
                    choice["finish_reason"] = "stop"

    on("tools_stream", chunks(text_stream))(probes)


def usage_ignored(probes: dict[str, ProbeResult]) -> None:
    def drop_usage(docs: list[dict[str, Any]]) -> None:
        for doc in docs:
            doc.pop("usage", None)
            if doc.get("choices") == []:
                doc["choices"] = [{"index": 0, "delta": {}, "finish_reason": None}]

    on("chat_stream_usage", chunks(drop_usage))(probes)


def shapeless_errors(probes: dict[str, ProbeResult]) -> None:
    for name in (
        "malformed_json",
        "missing_messages",
        "empty_messages",
        "temperature_out_of_range",
        "unknown_model",
    ):
        each(name, body({"oops": "no error key"}, "application/json"))(probes)


EDITS = {"tools": no_tool_calls, "include_usage": usage_ignored, "error_shape": shapeless_errors}


@pytest.mark.parametrize("fold", sorted(FOLDS))
def test_follow_ons_of_a_failed_precondition_are_folded_under_it(
    fold: str, conformant: Run, capsys: pytest.CaptureFixture[str]
) -> None:
    root, dependents = FOLDS[fold]
    run = judge_offline(conformant, (root, *dependents), EDITS[fold])
    by_id = {r.id: r for r in run.results}
    assert by_id[root].outcome is Outcome.FAILED and by_id[root].caused_by is None
    folded = [d for d in dependents if by_id[d].outcome in (Outcome.FAILED, Outcome.NON_STRICT)]
    assert folded, [(d, by_id[d].outcome, by_id[d].message) for d in dependents]
    for d in folded:
        assert by_id[d].caused_by == root, (d, by_id[d].message)
    (cause,) = run.causes
    assert cause.id == root and cause.kind == "check" and sorted(cause.dependents) == sorted(folded)
    # The run still fails: folding changes the report, not the verdict.
    assert run.exit_code == 1
    ConsoleReporter().on_finish(run)
    out = capsys.readouterr().out
    assert out.count(f"CAUSE {root}: ") == 1
    failures = out.split("\nfailures:\n", 1)[1] if "\nfailures:\n" in out else ""
    assert root not in failures and not any(d in failures for d in folded)
    assert out.index(f"CAUSE {root}: ") < out.index("certificate:")


def test_a_dependent_whose_precondition_held_stands_alone(conformant: Run) -> None:
    def totals_off(probes: dict[str, ProbeResult]) -> None:
        def edit(docs: list[dict[str, Any]]) -> None:
            for doc in docs:
                if isinstance(doc.get("usage"), dict):
                    doc["usage"]["total_tokens"] += 5

        on("chat_stream_usage", chunks(edit))(probes)

    run = judge_offline(
        conformant, ("stream_usage_chunk_when_asked", "stream_usage_totals_consistent"), totals_off
    )
    by_id = {r.id: r for r in run.results}
    assert by_id["stream_usage_chunk_when_asked"].outcome is Outcome.PASSED
    assert by_id["stream_usage_totals_consistent"].outcome is Outcome.FAILED
    assert by_id["stream_usage_totals_consistent"].caused_by is None and run.causes == []


def test_a_run_level_cause_wins_over_a_precondition(conformant: Run) -> None:
    """Every answer 401: the precondition and its follow-ons all fold under the run-level cause, once."""

    def refused(probes: dict[str, ProbeResult]) -> None:
        for name in probes:
            each(
                name, status(401), body({"error": {"message": "no key", "type": "auth"}}, "application/json")
            )(probes)

    root, dependents = FOLDS["include_usage"]
    source = copy.copy(conformant)
    run = start_run(source.config)
    probes = {name: copy.deepcopy(pr) for name, pr in source.probes.items()}
    refused(probes)
    run.probes.update(probes)
    for check_id in (root, *dependents):
        run_check(run, get_check(check_id))
    # The auth condition is judged on what the run sent; here the edited exchanges stand for it.
    run.client.requests.extend(ex for pr in probes.values() for ex in pr.exchanges)
    run.causes = diagnose(run)
    assert [c.id for c in run.causes] == ["auth_refused"]
    assert {r.caused_by for r in run.results if r.outcome is Outcome.FAILED} == {"auth_refused"}


def test_cause_ids_are_stable_snake_case() -> None:
    for cause_id in CAUSES:
        assert re.fullmatch(r"[a-z][a-z0-9_]*", cause_id)
    assert set(CAUSES) >= {
        "unreachable_host",
        "auth_refused",
        "not_an_api",
        "base_url_ends_in_v1",
        "unparseable_bodies",
        "deadlines_hit",
    }


def test_live_defects_fold_under_their_precondition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mock's own defects: include_usage ignored and string error bodies, each one cause, once."""
    with MockServer("compatible", defects=["error_as_string", "stream_include_usage_ignored"]) as server:
        code, out, _ = certify(["--endpoint", server.url], tmp_path, capsys)
    doc = results(tmp_path)
    assert code == 1 and doc["exit_code"] == 1
    causes = {c["id"]: c for c in doc["causes"]}
    assert set(causes) == {"rejections_carry_error_body", "stream_usage_chunk_when_asked"}
    assert causes["stream_usage_chunk_when_asked"]["dependents"] == ["stream_usage_totals_consistent"]
    assert causes["rejections_carry_error_body"]["dependents"] == ["error_body_matches_profile_shape"]
    for cause_id in causes:
        assert out.count(f"CAUSE {cause_id}: ") == 1
    assert "\nfailures:\n" not in out  # every failure is a cause or folded under one
