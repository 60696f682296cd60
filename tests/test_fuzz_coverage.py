"""Fuzzing covers its ground whatever the draw: one explicit example per invalid class and valid feature
goes first, so a derandomized run with the default --max-examples still catches crash defects that the
search alone misses (issue 14, point 5), each as one finding with one counterexample."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import chatcert.checks.fuzz  # noqa: F401  (registers the fuzz area until chatcert.checks imports it)
from chatcert._schemas import schema_errors
from chatcert.cli import main
from chatcert.fuzz import invalid, valid
from chatcert.fuzz.explicit import first_examples
from chatcert.fuzz.invalid import InvalidCase, Kind, corpus_cases, explicit_cases, kinds
from chatcert.fuzz.rules import PayloadRules
from chatcert.fuzz.search import DEFAULT_MAX_EXAMPLES
from chatcert.images import parse_data_url, sniff
from chatcert.profiles import load_profile
from chatcert.strategies import invalid_chat_request_examples, valid_chat_request_examples
from mock_server.fixtures import MockServerFactory
from mock_server.journal import body_record

PROFILES = ["openai", "compatible", "liquidai", "pharia", "libertai"]
# Every applicable class once: a profile with every claim and both image limits, and one with none.
EVERYTHING = PayloadRules(
    model="m",
    logprobs=True,
    response_format=True,
    external_image_urls="rejected",
    max_image_width=64,
    max_image_height=64,
    min_image_width=2,
    min_image_height=2,
    cache_prompt=True,
    image_mime_label="checked",
)
NOTHING = PayloadRules(model="m", vision=False, tools=False, streaming=False, stream_usage=False)
RULES = {name: PayloadRules.of(load_profile(name)) for name in PROFILES} | {
    "everything": EVERYTHING,
    "nothing": NOTHING,
}
CRASHES = ("bad_base64_500", "empty_messages_500")


def _generated_kinds(rules: PayloadRules, examples: int = 400) -> set[str]:
    """The kinds the search strategy itself produces, derandomized (no request sent)."""
    seen: set[str] = set()

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @given(invalid.cases(rules))
    def collect(case: InvalidCase) -> None:
        seen.add(case.kind)

    collect()
    return seen


# -- the explicit pass enumerates the registries ---------------------------------------------------


@pytest.mark.parametrize("name", list(RULES))
def test_explicit_invalid_cases_are_one_per_class_then_the_corpus(name: str) -> None:
    rules = RULES[name]
    sent = [case.kind for case in explicit_cases(rules)]
    classes = [kind.name for kind in kinds(rules)]
    corpus = [case.kind for case in corpus_cases(rules)]
    assert sent == classes + corpus
    assert len(set(classes)) == len(classes)
    # The registry is the strategy's own: whatever the search draws belongs to a registered class, and
    # it draws from most of them (400 draws do not reach every one of some sixty: hence the explicit pass).
    drawn = _generated_kinds(rules)
    assert drawn <= set(classes) | set(corpus), drawn - set(classes) - set(corpus)
    assert len(drawn & set(classes)) >= len(classes) // 2


def test_the_invalid_registry_follows_the_claims() -> None:
    every = {k.name for k in invalid.KINDS}
    assert {k.name for k in kinds(EVERYTHING)} == every
    bare = {k.name for k in kinds(NOTHING)}
    assert bare == {
        k
        for k in every
        if not k.startswith(("tool-", "wrong-type:stream", "stream-options", "out-of-range:top_logprobs"))
        and k
        not in (
            "truncated-base64",
            "zero-byte",
            "not-an-image",
            "mime-mismatch",
            "bare-string",
            "file-url",
            "external-url",
            "oversize-image",
            "undersize-image",
        )
    }
    pharia = {k.name for k in kinds(RULES["pharia"])}
    assert "oversize-image" in pharia and "external-url" in pharia and "tool-choice-undefined" not in pharia


@pytest.mark.parametrize("name", list(RULES))
def test_explicit_invalid_cases_break_their_rule(name: str) -> None:
    for case in explicit_cases(RULES[name]):
        try:
            body = case.json()
        except (ValueError, UnicodeDecodeError):
            assert case.kind.startswith(("not-json:", "corpus:")), case
            continue
        if case.kind in ("json-not-object", "corpus:body-is-array"):
            assert not isinstance(body, dict)
        elif case.kind == "wrong-content-type":
            assert (
                case.content_type != "application/json" and schema_errors("openai/chat-request", body) == []
            )
        elif isinstance(body, dict) and isinstance(body.get("max_tokens"), int):
            assert body["max_tokens"] <= 8, case


def test_a_mislabelled_class_is_refused() -> None:
    wrong = Kind("empty-messages", "x", invalid.KINDS[0].build)  # builds missing-messages cases
    with pytest.raises(AssertionError, match="built a case of kind"):
        first_examples({"x": wrong.strategy(EVERYTHING)})


def _image_formats(body: dict[str, Any]) -> set[str]:
    out = set()
    for message in body["messages"]:
        content = message.get("content")
        for part in content if isinstance(content, list) else ():
            if part.get("type") == "image_url":
                info = sniff(parse_data_url(part["image_url"]["url"]).data)
                if info is not None:
                    out.add(info.format)
    return out


def _detail(body: dict[str, Any]) -> bool:
    parts = [p for m in body["messages"] if isinstance(m.get("content"), list) for p in m["content"]]
    return any("detail" in p.get("image_url", {}) for p in parts)


def _has_format(fmt: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: fmt in _image_formats(body)


def _has_format_type(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: body.get("response_format", {}).get("type") == kind


def _has_key(key: str) -> Callable[[dict[str, Any]], bool]:
    return lambda body: key in body


# The test's own view of each feature: a feature added to valid.FEATURES needs a line here.
HAS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "system-message": lambda b: b["messages"][0]["role"] == "system",
    "developer-message": lambda b: b["messages"][0]["role"] == "developer",
    "multi-turn": lambda b: any(m["role"] == "assistant" and "tool_calls" not in m for m in b["messages"]),
    "content-parts": lambda b: (
        isinstance(b["messages"][-1]["content"], list)
        or any(isinstance(m["content"], list) for m in b["messages"] if m["role"] == "user")
    ),
    **{f"image:{f}": _has_format(f) for f in ("png", "jpeg", "gif", "webp")},
    "image-detail": _detail,
    "tools": lambda b: bool(b.get("tools")),
    "tool-round": lambda b: any(m["role"] == "tool" for m in b["messages"]),
    "tool_choice:none": lambda b: b.get("tool_choice") == "none",
    "tool_choice:auto": lambda b: b.get("tool_choice") == "auto",
    "tool_choice:required": lambda b: b.get("tool_choice") == "required",
    "tool_choice:named": lambda b: isinstance(b.get("tool_choice"), dict),
    "parallel_tool_calls": lambda b: "parallel_tool_calls" in b,
    **{
        key: _has_key(key)
        for key in (
            "temperature",
            "top_p",
            "presence_penalty",
            "frequency_penalty",
            "n",
            "stop",
            "seed",
            "max_completion_tokens",
            "user",
            "logprobs",
            "top_logprobs",
            "cache_prompt",
            "stream_options",
        )
    },
    "stream:true": lambda b: b.get("stream") is True,
    "stream:false": lambda b: b.get("stream") is False,
    **{f"response_format:{k}": _has_format_type(k) for k in ("text", "json_object", "json_schema")},
}


def test_every_registered_feature_has_an_oracle() -> None:
    assert set(HAS) == {f.name for f in valid.FEATURES}


@pytest.mark.parametrize("name", list(RULES))
def test_explicit_valid_requests_carry_each_feature(name: str) -> None:
    rules = RULES[name]
    explicit = valid.explicit_requests(rules)
    assert [feature for feature, _ in explicit] == [f.name for f in valid.features(rules)]
    for feature, body in explicit:
        assert HAS[feature](body), (feature, body)
        assert schema_errors("openai/chat-request", body) == [], feature
        assert body["max_tokens"] == 1  # the simplest request: the explicit pass stays cheap
    claimed = {f.name for f in valid.features(rules)}
    if not rules.vision:
        assert not any(f.startswith("image") for f in claimed)
    if not rules.tools:
        assert not any(f.startswith(("tool", "parallel")) for f in claimed)
    if not rules.streaming:
        assert not any(f.startswith("stream") for f in claimed)


def test_the_generator_only_switches_registered_features() -> None:
    """`_Switches` refuses an unregistered name, so drawing widely proves every switch is registered."""

    @settings(max_examples=150, database=None, deadline=None, suppress_health_check=list(HealthCheck))
    @given(valid.requests(EVERYTHING))
    def draw(body: dict[str, Any]) -> None:
        assert body["messages"]

    draw()
    with pytest.raises(KeyError, match="not registered"):
        valid._known("unheard-of")


def test_explicit_examples_do_not_depend_on_the_seed_or_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    before = [c.body for c in invalid.explicit_cases.__wrapped__(RULES["compatible"])]
    monkeypatch.setenv("CI", "1")
    assert [c.body for c in invalid.explicit_cases.__wrapped__(RULES["compatible"])] == before


# -- against the mock ---------------------------------------------------------------------------------


def _certify(report: Path, url: str, *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(
        ["certify", "--endpoint", url, "--fuzz", "--area", "fuzz", "--report-dir", str(report), "-q", *argv]
    )
    return code, json.loads((report / "results.json").read_text())


def _fuzz(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in doc["results"] if r["area"] == "fuzz"}


def _replays(report: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((report / "failures").glob("*.json"))]


@pytest.mark.parametrize("examples", [[], ["--max-examples", "1"]], ids=["default", "one-example"])
def test_ci_run_catches_both_crash_defects_once_each(
    examples: list[str], mock_server: MockServerFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CI", "1")  # derandomized: the setting under which the search alone missed them
    server = mock_server("compatible", defects=CRASHES)
    runs = []
    for attempt in ("first", "second"):
        code, doc = _certify(tmp_path / attempt, server.url, *examples)
        results = _fuzz(doc)
        failed = results["fuzz_invalid_payloads_rejected"]
        assert code == 1 and failed["outcome"] == "failed", failed
        others = {i: r["outcome"] for i, r in results.items() if i != failed["id"]}
        assert set(others.values()) == {"passed"}, others
        assert failed["message"].startswith("2 distinct failure(s)"), failed["message"]
        replays = _replays(tmp_path / attempt)
        found = sorted(
            (r["expected"]["rule"], r["expected"]["kind"], r["observed"]["status"]) for r in replays
        )
        assert found == [("REQ2", "empty-messages", 500), ("V5", "truncated-base64", 500)]
        bodies = {r["expected"]["kind"]: r["request"]["body"]["json"] for r in replays}
        assert bodies["empty-messages"] == {"model": "default", "messages": [], "max_tokens": 1}
        # The same crash reached through the corpus is named, not reported again.
        assert "also: corpus:empty-messages" in failed["message"]
        runs.append((failed["message"].replace(str(tmp_path / attempt), "REPORT"), bodies))
    assert runs[0] == runs[1]  # deterministic


def test_ci_run_sends_every_class_and_feature_and_the_clean_mock_passes(
    mock_server: MockServerFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CI", "1")
    server = mock_server("compatible")
    server.clear_journal()
    code, doc = _certify(tmp_path, server.url, "--max-examples", "1")
    results = _fuzz(doc)
    assert code == 0 and {r["outcome"] for r in results.values()} == {"passed"}, results
    sent = {
        json.dumps(e["body"], sort_keys=True)
        for e in server.journal()
        if e["path"].endswith("/chat/completions")
    }
    rules = RULES["compatible"]
    for case in explicit_cases(rules):
        assert json.dumps(body_record(case.body), sort_keys=True) in sent, case
    for feature, body in valid.explicit_requests(rules):
        assert json.dumps(body_record(json.dumps(body).encode()), sort_keys=True) in sent, feature
    explicit = len(explicit_cases(rules)) + len(valid.explicit_requests(rules))
    assert doc["budget"]["requests_sent"] >= explicit + 2


def test_the_explicit_pass_counts_against_the_budget_and_the_dry_run(
    mock_server: MockServerFactory, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    server = mock_server("compatible", defects=CRASHES)
    server.clear_journal()
    # Fewer requests than the explicit classes: the pass stops at the budget, in registry order.
    code, doc = _certify(
        tmp_path, server.url, "--check", "fuzz_invalid_payloads_rejected", "--max-requests", "12"
    )
    journal = server.journal()
    assert len(journal) == doc["budget"]["requests_sent"] <= 12
    first = [json.dumps(body_record(c.body), sort_keys=True) for c in explicit_cases(RULES["compatible"])]
    assert [json.dumps(e["body"], sort_keys=True) for e in journal[:3]] == first[:3]
    failed = _fuzz(doc)["fuzz_invalid_payloads_rejected"]
    # empty-messages is the third class: caught before the budget ran out, and the stop is said.
    assert code == 1 and failed["outcome"] == "failed" and "search stopped early: budget" in failed["message"]

    code = main(["certify", "--endpoint", server.url, "--fuzz", "--area", "fuzz", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"(fuzz_\w+)\s+(\d+) request\(s\)", out)}
    shrink = max(20, 2 * DEFAULT_MAX_EXAMPLES)
    assert counts["fuzz_invalid_payloads_rejected"] >= invalid.most_explicit() + DEFAULT_MAX_EXAMPLES + shrink
    assert counts["fuzz_valid_payload_answers_conform"] >= len(valid.FEATURES) + DEFAULT_MAX_EXAMPLES + shrink
    assert invalid.most_explicit() >= len(explicit_cases(EVERYTHING))


def test_one_finding_per_rule_and_verdict(mock_server: MockServerFactory, tmp_path: Path) -> None:
    """A crash on empty messages, hit by the class, the corpus case and the search: one finding."""
    server = mock_server("compatible", defects=("empty_messages_500",))
    code, doc = _certify(tmp_path, server.url, "--check", "fuzz_invalid_payloads_rejected", "--seed", "1")
    failed = _fuzz(doc)["fuzz_invalid_payloads_rejected"]
    assert code == 1 and failed["message"].startswith("1 distinct failure(s)"), failed["message"]
    assert [r["expected"]["rule"] for r in _replays(tmp_path)] == ["REQ2"]


def test_the_public_examples_are_the_explicit_pass() -> None:
    cases = invalid_chat_request_examples("pharia")
    assert list(cases) == [c.kind for c in explicit_cases(RULES["pharia"])]
    bodies = valid_chat_request_examples("pharia")
    assert list(bodies) == [f.name for f in valid.features(RULES["pharia"])]
    bodies["system-message"]["messages"].clear()  # a copy: the run's own examples stay intact
    assert valid_chat_request_examples("pharia")["system-message"]["messages"]
