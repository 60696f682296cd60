"""Bench and preflight hand their report writers events, as certify does: start, each level (bench) or
check record (preflight) as it is made, finish; the CLIs write nothing but through those reporters."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

import chatcert._cli.bench as bench_cli
import chatcert._cli.preflight as preflight_cli
from chatcert.bench import BenchConfig, BenchReporter, LevelSpec, MockProcess, load_payloads, run_bench
from chatcert.bench.workers import WorkerPlan, run_bench_on_workers, run_bench_workers
from chatcert.cli import main
from chatcert.interrupt import Interrupted
from chatcert.preflight import CheckRecord, PreflightReport, PreflightReporter, run_preflight

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "liquidai" / "liquidai.yaml"

FAST = {"ttft_ms": 5, "itl_ms": 2, "chunks": 4, "jitter_ms": 0}


class BenchRecorder:
    """Keeps every event, in order, with what it carried."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_start(self, config: BenchConfig) -> None:
        self.events.append(("start", config))

    def on_level(self, level: dict[str, Any]) -> None:
        self.events.append(("level", level))

    def on_finish(self, record: dict[str, Any]) -> None:
        self.events.append(("finish", record))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with MockProcess("compatible", FAST) as server:
        yield server


def _config(mock: MockProcess, *levels: LevelSpec) -> BenchConfig:
    return BenchConfig(mock.url, "default", list(levels), load_payloads("text"), is_mock=True)


def test_a_bench_run_hands_its_reporters_start_each_level_and_finish(mock: MockProcess) -> None:
    config = _config(mock, LevelSpec(1, None, 2, None, 0), LevelSpec(2, None, 2, None, 0))
    first, second = BenchRecorder(), BenchRecorder()
    record = run_bench(config, [first, second])
    assert first.kinds == ["start", "level", "level", "finish"]
    assert second.events == first.events  # every reporter hears every event, in the order given
    assert first.events[0][1] is config
    # Each level as it appears in the record, and the finish event carries the record returned.
    assert [level for _, level in first.events[1:3]] == record["levels"]
    assert [level["label"] for _, level in first.events[1:3]] == ["c=1", "c=2"]
    assert first.events[-1][1] is record and record["interrupted"] is None


class _InterruptAtFirstLevel(BenchRecorder):
    def on_level(self, level: dict[str, Any]) -> None:
        super().on_level(level)
        if len(self.kinds) == 2:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while the second level starts


def test_an_interrupted_bench_run_still_finishes_with_its_finished_levels(mock: MockProcess) -> None:
    recorder = _InterruptAtFirstLevel()
    levels = [LevelSpec(1, None, 2, None, 0), LevelSpec(1, None, 50, None, 0), LevelSpec(1, None, 2, None, 0)]
    record = run_bench(_config(mock, *levels), [recorder])
    assert recorder.kinds == ["start", "level", "finish"]
    finished = recorder.events[-1][1]
    assert finished is record and finished["interrupted"] == "SIGINT"
    assert [lvl["label"] for lvl in finished["levels"]] == ["c=1"]


def test_a_run_across_worker_processes_hands_its_reporters_the_merged_levels(mock: MockProcess) -> None:
    recorder = BenchRecorder()
    record = run_bench_workers(_config(mock, LevelSpec(2, None, 4, None, 0)), WorkerPlan(2), [recorder])
    assert recorder.kinds == ["start", "level", "finish"]
    level = recorder.events[1][1]
    assert level is record["levels"][0] and [r["worker"] for r in level["workers"]] == [0, 1]
    assert recorder.events[-1][1] is record


def _bench_argv(tmp: Path) -> list[str]:
    return [
        "bench", "--requests", "2", "--concurrency", "1", "--warmup", "0", "--no-progress",
        "--mock-scenario", "ttft_ms=5;itl_ms=1;chunks=3;jitter_ms=0",
        "--history-dir", str(tmp / "history"), "--report-dir", str(tmp / "report"),
    ]  # fmt: skip


def test_the_bench_cli_writes_its_report_from_the_finish_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = BenchRecorder()
    given: list[Sequence[BenchReporter]] = []
    real = run_bench_on_workers

    def run_and_listen(*args: Any, reporters: Sequence[BenchReporter], **kw: Any) -> dict[str, Any]:
        given.append(reporters)
        return real(*args, reporters=[*reporters, recorder], **kw)

    monkeypatch.setattr(bench_cli, "run_bench_on_workers", run_and_listen)
    assert main([*_bench_argv(tmp_path), "--save", "one"]) == 0
    assert recorder.kinds == ["start", "level", "finish"]
    finished = recorder.events[-1][1]
    written = json.loads((tmp_path / "report" / "bench.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(finished))
    saved = json.loads((tmp_path / "history" / "one.json").read_text(encoding="utf-8"))
    assert saved["created"] == finished["created"] and saved["levels"] == written["levels"]
    assert "report: " in capsys.readouterr().out
    assert [type(r).__name__ for r in given[0]] == ["BenchReportWriter", "BenchConsole"]


def test_the_bench_cli_writes_nothing_but_through_its_reporters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = run_bench_on_workers

    def run_unheard(*args: Any, reporters: Sequence[BenchReporter], **kw: Any) -> dict[str, Any]:
        return real(*args, reporters=[], **kw)

    monkeypatch.setattr(bench_cli, "run_bench_on_workers", run_unheard)
    assert main([*_bench_argv(tmp_path), "--save", "one"]) == 0
    assert not (tmp_path / "report" / "bench.json").exists()
    assert not (tmp_path / "history" / "one.json").exists()
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------------------------- preflight


class PreflightRecorder:
    def __init__(self, stop_at_check: int | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.stop_at_check = stop_at_check

    def on_start(self, report: PreflightReport) -> None:
        self.events.append(("start", report))
        assert report.checks == []  # nothing checked yet

    def on_check(self, record: CheckRecord) -> None:
        self.events.append(("check", record))
        if sum(kind == "check" for kind, _ in self.events) == self.stop_at_check:
            raise Interrupted("SIGTERM")  # as the signal handler raises it, mid-check

    def on_finish(self, report: PreflightReport) -> None:
        self.events.append(("finish", report))

    @property
    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.events]


def test_a_preflight_hands_its_reporters_each_check_record_as_it_is_made() -> None:
    recorder = PreflightRecorder()
    report = run_preflight(EXAMPLE, rehearsal=False, reporters=[recorder])
    checks = [record for kind, record in recorder.events if kind == "check"]
    assert recorder.kinds == ["start", *["check"] * len(checks), "finish"]
    assert recorder.events[0][1] is report and recorder.events[-1][1] is report
    assert len(checks) > 5 and all(a is b for a, b in zip(checks, report.checks, strict=True))
    names = [c.name for c in checks]
    assert names[0] == "operation.schema" and names[-1] == "usage.estimate"
    assert "rehearsal_disabled" in {f.id for c in checks for f in c.findings}


def test_an_interrupted_preflight_finishes_with_the_checks_made_so_far() -> None:
    recorder = PreflightRecorder(stop_at_check=3)
    report = run_preflight(EXAMPLE, rehearsal=False, reporters=[recorder])
    assert recorder.kinds == ["start", "check", "check", "check", "finish"]
    assert recorder.events[-1][1] is report and report.interrupted == "SIGTERM"
    assert [c.name for c in report.checks] == [r.name for kind, r in recorder.events if kind == "check"]


def test_the_preflight_cli_prints_and_writes_the_finish_events_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    recorder = PreflightRecorder()
    given: list[Sequence[PreflightReporter]] = []

    def run_and_listen(*args: Any, reporters: Sequence[PreflightReporter], **kw: Any) -> PreflightReport:
        given.append(reporters)
        return run_preflight(*args, reporters=[*reporters, recorder], **kw)

    monkeypatch.setattr(preflight_cli, "run_preflight", run_and_listen)
    argv = ["preflight", str(EXAMPLE), "--no-rehearsal", "--json", "--report-dir", str(tmp_path)]
    assert main(argv) == 0
    finished = recorder.events[-1][1]
    assert recorder.kinds[-1] == "finish"
    expected = json.dumps(finished.to_dict(), indent=2)
    assert capsys.readouterr().out == expected + "\n"
    assert (tmp_path / "preflight.json").read_text(encoding="utf-8") == expected + "\n"
    assert [type(r).__name__ for r in given[0]] == ["PreflightJsonWriter", "PreflightJsonView"]


@pytest.mark.parametrize("view", [[], ["--json"]])
def test_the_preflight_cli_prints_and_writes_nothing_but_through_its_reporters(
    view: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run_unheard(*args: Any, reporters: Sequence[PreflightReporter], **kw: Any) -> PreflightReport:
        return run_preflight(*args, reporters=[], **kw)

    monkeypatch.setattr(preflight_cli, "run_preflight", run_unheard)
    assert main(["preflight", str(EXAMPLE), "--no-rehearsal", *view, "--report-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "preflight.json").exists()
