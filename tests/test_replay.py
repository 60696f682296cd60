"""`chatcert replay FILE`: re-sends a saved payload and exits 0 (fixed), 1 (still fails) or 2 (bad file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import chatcert.checks.fuzz  # noqa: F401  (registers the fuzz area until chatcert.checks imports it)
from chatcert._schemas import schema_errors
from chatcert.cli import main
from chatcert.fuzz.replay import decode_body, encode_body
from mock_server.fixtures import MockServerFactory

KEY = "chatcert-replay-secret-key-987654321"


def replay_doc(
    body: Any,
    *,
    prop: str = "rejected",
    profile: str = "compatible",
    model: str = "default",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> dict[str, Any]:
    return {
        "format": "chatcert-replay/1",
        "check": "fuzz_invalid_payloads_rejected",
        "profile": profile,
        "model": model,
        "request": {
            "method": "POST",
            "route": "/v1/chat/completions",
            "route_name": "chat",
            "stream": False,
            "headers": headers or {"Content-Type": "application/json", "Authorization": "Bearer [REDACTED]"},
            "body": encode_body(raw if raw is not None else json.dumps(body, separators=(",", ":")).encode()),
        },
        "expected": {"property": prop, "rule": "REQ2", "level": "MUST", "kind": "empty-messages"},
        "observed": {"status": 500, "kind": "server_error", "message": "an invalid payload was answered 500"},
    }


def write(tmp_path: Path, doc: Any, name: str = "case.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


HELLO: dict[str, Any] = {"role": "user", "content": "hi"}
EMPTY: dict[str, Any] = {"model": "default", "messages": [], "max_tokens": 1}
VALID: dict[str, Any] = {"model": "default", "messages": [HELLO], "max_tokens": 2}


def test_help_explains_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["replay", "--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    for needle in ("FILE", "--endpoint", "--profile", "exit status: 0", "1 it still fails", "2 the file"):
        assert needle in out


def test_fixed_failure_exits_0_against_the_embedded_mock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["replay", write(tmp_path, replay_doc(EMPTY))])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FIXED: rejected with 400" in out and "was:  500 (server_error)" in out


def test_reproduced_failure_exits_1(mock_server: MockServerFactory, tmp_path: Path) -> None:
    server = mock_server("compatible", defects=("empty_messages_500",))
    server.clear_journal()
    code = main(["replay", write(tmp_path, replay_doc(EMPTY)), "--endpoint", server.url])
    assert code == 1
    sent = server.journal()
    assert len(sent) == 1 and sent[0]["body"] == EMPTY and sent[0]["status"] == 500


def test_fuzz_failure_file_round_trips(mock_server: MockServerFactory, tmp_path: Path) -> None:
    """A file `certify --fuzz` wrote reproduces against the defect and passes against a healthy mock."""
    broken = mock_server("compatible", defects=("empty_messages_500",))
    main(
        [
            "certify",
            "--endpoint",
            broken.url,
            "--fuzz",
            "--check",
            "fuzz_invalid_payloads_rejected",
            "--max-examples",
            "100",
            "--seed",
            "1",
            "--report-dir",
            str(tmp_path),
            "-q",
        ]
    )
    saved = sorted((tmp_path / "failures").glob("fuzz_invalid_payloads_rejected-*.json"))
    assert saved
    assert main(["replay", str(saved[0]), "--endpoint", broken.url]) == 1
    assert main(["replay", str(saved[0])]) == 0


def test_accepted_property_judges_the_answer(mock_server: MockServerFactory, tmp_path: Path) -> None:
    developer = {**VALID, "messages": [{"role": "developer", "content": "Be brief."}, HELLO]}
    path = write(tmp_path, replay_doc(developer, prop="accepted"))
    assert main(["replay", path]) == 0
    refusing = mock_server("compatible", defects=("developer_role_rejected",))
    assert main(["replay", path, "--endpoint", refusing.url]) == 1


def test_survives_property_sends_a_valid_follow_up(mock_server: MockServerFactory, tmp_path: Path) -> None:
    server = mock_server("compatible")
    server.clear_journal()
    code = main(["replay", write(tmp_path, replay_doc(EMPTY, prop="survives")), "--endpoint", server.url])
    assert code == 0
    statuses = [entry["status"] for entry in server.journal()]
    assert statuses == [400, 200]


def test_profile_and_model_follow_the_file_or_the_options(
    mock_server: MockServerFactory, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = replay_doc({**EMPTY, "model": "gemma-4-31b-it"}, profile="libertai", model="gemma-4-31b-it")
    assert main(["replay", write(tmp_path, doc)]) == 0
    assert "FIXED: rejected with 422" in capsys.readouterr().out  # libertai's detail-shaped 422
    server = mock_server("openai")
    server.clear_journal()
    assert main(["replay", write(tmp_path, doc), "--endpoint", server.url, "--profile", "openai"]) == 0
    assert server.journal()[0]["body"]["model"] == "gpt-4o-mini"  # the recorded model is swapped
    server.clear_journal()
    main(["replay", write(tmp_path, doc), "--endpoint", server.url, "--profile", "openai", "--model", "x"])
    assert server.journal()[0]["body"]["model"] == "x"


def test_secret_headers_are_replaced_by_the_targets_key(
    mock_server: MockServerFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCERT_REPLAY_TEST_KEY", KEY)
    server = mock_server("openai", api_key=KEY)
    server.clear_journal()
    headers = {"Content-Type": "application/json", "Authorization": "Bearer [REDACTED]", "X-Trace": "t1"}
    doc = replay_doc({**VALID, "model": "gpt-4o-mini"}, prop="accepted", model="gpt-4o-mini", headers=headers)
    path = write(tmp_path, doc)
    code = main(
        [
            "replay",
            path,
            "--endpoint",
            server.url,
            "--profile",
            "openai",
            "--api-key-env",
            "CHATCERT_REPLAY_TEST_KEY",
        ]
    )
    assert code == 0
    sent = server.journal()[0]["headers"]
    assert sent["X-Trace"] == "t1" and "Authorization" in sent
    assert server.journal()[0]["status"] == 200  # the mock demands the key: it was the target's own
    server.clear_journal()
    assert main(["replay", path, "--endpoint", server.url, "--profile", "openai"]) == 1  # no key: 401


def test_wrong_content_type_is_sent_as_recorded(mock_server: MockServerFactory, tmp_path: Path) -> None:
    server = mock_server("compatible")
    server.clear_journal()
    doc = replay_doc(VALID, headers={"Content-Type": "text/plain"})
    assert main(["replay", write(tmp_path, doc), "--endpoint", server.url]) == 0
    entry = server.journal()[0]
    assert entry["status"] == 415 and entry["headers"]["Content-Type"] == "text/plain"


def test_non_json_bodies_are_sent_byte_for_byte(mock_server: MockServerFactory, tmp_path: Path) -> None:
    server = mock_server("compatible")
    for raw in (b'{"model": "default", "messages": [', b"\xff\xfe\x00not utf-8", b""):
        server.clear_journal()
        doc = replay_doc(None, raw=raw)
        assert schema_errors("harness/replay", doc) == []
        assert decode_body(doc["request"]["body"]) == raw
        assert main(["replay", write(tmp_path, doc), "--endpoint", server.url]) == 0
        assert server.journal()[0]["body_bytes"] == len(raw)


def test_unreachable_endpoint_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["replay", write(tmp_path, replay_doc(EMPTY)), "--endpoint", "http://127.0.0.1:9", "--timeout", "2"]
    )
    assert code == 1
    assert "STILL FAILS" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (None, "cannot read replay file"),
        ("{not json", "is not JSON"),
        ('{"format": "chatcert-replay/1"}', "is not a chatcert replay file"),
        (json.dumps({**replay_doc(EMPTY), "format": "other/9"}), "is not a chatcert replay file"),
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
    ],
    ids=["missing", "not-json", "no-fields", "wrong-format", "deep"],
)
def test_bad_files_exit_2_with_one_line(
    content: str | None, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "missing.json") if content is None else write(tmp_path, content)
    assert main(["replay", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]


def test_undecodable_body_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = replay_doc(EMPTY)
    doc["request"]["body"] = {"encoding": "base64", "base64": "abc"}
    assert main(["replay", write(tmp_path, doc)]) == 2
    assert "undecodable body" in capsys.readouterr().err


def test_encoding_keeps_exact_bytes() -> None:
    for raw in (b'{"a":1}', b'{"a": 1}', b"[1,2]", b"plain", b"\x00\xff", b"", None):
        encoded = encode_body(raw)
        assert decode_body(encoded) == raw
    assert encode_body(b'{"a":1}')["encoding"] == "json"
    assert encode_body(b'{"a": 1}')["encoding"] == "text"  # spacing would change on re-serialising
    assert encode_body(b"\xff")["encoding"] == "base64"
