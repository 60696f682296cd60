"""In-process pieces of interruption: the engine's bookkeeping and the shield around report writing."""

from __future__ import annotations

import contextlib
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chatcert import interrupt
from chatcert.client import Target
from chatcert.engine import Run, RunConfig, run_certification
from chatcert.outcomes import CheckResult, Outcome
from chatcert.profiles import load_profile
from chatcert.reporting.files import IN_PROGRESS, FileReporter
from mock_server.runner import MockServer


def _real_sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)


def _swallowed_sigint() -> None:
    """A SIGINT whose exception is lost, as when it lands in a gc callback or a `__del__` (CI saw
    Hypothesis's gc callback print "Exception ignored" and the run end 0)."""
    with contextlib.suppress(interrupt.Interrupted):  # what the interpreter does to it there
        interrupt._handler(signal.SIGINT, None)


class _InterruptAfter:
    """A reporter that delivers a SIGINT (`deliver`) to this process after `n` results."""

    def __init__(self, n: int, deliver: Callable[[], None] = _real_sigint) -> None:
        self.n = n
        self.deliver = deliver

    def on_start(self, run: Run) -> None:
        pass

    def on_result(self, run: Run, result: CheckResult) -> None:
        if len(run.results) == self.n:
            self.deliver()

    def on_finish(self, run: Run) -> None:
        pass


class _SignalWhileWriting:
    """Sends SIGTERM in the middle of on_finish: the report must still be written whole."""

    def __init__(self, inner: FileReporter) -> None:
        self.inner = inner

    def on_start(self, run: Run) -> None:
        self.inner.on_start(run)

    def on_result(self, run: Run, result: CheckResult) -> None:
        pass

    def on_finish(self, run: Run) -> None:
        os.kill(os.getpid(), signal.SIGTERM)
        self.inner.on_finish(run)


@pytest.fixture
def handlers() -> Any:
    previous = interrupt.install()
    yield
    interrupt.restore(previous)


def _config(url: str) -> RunConfig:
    profile = load_profile("compatible")
    return RunConfig(profile=profile, target=Target(url, profile.auth_scheme, None), target_is_mock=True)


def test_results_so_far_kept_rest_skipped_interrupted(tmp_path: Path, handlers: None) -> None:
    with MockServer(profile=load_profile("compatible").origin) as server:
        run = run_certification(_config(server.url), [_InterruptAfter(5), FileReporter(tmp_path)])
    assert run.interrupted == "SIGINT"
    assert run.exit_code == 130
    ran = [r for r in run.results if not r.reason.startswith("interrupted")]
    assert len(ran) == 5
    rest = [r for r in run.results if r.reason.startswith("interrupted")]
    assert rest and all(r.outcome is Outcome.SKIPPED for r in rest)
    assert len(run.results) == run.info["selected"]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["interrupted"] == "SIGINT"
    assert doc["certificate"]["verdict"] != "certified"
    assert not (tmp_path / IN_PROGRESS).exists()


def test_signal_during_report_writing_is_held_until_the_report_is_whole(
    tmp_path: Path, handlers: None
) -> None:
    (tmp_path / "results.json").write_text('{"certificate": {"verdict": "certified"}}')
    with MockServer(profile=load_profile("compatible").origin) as server:
        config = _config(server.url)
        config.only = ("models_list_ok",)
        with pytest.raises(interrupt.Interrupted) as caught:
            run_certification(config, [_SignalWhileWriting(FileReporter(tmp_path))])
    assert caught.value.exit_code == 143
    doc = json.loads((tmp_path / "results.json").read_text())  # whole, and this run's
    assert doc["interrupted"] is None
    assert [r["id"] for r in doc["results"]] == ["models_list_ok"]


def test_new_run_clears_previous_reports_and_marks_in_progress(tmp_path: Path) -> None:
    from chatcert.reporting.files import REPORT_FILES, clear_reports

    for name in REPORT_FILES:
        (tmp_path / name).write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    clear_reports(tmp_path, "2026-01-01T00:00:00+00:00")
    assert not any((tmp_path / name).exists() for name in REPORT_FILES)
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only chatcert's own files go
    assert "has not finished" in (tmp_path / IN_PROGRESS).read_text()


def test_a_swallowed_signal_still_stops_the_run(handlers: None) -> None:
    with MockServer(profile=load_profile("compatible").origin) as server:
        run = run_certification(_config(server.url), [_InterruptAfter(3, _swallowed_sigint)])
    assert run.interrupted == "SIGINT"
    assert run.exit_code == 130
    assert len([r for r in run.results if not r.reason.startswith("interrupted")]) == 3
    interrupt.poll()  # acknowledged: a later run in this process is not interrupted by it


def test_a_swallowed_signal_stops_the_next_request(handlers: None) -> None:
    from chatcert._models import RequestSpec
    from chatcert.client import Client

    with contextlib.suppress(interrupt.Interrupted):
        interrupt._handler(signal.SIGTERM, None)
    client = Client(Target("http://127.0.0.1:9", "bearer", None))
    with pytest.raises(interrupt.Interrupted) as caught:
        client.send(RequestSpec("GET", "/v1/models"))
    assert caught.value.exit_code == 143
    interrupt.acknowledge()
    interrupt.poll()


def test_a_swallowed_signal_prints_no_traceback(handlers: None, capsys: pytest.CaptureFixture[str]) -> None:
    class _Finalised:
        def __del__(self) -> None:
            interrupt._handler(signal.SIGINT, None)  # raised inside a finaliser: unraisable

    _Finalised()
    assert "Traceback" not in capsys.readouterr().err
    with pytest.raises(interrupt.Interrupted):
        interrupt.poll()
    interrupt.acknowledge()
