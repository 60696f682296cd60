"""Data-driven cases (fixtures/cases/<area>/*.json): one file is a whole check, with its live defects.

Every shipped case file is valid against schemas/harness/case.schema.json and registered as a check whose
two generated mock defects it catches (the mutation score runs them all). Here: the loader refuses broken
files with the file named, and a case file written now, in a temporary folder, becomes a check that passes
on the clean mock and fails, with the evidence it prints, on the defect generated from the same file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chatcert import registry
from chatcert.checks.cases import register_case
from chatcert.client import Target
from chatcert.engine import RunConfig, run_certification
from chatcert.outcomes import Outcome
from chatcert.profiles import load_profile
from chatcert.wire.cases import CaseError, load_cases, read_case
from chatcert_data import data_dir
from mock_server import defects as mock_defects
from mock_server.defect_catalogue.cases import case_defects
from mock_server.runner import MockServer

NEW_CASE: dict[str, Any] = {
    "description": "frequency_penalty -3 is rejected with a 4xx.",
    "check": "frequency_penalty_below_range_rejected_selftest",
    "level": "SHOULD",
    "source": "SPEC CreateChatCompletionRequest frequency_penalty minimum -2",
    "rules": ["REQ6"],
    "request": {
        "probe": "frequency_penalty_below_range_selftest",
        "label": "frequency_penalty: -3",
        "set": {"frequency_penalty": -3},
    },
    "expect": {"status": "4xx"},
}


def _write(folder: Path, name: str, data: Any) -> Path:
    path = folder / "request" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_every_shipped_case_is_registered_as_its_check() -> None:
    cases = load_cases()
    assert len(cases) >= 14
    folder = data_dir("fixtures") / "cases"
    assert len(cases) == len(list(folder.glob("*/*.json"))), "a case file was not loaded"
    for case in cases:
        registered = registry.get_check(case.check)
        assert (registered.area, registered.level.value, registered.probes) == (
            case.area,
            case.level,
            (case.probe,),
        )
        assert registered.description == case.description
        assert registry.get_probe(case.probe).requires == case.requires


def test_a_case_builds_the_request_the_mock_recognises() -> None:
    case = next(c for c in load_cases() if c.check == "missing_model_rejected")
    body = case.build({"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 8})
    assert "model" not in body and case.matches(body)
    assert not case.matches({"model": "m", "messages": []})
    stop = next(c for c in load_cases() if c.check == "too_many_stop_sequences_rejected")
    built = stop.build({"model": "m", "messages": []})
    built["stop"].append("f")  # the body is a copy: the case's own data is untouched
    assert stop.set["stop"] == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda d: d.pop("expect"), "'expect' is a required property"),
        (lambda d: d.update(level="MAY"), "'MAY' is not one of"),
        (lambda d: d.update(check="Bad-Id"), "does not match"),
        (lambda d: d["request"].pop("set"), "is not valid under any of the given schemas"),
        (lambda d: d.update(expect={"status": [500]}), "500 is greater than the maximum of 499"),
    ],
)
def test_a_broken_case_file_is_refused_with_its_name(tmp_path: Path, change: Any, complaint: str) -> None:
    data = json.loads(json.dumps(NEW_CASE))
    change(data)
    path = _write(tmp_path, "broken.json", data)
    with pytest.raises(CaseError) as caught:
        read_case(path)
    assert str(path) in str(caught.value) and complaint in str(caught.value)


def test_unreadable_and_duplicate_cases_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "request" / "bad.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(CaseError, match="cannot read the case"):
        load_cases(tmp_path)
    bad.unlink()
    _write(tmp_path, "a.json", NEW_CASE)
    _write(tmp_path, "b.json", NEW_CASE)
    with pytest.raises(CaseError, match="check 'frequency_penalty_below_range_rejected_selftest' is also in"):
        load_cases(tmp_path)


def test_one_new_case_file_is_a_check_caught_by_its_own_defects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a rejection check is adding one file: no code, and the mock's defects come with it."""
    (case,) = load_cases(_write(tmp_path, "frequency-penalty-below-range.json", NEW_CASE).parents[1])
    registry.all_checks()  # the shipped catalogue first, then the new case on top (removed afterwards)
    monkeypatch.setattr(registry, "_CHECKS", dict(registry._CHECKS))
    monkeypatch.setattr(registry, "_PROBES", dict(registry._PROBES))
    monkeypatch.setattr(mock_defects, "DEFECTS", dict(mock_defects.DEFECTS))
    register_case(case)
    generated = case_defects(case)
    for defect in generated:
        mock_defects.register(defect)
    assert [d.name for d in generated] == [
        "frequency_penalty_below_range_selftest_accepted",
        "frequency_penalty_below_range_selftest_500",
    ]

    profile = load_profile("compatible")

    def judge(defects: tuple[str, ...]) -> Any:
        with MockServer(profile.origin, defects=defects) as server:
            target = Target(server.url, profile.auth_scheme, None, verify_tls=False)
            run = run_certification(
                RunConfig(profile=profile, target=target, target_is_mock=True, only=(case.check,))
            )
        return next(r for r in run.results if r.id == case.check)

    clean = judge(())
    assert clean.outcome is Outcome.PASSED, clean.message
    accepted = judge(("frequency_penalty_below_range_selftest_accepted",))
    assert accepted.outcome is Outcome.NON_STRICT  # a SHOULD broken: reported, not a failed certificate
    assert "expected a 4xx rejection, got 200" in accepted.message
    assert "frequency_penalty: -3" in json.dumps(accepted.evidence)
    crashed = judge(("frequency_penalty_below_range_selftest_500",))
    assert crashed.outcome is Outcome.NON_STRICT
    assert "got 500" in crashed.message and "unhandled request" in crashed.actual


def test_every_check_has_one_of_two_forms() -> None:
    """A check is a case file, or a function named for its id in its area's module: never a closure
    built by a factory, which would hide the check from a reader of either place."""
    cases = {c.check for c in load_cases()}
    for found in registry.all_checks():
        if found.id in cases:
            assert found.func.__module__ == "chatcert.checks.cases", found.id
            continue
        made_by = found.func.__name__
        assert made_by == found.id, f"{found.id} is registered by a factory ({made_by})"
        module = {"pharia": "providers"}.get(found.area, found.area)  # provider routes share one module
        assert found.func.__module__ == f"chatcert.checks.{module}", (
            f"{found.id} lives in {found.func.__module__}, not in its area's module"
        )


def test_a_probe_sits_beside_the_checks_that_read_it() -> None:
    """A probe the checks of one area read is defined in that area's module; one several areas read, in
    checks/probes.py. Case-file probes are registered from data by chatcert.checks.cases."""
    areas: dict[str, set[str]] = {}
    for found in registry.all_checks():
        for name in found.probes:
            areas.setdefault(name, set()).add(found.area)
    probes = registry.all_probes()
    for name, found_probe in probes.items():
        home = found_probe.func.__module__
        if home == "chatcert.checks.cases":
            continue
        read_by = sorted(areas.get(name, ()))
        assert read_by, f"probe {name} is read by no check"
        module = {"pharia": "providers"}.get(read_by[0], read_by[0]) if len(read_by) == 1 else "probes"
        assert home == f"chatcert.checks.{module}", (
            f"probe {name} lives in {home}; areas reading it: {read_by}"
        )
    # Both kinds exist, so neither branch above is vacuous.
    homes = {p.func.__module__ for p in probes.values()}
    assert {"chatcert.checks.probes", "chatcert.checks.vision", "chatcert.checks.cases"} <= homes
