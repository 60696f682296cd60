"""report.html tells the story in the order a reader needs it, in one self-contained file (issue 16.1)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chatcert.cli import main
from mock_server.runner import MockServer


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, object]]:
    out = tmp_path_factory.mktemp("html")
    with MockServer(defects=("stream_missing_done", "finish_reason_empty_string")) as server:
        assert main(["certify", "--endpoint", server.url, "--report-dir", str(out), "-q"]) == 1
    return (out / "report.html").read_text(), json.loads((out / "results.json").read_text())


def test_the_verdict_banner_comes_first_then_failures_then_every_check(
    failing_run: tuple[str, dict[str, object]],
) -> None:
    page, _ = failing_run
    banner = page.index('<header class="banner v-not-certified"><h1>certificate: not certified</h1>')
    assert banner < page.index('id="failures"') < page.index('id="all-checks"') < page.index("<h2>Run</h2>")


def test_each_failure_has_an_index_line_and_a_card_with_its_evidence(
    failing_run: tuple[str, dict[str, object]],
) -> None:
    page, doc = failing_run
    results = doc["results"]
    assert isinstance(results, list)
    failing = [r for r in results if r["outcome"] in ("failed", "errored") and not r["caused_by"]]
    assert {"stream_ends_with_done", "response_finish_reason_valid"} <= {r["id"] for r in failing}
    index = page[page.index('<table class="index">') : page.index("</table>")]
    for r in failing:
        assert f'href="#check-{r["id"]}"' in index
        card = page[page.index(f'id="check-{r["id"]}"') :]
        card = card[: card.index("</section>")]
        assert '<div class="label">expected</div>' in card and '<div class="label">request</div>' in card
        assert '<pre class="curl">curl ' in card
    # finish_reason "" reads (empty), and bodies are pretty-printed JSON, not one escaped line.
    card = page[page.index('id="check-response_finish_reason_valid"') :]
    assert "<pre>(empty)</pre>" in card[: card.index("</section>")]
    assert (
        "\n  &quot;finish_reason&quot;: &quot;&quot;" in card
        or "&quot;finish_reason&quot;: &quot;&quot;" in card
    )


def test_every_check_appears_once_by_area_and_passing_ones_are_folded(
    failing_run: tuple[str, dict[str, object]],
) -> None:
    page, doc = failing_run
    results = doc["results"]
    assert isinstance(results, list)
    assert sorted(re.findall(r' data-check="([a-z0-9_]+)"', page)) == sorted(r["id"] for r in results)
    assert "<details open" not in page[page.index('id="all-checks"') :]  # areas start folded
    assert "req/tok" not in page  # shared probes made passing checks read 0/0


def test_the_page_is_self_contained_and_has_no_raw_json_dump(
    failing_run: tuple[str, dict[str, object]],
) -> None:
    page, _ = failing_run
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched from a network
    assert "<link " not in page and "@import" not in page
    assert page.rstrip().endswith("</html>")
    run = page[page.index("<h2>Run</h2>") :]
    assert run.startswith("<h2>Run</h2><details>")  # metadata folded at the end


def test_outcome_filters_exist_for_each_outcome(failing_run: tuple[str, dict[str, object]]) -> None:
    page, _ = failing_run
    for key in ("all", "failing", "warn", "passed", "skipped"):
        assert f'id="f-{key}"' in page
        assert key == "all" or f"#f-{key}:checked~main" in page


def test_a_certified_run_has_a_green_banner_and_no_failure_section(tmp_path: Path) -> None:
    assert main(["certify", "--report-dir", str(tmp_path), "-q"]) == 0
    page = (tmp_path / "report.html").read_text()
    assert '<header class="banner v-certified"><h1>certificate: certified</h1>' in page
    assert 'id="failures"' not in page


def test_the_four_formats_agree_on_every_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Terminal (-v lists every check), results.json, junit.xml and report.html: same outcome per check."""
    import xml.etree.ElementTree as ET

    with MockServer(defects=("stream_missing_done", "finish_reason_empty_string")) as server:
        argv = ["certify", "--endpoint", server.url, "--report-dir", str(tmp_path), "-v", "--color", "never"]
        argv += ["--waive", "stream_done_sent_once=tracked upstream"]
        assert main(argv) == 1
    out = capsys.readouterr().out
    doc = json.loads((tmp_path / "results.json").read_text())
    truth = {r["id"]: ("waived" if r["waived"] else r["outcome"]) for r in doc["results"]}
    marks = {"PASS": "passed", "WARN": "non_strict", "FAIL": "failed", "ERROR": "errored", "skip": "skipped"}
    marks["off"] = "disabled"
    terminal = {}
    for m in re.finditer(r"^\[\s*\d+/\d+\] (\S+)\s+\S+\s+([a-z0-9_]+)(  \(waived: .*\))?$", out, re.M):
        terminal[m[2]] = "waived" if m[3] else marks[m[1]]
    assert terminal == truth
    junit = {}
    for case in ET.parse(tmp_path / "junit.xml").getroot().iter("testcase"):
        kinds = {child.tag for child in case} - {"properties", "system-out"}
        skipped = case.find("skipped")
        if skipped is not None and (skipped.get("message") or "").startswith("waived:"):
            junit[case.get("name")] = "waived"
        elif skipped is not None:
            junit[case.get("name")] = (skipped.get("message") or "").split(":")[0]
        else:
            junit[case.get("name")] = {"failure": "failed", "error": "errored"}.get(
                next(iter(kinds), ""), "non_strict" if case.find("system-out") is not None else "passed"
            )
    assert junit == truth
    page = (tmp_path / "report.html").read_text()
    rows = re.findall(
        r'<tr class="r ([a-z_]+)[^"]*" data-check="([a-z0-9_]+)">.*?</td>'
        r'<td class="o-[a-z_]+">[a-z_]+( \(waived\))?',
        page,
    )
    html = {cid: ("waived" if waived else outcome) for outcome, cid, waived in rows}
    assert html == truth
    counts = doc["summary"]
    assert (
        sum(counts.values()) == len(truth)
        and counts["failed"] == sum(v == "failed" for v in truth.values()) + 1
    )


def test_a_fuzz_failure_shows_the_exchange_that_failed_first(tmp_path: Path) -> None:
    with MockServer(defects=("bad_base64_500",)) as server:
        argv = [
            "certify",
            "--endpoint",
            server.url,
            "--fuzz",
            "--area",
            "fuzz",
            "--report-dir",
            str(tmp_path),
        ]
        assert main([*argv, "-q", "--max-examples", "5"]) == 1
    page = (tmp_path / "report.html").read_text()
    card = page[page.index('id="check-fuzz_invalid_payloads_rejected"') :]
    card = card[: card.index("</section>")]
    first_response = card[card.index('<div class="label">response</div>') :]
    assert first_response.split("\n", 1)[0].endswith("HTTP 500")
