"""End to end: `chatcert certify` against the embedded mock and against nothing; exit codes and reports."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.etree import ElementTree

import pytest

from chatcert._schemas import schema_errors
from chatcert.cli import main


def test_zero_argument_certify_passes_and_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["certify", "--report-dir", str(tmp_path), "-q"])
    out = capsys.readouterr().out
    assert code == 0, out
    doc = json.loads((tmp_path / "results.json").read_text())
    assert schema_errors("harness/results", doc) == []
    assert doc["summary"]["passed"] >= 20
    assert doc["summary"]["failed"] == 0
    assert doc["certificate"]["verdict"] == "certified"
    assert "core" in doc["certificate"]["earned"]
    for result in doc["results"]:
        if result["outcome"] == "passed" and result["requests"]:
            assert result["reproducer"].startswith("curl ")
    junit = ET.parse(tmp_path / "junit.xml").getroot()
    assert junit.tag == "testsuites"
    assert int(junit.get("tests", "0")) == len(doc["results"])
    html = (tmp_path / "report.html").read_text()
    assert html.count('<tr class="r ') >= html.count(" data-check=") == len(doc["results"])
    assert (tmp_path / "badge.svg").read_text().startswith("<svg")
    assert "certificate: certified" in out


def test_unknown_profile_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "--profile", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown profile 'nope'" in err[0]


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["certify", "--profile", "liquidia"], "did you mean 'liquidai'?"),
        (["bench", "--profile", "opnai"], "did you mean 'openai'?"),
        (["certify", "--area", "visoin"], "did you mean 'vision'?"),
        (["certfy"], "did you mean 'certify'?"),
        (["certify", "--fuzzz"], "did you mean '--fuzz'?"),
        (["certify", "--only", "models_list_ok"], "did you mean '--check'?"),
        (["certify", "--url", "http://127.0.0.1:1"], "did you mean '--endpoint'?"),
        (["certify", "--defect", "stream_missing_done"], "--defect is an option of 'chatcert mock'"),
        (["certify", "--max-requsts=3"], "did you mean '--max-requests'?"),
    ],
)
def test_a_typo_gets_the_closest_valid_value(
    argv: list[str], hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors leave through SystemExit
        code = exc.code  # type: ignore[assignment]
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and hint in err[0], err


def test_nothing_close_gets_no_guess(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "--profile", "zzzz"]) == 2
    assert "did you mean" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (
            ["--api-key-env", "CHATCERT_TEST_UNSET_VARIABLE"],
            "CHATCERT_TEST_UNSET_VARIABLE (from --api-key-env)",
        ),
        (["--api-key-file", "/nonexistent/key.txt"], "cannot read the file given to --api-key-file"),
    ],
)
def test_a_named_key_is_read_even_for_the_embedded_mock(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A named key that cannot be read is the user's error, with or without --endpoint."""
    assert main(["certify", *argv, "--report-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "results.json").exists()


def test_the_embedded_mock_takes_the_named_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mock_server.runner

    started: list[object] = []
    real = mock_server.runner.MockServer

    def recording(*args: object, **kwargs: object) -> object:
        started.append(kwargs.get("api_key"))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(mock_server.runner, "MockServer", recording)
    monkeypatch.setenv("CHATCERT_TEST_KEY", "test-key-0123456789abcdef")
    argv = ["certify", "--profile", "openai", "--api-key-env", "CHATCERT_TEST_KEY", "--area", "transport"]
    assert main([*argv, "--report-dir", str(tmp_path), "-q"]) == 0
    assert started == ["test-key-0123456789abcdef"]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert {r["id"]: r["outcome"] for r in doc["results"]}["authorized_request_succeeds"] == "passed"
    assert (
        "test-key-0123456789abcdef" not in capsys.readouterr().out + (tmp_path / "results.json").read_text()
    )


def test_unreachable_endpoint_exits_1_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["certify", "--endpoint", "http://127.0.0.1:9", "--report-dir", str(tmp_path), "-q"])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unreachable" in err[0]
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["stopped"] and doc["budget"]["requests_sent"] <= 3


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["certify", "--endpoint", "ftp://example"], "http(s) URL"),
        (["certify", "--endpoint", "http://127.0.0.1:99999"], "invalid port"),
        (["certify", "--api-key-env", "CHATCERT_SURELY_UNSET_VAR"], "not set"),
        (["certify", "--api-key-file", "/nonexistent/key"], "cannot read"),
        (["certify", "--claim", "vision"], "--claim takes"),
        (["certify", "--claim", "teleport=true"], "unknown capability"),
        (["certify", "--waive", "no_such_check=reason"], "unknown check id"),
        (["certify", "--waive", "novalue"], "--waive takes"),
        (["certify", "--max-requests", "0"], "must be at least 1"),
        (["certify", "--timeout", "abc"], "not a number"),
        (["certify", "--profile", "/nonexistent/profile.yaml"], "not found"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CHATCERT_SURELY_UNSET_VAR", raising=False)
    if argv[1:2] == ["--api-key-env"] or argv[1:2] == ["--api-key-file"]:
        argv = [*argv, "--endpoint", "http://127.0.0.1:9"]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse errors exit through SystemExit
        code = int(exc.code or 0)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1, err
    assert needle in err[0]


@pytest.mark.parametrize("content", ["name: [unclosed", "- just\n- a list\n", "name: x\ntier: weird\n"])
def test_bad_profile_files_exit_2(tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(content)
    assert main(["certify", "--profile", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(path) in err[0]


def test_every_builtin_profile_certifies_the_mock(tmp_path: Path) -> None:
    for name in ("openai", "compatible", "liquidai", "pharia", "libertai"):
        code = main(["certify", "--profile", name, "--report-dir", str(tmp_path / name), "-q"])
        doc = json.loads((tmp_path / name / "results.json").read_text())
        failed = [(r["id"], r["message"]) for r in doc["results"] if r["outcome"] in ("failed", "errored")]
        assert code == 0 and not failed, (name, failed)


def test_dry_run_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["certify", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "nothing is sent" in out and "request(s)" in out


def test_waivers_turn_known_failures_into_a_pass_and_are_reported(tmp_path: Path) -> None:
    from mock_server.runner import MockServer

    with MockServer(profile="compatible", defects=("finish_reason_empty_string",)) as server:
        base = ["certify", "--endpoint", server.url, "--area", "response", "-q"]
        assert main([*base, "--report-dir", str(tmp_path / "plain")]) == 1
        doc = json.loads((tmp_path / "plain" / "results.json").read_text())
        failing = [r["id"] for r in doc["results"] if r["outcome"] == "failed"]
        assert "response_finish_reason_valid" in failing
        waivers = [f"--waive={cid}=tracked in issue 42" for cid in failing]
        assert main([*base, *waivers, "--report-dir", str(tmp_path / "waived")]) == 0
    doc = json.loads((tmp_path / "waived" / "results.json").read_text())
    waived = {r["id"] for r in doc["results"] if r["waived"] == "tracked in issue 42"}
    assert waived == set(failing)
    assert "tracked in issue 42" in (tmp_path / "waived" / "report.html").read_text()
    junit = ElementTree.parse(tmp_path / "waived" / "junit.xml").getroot()
    # chatcert exited 0, so CI's JUnit view is green: waived failures are skipped with the waiver's reason.
    assert junit.get("failures") == "0" and junit.get("errors") == "0"
    assert all(s.get("failures") == "0" for s in junit.iter("testsuite"))
    for cid in failing:
        case = next(c for c in junit.iter("testcase") if c.get("name") == cid)
        skipped = case.find("skipped")
        assert skipped is not None and skipped.get("message") == "waived: tracked in issue 42"
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props["waived"] == "tracked in issue 42" and props["outcome"] == "failed"


def test_checks_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) >= 90
    assert len({r["id"] for r in rows}) == len(rows)
    for row in rows:
        assert row["level"] in ("MUST", "SHOULD", "PROFILE") and row["source"]


def test_follow_servers_sends_the_key_only_to_allowed_hosts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "certify",
            "--profile",
            "libertai",
            "--area",
            "discovery",
            "--follow-servers",
            "--report-dir",
            str(tmp_path / "denied"),
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "not in --allow-host" in out
    assert not (tmp_path / "denied" / "servers").exists()
    code = main(
        [
            "certify",
            "--profile",
            "libertai",
            "--area",
            "discovery",
            "--follow-servers",
            "--allow-host",
            "127.0.0.1",
            "--report-dir",
            str(tmp_path / "allowed"),
            "-q",
        ]
    )
    assert code == 0
    followed = list((tmp_path / "allowed" / "servers").glob("*/results.json"))
    assert len(followed) == 1
    doc = json.loads(followed[0].read_text())
    assert doc["summary"]["passed"] > 0 and doc["summary"]["failed"] == 0


def test_the_terminal_totals_are_the_results_json_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The table's total row, disabled included, says what results.json and the JUnit file say."""
    from mock_server.runner import MockServer

    with MockServer(profile="compatible", defects=("finish_reason_empty_string",)) as server:
        argv = ["certify", "--endpoint", server.url, "--exclude", "tool_*", "--report-dir", str(tmp_path)]
        assert main(argv) == 1
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("area "))
    total = next(line for line in out.splitlines() if line.startswith("total "))
    table = dict(zip(header.split()[1:], (int(n) for n in total.split()[1:]), strict=True))
    summary = json.loads((tmp_path / "results.json").read_text())["summary"]
    assert table == {k: summary[k] for k in table} and set(table) == {
        "passed",
        "non_strict",
        "failed",
        "errored",
        "skipped",
        "disabled",
    }
    assert table["disabled"] > 0  # the fuzz checks (no --fuzz) and the excluded tool checks
    junit = ElementTree.parse(tmp_path / "junit.xml").getroot()
    assert int(junit.get("failures") or -1) == table["failed"]
    assert int(junit.get("tests") or -1) == sum(table.values())


def test_each_failure_prints_a_one_line_reproducer_and_an_empty_value_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mock_server.runner import MockServer

    with MockServer(profile="compatible", defects=("finish_reason_empty_string",)) as server:
        argv = ["certify", "--endpoint", server.url, "--area", "response", "--report-dir", str(tmp_path)]
        assert main(argv) == 1
    out = capsys.readouterr().out
    block = out[out.index("\nfailures:") : out.index("\nskipped (")]
    after = block.split("  FAIL  response    response_finish_reason_valid\n", 1)[1].splitlines()
    lines = [
        line.strip() for line in after[: next(i for i, x in enumerate(after) if not x.startswith("      "))]
    ]
    # finish_reason "" is printed as (empty), not a blank line; the reproducer is one line, by default.
    assert lines[1:] == [
        "expected: stop | length | tool_calls | content_filter | function_call",
        "got:      (empty)",
        lines[3],
    ]
    assert lines[3].startswith("Reproduce with: curl -sS -i -X POST http://127.0.0.1:")
    # Skipped checks: one block, grouped by reason, each reason with its count and checks.
    doc = json.loads((tmp_path / "results.json").read_text())
    assert f"skipped ({doc['summary']['skipped']}), by reason:" in out


def test_target_is_mock_is_offered_only_where_it_does_something(capsys: pytest.CaptureFixture[str]) -> None:
    helps = {}
    for command in ("certify", "bench", "replay"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        helps[command] = "".join(capsys.readouterr().out.split())  # help wraps anywhere, even at a '-'
    assert "--target-is-mockthe--endpointisachatcertmock:alsorunmock-onlyfaultchecks" in helps["certify"]
    assert "--target-is-mockthe--endpointisachatcertmock:send--mock-scenario" in helps["bench"]
    assert "--target-is-mock" not in helps["replay"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("choice", "no_color", "tty", "coloured"),
    [
        ("auto", False, True, True),
        ("auto", True, True, False),  # NO_COLOR wins over a terminal
        ("auto", False, False, False),  # a pipe or CI log
        ("always", True, False, True),  # the explicit option wins over NO_COLOR
        ("never", False, True, False),
    ],
)
def test_colour_follows_the_option_the_terminal_and_no_color(
    choice: str, no_color: bool, tty: bool, coloured: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatcert.reporting.console import use_colour

    monkeypatch.delenv("TERM", raising=False)
    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(choice, _Terminal() if tty else io.StringIO()) is coloured


def test_no_color_output_has_no_escape_codes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mock_server.runner import MockServer

    with MockServer(profile="compatible", defects=("stream_missing_done",)) as server:
        base = ["certify", "--endpoint", server.url, "--area", "streaming", "--report-dir", str(tmp_path)]
        monkeypatch.setenv("NO_COLOR", "1")
        assert main(base) == 1
        plain = capsys.readouterr().out
        assert main([*base, "--color", "always"]) == 1
        painted = capsys.readouterr().out
    assert "\x1b[" not in plain and "FAIL " in plain
    assert "\x1b[1;31mFAIL \x1b[0m" in painted and "\x1b[1;31mcertificate: not certified\x1b[0m" in painted
