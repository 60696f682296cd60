"""Declared defects (fixtures/defects/<area>.json): one declaration, served live and applied offline.

The edit language is shown case by case (JSON-Schema-Test-Suite style: description, document, edits,
expected). The loader refuses broken files with the file named. A declaration written now, in a
temporary folder, becomes a live defect that the check it names catches on the mock, with its evidence,
and the same declaration applied to a captured conformant reply yields the same evidence offline.
tests/test_check_defects.py judges every shipped declaration offline; tests/test_mutation_score.py
serves every one live.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from defects.declared import declared_mutation

from chatcert.client import Target
from chatcert.context import ProbeResult
from chatcert.engine import RunConfig, run_certification, run_check, start_run
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile
from chatcert.registry import get_check
from chatcert.wire.defects import DefectFileError, Edit, apply_edits, load_declared, read_defect_file
from chatcert.wire.profiles import route_paths
from mock_server import defects as mock_defects
from mock_server.defect_catalogue.declared import declared_defect
from mock_server.runner import MockServer

REPLY: dict[str, Any] = {
    "id": "chatcmpl-1",
    "created": 1767225600,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Hi."}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": None}, "finish_reason": "length"},
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11},
}

EDIT_CASES: list[dict[str, Any]] = [
    {
        "description": "set replaces a value at every member a star names",
        "edits": [{"set": ["choices", "*", "message", "role"], "to": "user"}],
        "expect": lambda d: [c["message"]["role"] for c in d["choices"]] == ["user", "user"],
    },
    {
        "description": "set creates a missing key in an object",
        "edits": [{"set": ["system_fingerprint"], "to": 7}],
        "expect": lambda d: d["system_fingerprint"] == 7,
    },
    {
        "description": "a conditional set leaves a missing key missing",
        "edits": [{"set": ["system_fingerprint"], "to": 7, "unless": None}],
        "expect": lambda d: "system_fingerprint" not in d,
    },
    {
        "description": "when: only where the current value equals",
        "edits": [{"set": ["choices", "*", "finish_reason"], "to": "stop", "when": "length"}],
        "expect": lambda d: [c["finish_reason"] for c in d["choices"]] == ["stop", "stop"],
    },
    {
        "description": "unless null: a null content stays null",
        "edits": [{"set": ["choices", "*", "message", "content"], "to": "", "unless": None}],
        "expect": lambda d: [c["message"]["content"] for c in d["choices"]] == ["", None],
    },
    {
        "description": "drop removes, and a negative index counts from the end",
        "edits": [{"drop": ["choices", -1]}],
        "expect": lambda d: [c["index"] for c in d["choices"]] == [0],
    },
    {
        "description": "a path through something missing changes nothing",
        "edits": [{"drop": ["choices", 5, "message"]}, {"set": ["nothing", "here"], "to": 1}],
        "expect": lambda d: d == REPLY,
    },
    {
        "description": "scale multiplies a number",
        "edits": [{"scale": ["created"], "by": 1000}],
        "expect": lambda d: d["created"] == 1767225600000,
    },
    {
        "description": "stringify and float change a value's type",
        "edits": [{"stringify": ["usage", "prompt_tokens"]}, {"float": ["usage", "*"]}],
        "expect": lambda d: (
            d["usage"] == {"prompt_tokens": "5", "completion_tokens": 6.0, "total_tokens": 11.0}
        ),
    },
    {
        "description": "copy takes the value at a path from the root",
        "edits": [{"copy": ["usage", "total_tokens"], "from": ["usage", "completion_tokens"]}],
        "expect": lambda d: d["usage"]["total_tokens"] == 6,
    },
    {
        "description": "parse decodes a JSON-encoded string, and leaves what is not JSON",
        "edits": [
            {"set": ["id"], "to": '{"a": [1]}'},
            {"parse": ["id"]},
            {"parse": ["choices", 0, "message", "role"]},
        ],
        "expect": lambda d: d["id"] == {"a": [1]} and d["choices"][0]["message"]["role"] == "assistant",
    },
    {
        "description": "a set value is a fresh copy at each place",
        "edits": [{"set": ["choices", "*", "logprobs"], "to": {"content": []}}],
        "expect": lambda d: d["choices"][0]["logprobs"] is not d["choices"][1]["logprobs"],
    },
]


@pytest.mark.parametrize("case", EDIT_CASES, ids=[c["description"] for c in EDIT_CASES])
def test_edit_language(case: dict[str, Any]) -> None:
    doc = copy.deepcopy(REPLY)
    apply_edits(doc, tuple(Edit.read(e) for e in case["edits"]))
    assert case["expect"](doc), json.dumps(doc)


def test_chunk_edits_pick_by_position() -> None:
    """`chunk` acts on one position, `from_chunk` on that one and the rest; a body (no position) takes
    every edit."""
    edits = (
        Edit.read({"set": ["id"], "to": "other", "from_chunk": 1}),
        Edit.read({"set": ["model"], "to": "second", "chunk": 1}),
    )
    docs = [{"id": "a", "model": "m"} for _ in range(3)]
    for position, doc in enumerate(docs):
        apply_edits(doc, edits, position)
    assert [d["id"] for d in docs] == ["a", "other", "other"]
    assert [d["model"] for d in docs] == ["m", "second", "m"]
    body = {"id": "a", "model": "m"}
    apply_edits(body, edits)
    assert body == {"id": "other", "model": "second"}


NEW_FILE: dict[str, Any] = {
    "description": "A declaration written by the test.",
    "defects": [
        {
            "name": "selftest_role_system",
            "description": 'message.role is "system"',
            "body": [{"set": ["choices", "*", "message", "role"], "to": "system"}],
            "catches": {"response_role_is_assistant": "system"},
        }
    ],
}


def _write(folder: Path, name: str, data: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d["defects"][0].pop("catches"), "'catches' is a required property"),
        (lambda d: d["defects"][0].pop("body"), "not a valid defect file"),
        (lambda d: d["defects"][0]["body"][0].update(drop=["x"]), "not a valid defect file"),
        (lambda d: d["defects"][0].update(catches={}), "not a valid defect file"),
        (lambda d: d["defects"][0].update(name="Bad Name"), "not a valid defect file"),
        (lambda d: d["defects"][0]["body"][0].update(chunk=1), "pick stream chunks, not a body"),
        (lambda d: d["defects"][0]["body"][0].update(by=2), "not a valid defect file"),
        (lambda d: d["defects"][0]["body"][0].update(when=1, unless=1), "name the same value"),
        (lambda d: d["defects"][0].update(route="chta"), "not a valid defect file"),
    ],
)
def test_a_broken_defect_file_is_refused_with_its_name(tmp_path: Path, change: Any, complaint: str) -> None:
    data = copy.deepcopy(NEW_FILE)
    change(data)
    path = _write(tmp_path, "broken.json", data)
    with pytest.raises(DefectFileError) as caught:
        read_defect_file(path)
    assert str(path) in str(caught.value) and complaint in str(caught.value)


def test_unreadable_and_duplicate_declarations_are_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DefectFileError, match="cannot read the defects"):
        load_declared(tmp_path)
    (tmp_path / "bad.json").unlink()
    _write(tmp_path, "a.json", NEW_FILE)
    _write(tmp_path, "b.json", NEW_FILE)
    with pytest.raises(DefectFileError, match=r"'selftest_role_system' is also in a\.json"):
        load_declared(tmp_path)


def test_every_shipped_declaration_is_valid_and_served() -> None:
    shipped = load_declared()
    assert len(shipped) >= 50
    assert {d.name for d in shipped} <= set(mock_defects.DEFECTS)


def test_one_new_declaration_is_caught_live_and_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a defect is adding an entry: the mock serves it, and offline the same edit fails the same
    check with the same evidence."""
    (declared,) = load_declared(_write(tmp_path, "selftest.json", NEW_FILE).parent)
    monkeypatch.setattr(mock_defects, "DEFECTS", dict(mock_defects.DEFECTS))
    mock_defects.register(declared_defect(declared))
    check = "response_role_is_assistant"
    profile = load_profile("compatible")

    def certify(defects: tuple[str, ...]) -> Any:
        with MockServer(profile.origin, defects=defects) as server:
            target = Target(server.url, profile.auth_scheme, None, verify_tls=False)
            return run_certification(
                RunConfig(profile=profile, target=target, target_is_mock=True, only=(check,))
            )

    clean = certify(())
    (passed,) = [r for r in clean.results if r.id == check]
    assert passed.outcome is Outcome.PASSED, passed.message
    (live,) = [r for r in certify(("selftest_role_system",)).results if r.id == check]
    assert live.outcome is Outcome.FAILED and "system" in _evidence(live)

    # Offline: the clean run's replies, edited by the same declaration, judged again.
    probes: dict[str, ProbeResult] = copy.deepcopy(clean.probes)
    declared_mutation(declared, route_paths(profile.raw["routes"], "chat"))(probes)
    run = start_run(clean.config)
    run.probes.update(probes)
    offline = run_check(run, get_check(check))
    assert run.client.requests == [], "the offline judgement sent requests"
    assert offline.outcome is Outcome.FAILED
    assert (offline.message, offline.actual) == (live.message, live.actual)


def _evidence(result: Any) -> str:
    """What a failure shows (as tests/test_check_defects.py reads it)."""
    return " | ".join((result.message, result.expected, result.actual))
