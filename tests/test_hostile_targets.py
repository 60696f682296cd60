"""A misbehaving target yields failed checks with evidence, within the deadlines, never a crash or a hang."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chatcert._models import RequestSpec
from chatcert.cli import main
from chatcert.client import Bounds, Client, Target

from evil_server import BEHAVIOURS, EvilServer

BOUNDS = Bounds(deadline_s=2.0, stall_s=1.0, max_body_bytes=256 * 1024)


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_one_request_is_bounded(behaviour: str) -> None:
    with EvilServer(behaviour) as server:
        client = Client(Target(server.url), BOUNDS)
        start = time.monotonic()
        ex = client.send(
            RequestSpec(
                "POST",
                "/v1/chat/completions",
                body={"model": "m", "messages": []},
                stream=behaviour in ("endless_sse", "stall"),
            )
        )
        elapsed = time.monotonic() - start
    # Bounded, not fast: a target that never stops would run forever; the slack is for a loaded machine.
    assert elapsed < BOUNDS.deadline_s + BOUNDS.stall_s + 6, elapsed
    assert len(ex.body) <= BOUNDS.max_body_bytes
    if behaviour in ("endless_sse", "huge_body"):
        assert ex.truncated and ex.error
    if behaviour in ("stall", "no_headers", "reset_mid_body", "bad_content_length"):
        assert ex.error, ex
    if behaviour == "redirect_other_host":
        assert ex.status == 307 and client.requests[-1].url.startswith(server.url)
    if behaviour in ("bad_utf8", "deep_json"):
        with pytest.raises(ValueError):
            ex.json()


def test_enough_bytes_hangs_up_without_counting_a_failure() -> None:
    """A probe that needs only the start of a stream (one the server should have refused) reads that
    much and closes: no error, and the run's count of transport failures is not raised."""
    with EvilServer("endless_sse") as server:
        client = Client(Target(server.url), BOUNDS)
        ex = client.send(
            RequestSpec("POST", "/v1/chat/completions", body={"model": "m"}, stream=True, enough_bytes=4096)
        )
    assert ex.status == 200 and ex.truncated and ex.error is None
    assert 4096 <= len(ex.body) < BOUNDS.max_body_bytes
    assert ex.events and client.consecutive_failures == 0


@pytest.mark.parametrize("behaviour", BEHAVIOURS)
def test_certify_against_a_hostile_target_fails_cleanly(
    behaviour: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with EvilServer(behaviour) as server:
        start = time.monotonic()
        code = main(
            [
                "certify",
                "--endpoint",
                server.url,
                "--timeout",
                "2",
                "--stall-timeout",
                "1",
                "--max-body-bytes",
                "262144",
                "--run-timeout",
                "60",
                "--report-dir",
                str(tmp_path),
                "-q",
            ]
        )
        elapsed = time.monotonic() - start
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    assert len(captured.err.strip().splitlines()) == 1
    assert elapsed < 60
    doc = json.loads((tmp_path / "results.json").read_text())
    failed = [r for r in doc["results"] if r["outcome"] == "failed"]
    assert failed, "a hostile target must fail checks"
    assert all(r["message"] and r["evidence"] for r in failed)
    assert all(r["outcome"] != "errored" for r in doc["results"]), [
        r for r in doc["results"] if r["outcome"] == "errored"
    ]
