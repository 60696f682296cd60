"""Fleets: `chatcert certify --fleet FILE` certifies entries in parallel into a matrix (loopback only)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from chatcert._schemas import schema_errors
from chatcert.cli import main
from chatcert.fleet import EntryOutcome, FleetSettings, load_fleet, run_fleet
from chatcert.interrupt import Interrupted
from chatcert.pytest_plugin import _entry_of
from chatcert.targets import open_entry
from chatcert_data import data_dir

SECRET = "sk-fleet-canary-3f9a7c1e5b2d4860"


def _fleet(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _certify(fleet: Path, out: Path, *extra: str) -> int:
    return main(["certify", "--fleet", str(fleet), "--report-dir", str(out), *extra])


THREE = """
- name: alpha
- name: broken
  defects: [stream_missing_done]
- name: gamma
  profile: openai
  key_env: CHATCERT_FLEET_TEST_KEY
"""


def test_a_fleet_with_one_defect_has_it_in_the_right_cell_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCERT_FLEET_TEST_KEY", SECRET)
    out = tmp_path / "reports"
    code = _certify(_fleet(tmp_path, THREE), out, "--area", "streaming", "--area", "transport", "-j", "3")
    captured = capsys.readouterr()
    assert code == 1, captured.out + captured.err
    matrix = json.loads((out / "matrix.json").read_text())
    assert schema_errors("harness/fleet-matrix", matrix) == []
    rows = {r["entry"]: r for r in matrix["entries"]}
    assert list(rows) == ["alpha", "broken", "gamma"]  # the file's order, whatever finished first
    statuses = {n: r["status"] for n, r in rows.items()}
    assert statuses == {"alpha": "passed", "broken": "failed", "gamma": "passed"}
    for check in ("stream_ends_with_done", "stream_done_sent_once"):
        assert rows["broken"]["cells"][check]["outcome"] == "failed"
        assert rows["alpha"]["cells"][check]["outcome"] == "passed"
        assert rows["gamma"]["cells"][check]["outcome"] == "passed"
    # Only the defect's checks failed, in that row only.
    failing = {
        (name, check)
        for name, row in rows.items()
        for check, cell in row["cells"].items()
        if cell["outcome"] == "failed"
    }
    assert failing == {("broken", "stream_ends_with_done"), ("broken", "stream_done_sent_once")}
    # The failing checks are the first columns.
    assert {c["id"] for c in matrix["checks"][:2]} == {"stream_ends_with_done", "stream_done_sent_once"}
    # gamma's key reached its mock (the authorised request passed) ...
    assert rows["gamma"]["cells"]["authorized_request_succeeds"]["outcome"] == "passed"
    # ... and each entry has its own full report folder.
    for name in rows:
        assert rows[name]["report_dir"] == name
        for file in ("results.json", "junit.xml", "report.html", "badge.svg"):
            assert (out / name / file).is_file()
        doc = json.loads((out / name / "results.json").read_text())
        assert doc["exit_code"] == (1 if name == "broken" else 0)
    html = (out / "matrix.html").read_text()
    assert "broken" in html and "stream_ends_with_done" in html and 'href="broken/report.html"' in html
    # A progress line per entry, and one stderr line naming the failed entry.
    assert sum(line.startswith("[") and "/3] " in line for line in captured.out.splitlines()) == 3
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "broken (failed)" in err[0]


def test_root_causes_come_first_and_their_dependents_name_them(tmp_path: Path) -> None:
    fleet = _fleet(tmp_path, "- name: ok\n- name: legacy\n  defects: [error_legacy_vllm_shape]\n")
    out = tmp_path / "reports"
    assert _certify(fleet, out, "--area", "errors", "--area", "request", "-q") == 1
    matrix = json.loads((out / "matrix.json").read_text())
    columns = [c["id"] for c in matrix["checks"]]
    assert matrix["checks"][0]["id"] == "rejections_carry_error_body"
    assert matrix["checks"][0]["root_cause"] is True
    legacy = {r["entry"]: r for r in matrix["entries"]}["legacy"]
    assert [c["id"] for c in legacy["causes"]] == ["rejections_carry_error_body"]
    assert legacy["cells"]["error_body_matches_profile_shape"] == {
        "outcome": "failed",
        "caused_by": "rejections_carry_error_body",
    }
    # The dependent failure comes after the root cause, before every check that passed everywhere.
    passed_everywhere = [
        c for c in columns if all(r["cells"][c]["outcome"] == "passed" for r in matrix["entries"])
    ]
    assert columns.index("error_body_matches_profile_shape") < min(map(columns.index, passed_everywhere))
    assert "rejections_carry_error_body" in (out / "matrix.html").read_text().split("<table>")[0]


def test_the_key_never_appears_in_output_or_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCERT_FLEET_TEST_KEY", SECRET)
    fleet = _fleet(
        tmp_path,
        """
- name: keyed
  profile: openai
  key_env: CHATCERT_FLEET_TEST_KEY
- name: refused
  endpoint: http://127.0.0.1:1
  key_env: CHATCERT_FLEET_TEST_KEY
""",
    )
    out = tmp_path / "reports"
    code = _certify(fleet, out, "--area", "transport", "--timeout", "5")
    captured = capsys.readouterr()
    assert code == 1
    rows = {r["entry"]: r for r in json.loads((out / "matrix.json").read_text())["entries"]}
    assert rows["keyed"]["status"] == "passed"
    assert rows["keyed"]["cells"]["authorized_request_succeeds"]["outcome"] == "passed"
    assert rows["refused"]["status"] == "unreachable"
    texts = [captured.out, captured.err, *(p.read_text() for p in out.rglob("*") if p.is_file())]
    assert not [t for t in texts if SECRET in t]


def test_a_gateway_counts_once_per_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`models: [...]` makes one entry per model; `models: all` asks the models route (the mock lists
    only "default"). The mock refuses a model it does not serve: that row fails, the others pass."""
    text = "- name: gw\n  models: [default, no-such-model]\n- name: listed\n  models: all\n"
    fleet = _fleet(tmp_path, text)
    out = tmp_path / "reports"
    assert _certify(fleet, out, "--area", "transport", "-q") == 1
    rows = {r["entry"]: r for r in json.loads((out / "matrix.json").read_text())["entries"]}
    assert list(rows) == ["gw--default", "gw--no-such-model", "listed--default"]
    assert [r["model"] for r in rows.values()] == ["default", "no-such-model", "default"]
    assert [r["status"] for r in rows.values()] == ["passed", "failed", "passed"]
    assert "gw--no-such-model (failed)" in capsys.readouterr().err


def test_a_fleet_that_passes_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    assert _certify(_fleet(tmp_path, "- {}\n- profile: openai\n"), out, "--area", "transport", "-q") == 0
    matrix = json.loads((out / "matrix.json").read_text())
    assert matrix["exit_code"] == 0 and matrix["summary"] == {"entries": 2, "passed": 2, "failed": 0}
    assert [r["entry"] for r in matrix["entries"]] == ["mock-1", "mock-2"]
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (None, "cannot read fleet file"),
        ("- name: [unclosed\n", "is not valid YAML"),
        ("- name: a\n  colour: blue\n", "schema harness/fleet"),
        ("[]\n", "schema harness/fleet"),
        ("- profile: liquidia\n", "unknown profile 'liquidia'"),
        ("- key_env: CHATCERT_FLEET_UNSET_VARIABLE\n", "CHATCERT_FLEET_UNSET_VARIABLE (key_env) is not set"),
        ("- name: a\n- name: a\n", "two entries are named 'a'"),
        ("- defects: [no_such_defect]\n", "unknown defect(s) 'no_such_defect'"),
        ("- endpoint: http://127.0.0.1:1\n  defects: [stream_missing_done]\n", "embedded mock only"),
        ("- endpoint: http://127.0.0.1:1\n  profile: openai\n", "is paid"),
    ],
)
def test_a_bad_fleet_file_exits_2_with_one_line_and_sends_nothing(
    text: str | None, needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = tmp_path / "missing.yaml" if text is None else _fleet(tmp_path, text)
    out = tmp_path / "reports"
    assert _certify(fleet, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert not (out / "matrix.json").exists()


def test_models_all_needs_a_models_route_and_a_profile_path_is_relative_to_the_fleet_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    compatible = (data_dir("profiles") / "compatible.yaml").read_text(encoding="utf-8")
    assert "  models: /v1/models\n" in compatible
    (tmp_path / "no-models.yaml").write_text(
        compatible.replace("  models: /v1/models\n", ""), encoding="utf-8"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    fleet = _fleet(tmp_path, "- profile: no-models.yaml\n  models: all\n")
    assert main(["certify", "--fleet", str(fleet), "--report-dir", str(elsewhere)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "models: all needs a models route" in err[0], err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--endpoint", "http://127.0.0.1:1"], "--endpoint (or CHATCERT_ENDPOINT) cannot be combined"),
        (["--model", "m"], "--model cannot be combined"),
        (["--fuzz"], "--fuzz cannot be combined"),
        (["--check", "no_such_check"], "unknown check id 'no_such_check'"),
    ],
)
def test_options_that_clash_with_a_fleet_exit_2(
    extra: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _certify(_fleet(tmp_path, "- name: a\n"), tmp_path / "r", *extra) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err


def test_a_dry_run_plans_every_entry_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATCERT_FLEET_TEST_KEY", SECRET)
    text = (
        "- name: paid\n  endpoint: http://127.0.0.1:1\n  profile: openai\n"
        "  key_env: CHATCERT_FLEET_TEST_KEY\n- name: local\n"
    )
    out = tmp_path / "reports"
    assert _certify(_fleet(tmp_path, text), out, "--dry-run", "--area", "streaming") == 0
    printed = capsys.readouterr().out
    lines = {line.split()[0]: line for line in printed.splitlines()[1:-1]}
    assert set(lines) == {"paid", "local"}
    assert "http://127.0.0.1:1 (openai, " in lines["paid"] and "embedded mock (compatible, " in lines["local"]
    requests = [int(re.search(r": (\d+) request", line).group(1)) for line in lines.values()]  # type: ignore[union-attr]
    assert all(n > 0 for n in requests)
    assert f"total: {sum(requests)} request(s)" in printed
    assert SECRET not in printed and not out.exists()


def test_jobs_without_a_fleet_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "-j", "2"]) == 2
    assert "--fleet" in capsys.readouterr().err


# ---- the same through pytest: `pytest suites --fleet FILE -n N` (pytest-xdist) -------------------------

ROOT = Path(__file__).resolve().parents[1]


def _pytest(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "CHATCERT_"))}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_pytest_suites_over_a_fleet_with_xdist_one_target_per_entry(tmp_path: Path) -> None:
    fleet = _fleet(
        tmp_path,
        "- name: alpha\n- name: broken\n  defects: [stream_missing_done]\n"
        "- name: legacy\n  defects: [error_legacy_vllm_shape]\n",
    )
    junit = tmp_path / "junit.xml"
    suites = ("suites/test_streaming.py", "suites/test_request.py", "suites/test_errors.py")
    proc = _pytest(*suites, "--fleet", str(fleet), "-n", "2", "-v", f"--junitxml={junit}")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    outcomes: dict[str, str] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        skipped = case.find("skipped") is not None
        outcomes[case.get("name", "")] = "failed" if failed else ("skipped" if skipped else "passed")
    tests = {re.sub(r"\[[a-z]+-", "[", name) for name in outcomes}
    assert (
        "test_streaming[stream_ends_with_done]" in tests
        and "test_request[rejections_carry_error_body]" in tests
    )
    for test in tests:  # every check once per entry, the id naming the entry
        for entry in ("alpha", "broken", "legacy"):
            assert test.replace("[", f"[{entry}-") in outcomes
    bad = {name for name, outcome in outcomes.items() if outcome == "failed"}
    assert bad == {
        "test_streaming[broken-stream_ends_with_done]",
        "test_streaming[broken-stream_done_sent_once]",
        "test_request[legacy-rejections_carry_error_body]",
        "test_errors[legacy-error_body_matches_profile_shape]",
    }
    # Each entry's tests ran on one worker (one run, one embedded mock per entry) ...
    workers: dict[str, set[str]] = {}
    for line in proc.stdout.splitlines():
        found = re.match(r"\[(gw\d+)\] .*(?:PASSED|FAILED|SKIPPED|XFAIL).* .*::test_\w+\[([a-z]+)-", line)
        if found:
            workers.setdefault(found.group(2), set()).add(found.group(1))
    assert set(workers) == {"alpha", "broken", "legacy"}
    assert all(len(w) == 1 for w in workers.values()), workers
    # ... and the workers' root causes reach the controller's summary, named after the entry, once.
    assert proc.stdout.count("CAUSE legacy: rejections_carry_error_body:") == 1


@pytest.mark.parametrize(
    ("text", "extra", "needle"),
    [
        ("- profile: liquidia\n", [], "unknown profile 'liquidia'"),
        ("- {}\n", ["--model", "m"], "--model cannot be combined with --fleet"),
    ],
)
def test_pytest_with_a_bad_fleet_exits_2(text: str, extra: list[str], needle: str, tmp_path: Path) -> None:
    proc = _pytest("suites/test_streaming.py", "--fleet", str(_fleet(tmp_path, text)), *extra)
    assert proc.returncode == 2
    assert needle in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("nodeid", "expected"),
    [
        ("suites/test_x.py::test_x[a-check_one]", "a"),
        ("suites/test_x.py::test_x[a-b-check_one]", "a-b"),
        ("suites/test_x.py::test_x[check_one-a-b]", "a-b"),
        ("suites/test_x.py::test_x[ab-check_one]", None),
        ("suites/test_x.py::test_x", None),
    ],
)
def test_a_test_id_names_its_entry(nodeid: str, expected: str | None) -> None:
    assert _entry_of(nodeid, ["a", "a-b"]) == expected


def test_a_gateway_whose_model_list_cannot_be_read_is_an_unreachable_row(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = _fleet(tmp_path, "- name: ok\n- name: gone\n  endpoint: http://127.0.0.1:1\n  models: all\n")
    out = tmp_path / "reports"
    assert _certify(fleet, out, "--area", "transport", "--timeout", "5") == 1
    rows = {r["entry"]: r for r in json.loads((out / "matrix.json").read_text())["entries"]}
    assert rows["gone"]["status"] == "unreachable" and rows["gone"]["cells"] == {}
    assert "models: all" in rows["gone"]["message"]
    assert rows["ok"]["status"] == "passed"
    assert "gone (unreachable)" in capsys.readouterr().err


def test_an_interrupted_fleet_marks_entries_not_started_and_keeps_the_finished(tmp_path: Path) -> None:
    """Ctrl-C reaches the main thread while it waits for the entries: what finished stays, what did not
    start is `not_run`, and the result says it was interrupted (exit 130)."""
    entries = load_fleet(_fleet(tmp_path, "- name: one\n- name: two\n- name: three\n"))
    settings = FleetSettings(report_dir=tmp_path / "reports", areas=("transport",))

    def interrupt_after_the_first(outcome: EntryOutcome, done: int, total: int) -> None:
        raise Interrupted("SIGINT")

    result = run_fleet(entries, settings, open_entry, jobs=1, on_done=interrupt_after_the_first)
    assert result.interrupted == "SIGINT" and result.exit_code == 130
    statuses = [o.status for o in result.outcomes]
    assert statuses[0] == "passed" and "not_run" in statuses
    assert (tmp_path / "reports" / "one" / "results.json").is_file()
    assert not (tmp_path / "reports" / "three").exists()


def test_entries_without_a_name_are_named_after_host_port_and_model(tmp_path: Path) -> None:
    text = "- endpoint: http://127.0.0.1:8000\n  model: org/m 1\n- endpoint: https://example.com\n- {}\n"
    names = [e.name for e in load_fleet(_fleet(tmp_path, text))]
    assert names == ["127.0.0.1_8000--org_m_1", "example.com_443", "mock-3"]
