"""Every registered check passes on a conformant exchange and fails, with evidence, on each defect it targets.

Bowtie-style: one certification against the embedded mock captures conformant exchanges (a profile that
claims every capability and route, so every probe is sent); each defect is an edit of deep copies of those
exchanges, judged offline by the one check it targets (the engine never re-sends a probe a run already
holds). The defect tables live in tests/defects/.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, replace
from typing import Any

import pytest
import yaml
from defects import ALL_DEFECTS, PROFILE, Defect
from defects.fakes import Probes, body, json_del, on, with_events
from defects.robustness import GARBAGE, KNOWN_CRASHES

from chatcert._models import Exchange
from chatcert.client import Target
from chatcert.engine import Run, RunConfig, run_certification, run_check, start_run
from chatcert.outcomes import CheckResult, Outcome
from chatcert.profiles import Profile, load_profile
from chatcert.registry import Check, Level, all_checks, get_check
from mock_server.runner import MockServer

KEY = "chatcert-selftest-key"
CHECK_IDS = [c.id for c in all_checks()]
DEFECT_IDS = [d.id for d in ALL_DEFECTS]


@dataclass(repr=False)
class Capture:
    """Conformant exchanges: runs against the mock, and which run judged (and passed) each check."""

    runs: list[Run]
    judged_by: dict[str, Run]

    def run_for(self, check_id: str) -> Run:
        return self.judged_by[check_id]

    def __repr__(self) -> str:
        # pytest shows fixture values in failure reports; the runs hold megabytes of exchanges.
        return f"Capture({len(self.runs)} runs, {len(self.judged_by)} checks judged)"


def _certify(profile: Profile, only: tuple[str, ...] = ()) -> Run:
    with MockServer(profile=profile.origin, api_key=KEY) as server:
        config = RunConfig(
            profile=profile,
            target=Target(server.url, profile.auth_scheme, KEY),
            target_is_mock=True,
            include_costly=True,
            only=only,
            options={"fuzz": True, "max_examples": 30, "seed": 1, "report_dir": None},
        )
        return run_certification(config)


@pytest.fixture(scope="session")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """One full run with the self-test profile ({"detail"} errors), then the checks that only apply to
    OpenAI-shaped errors against the same profile with error_shape openai."""
    first = _certify(load_profile(str(PROFILE)))
    judged = {r.id: first for r in first.results if r.outcome is not Outcome.SKIPPED}
    rest = tuple(r.id for r in first.results if r.outcome is Outcome.SKIPPED)
    runs = [first]
    if rest:
        data = yaml.safe_load(PROFILE.read_text(encoding="utf-8"))
        data.update(name="chatcert-selftest-openai", error_shape="openai")
        path = tmp_path_factory.mktemp("profiles") / "selftest-openai.yaml"
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        second = _certify(load_profile(str(path)), only=rest)
        judged.update({r.id: second for r in second.results if r.outcome is not Outcome.SKIPPED})
        runs.append(second)
    return Capture(runs, judged)


def _describe(result: CheckResult) -> str:
    return (
        f"{result.id} [{result.level}] -> {result.outcome.value}\n"
        f"  message:  {result.message or result.reason}\n"
        f"  expected: {result.expected}\n"
        f"  actual:   {result.actual}"
    )


def judge(source: Run, check: Check, probes: Probes, profile: Profile | None = None) -> CheckResult:
    """Run one check offline over `probes` (pre-filled, so the engine sends nothing)."""
    config = source.config if profile is None else replace(source.config, profile=profile)
    run = start_run(config)
    missing = sorted(set(check.probes) - set(probes))
    assert not missing, f"{check.id}: no captured exchanges for probes {missing}"
    run.probes.update(probes)
    result = run_check(run, check)
    assert run.client.requests == [], f"{check.id} sent requests: {[e.label for e in run.client.requests]}"
    return result


def copies(source: Run, check: Check) -> Probes:
    return {name: copy.deepcopy(source.probes[name]) for name in check.probes if name in source.probes}


# -- the clean capture ---------------------------------------------------------------------------------------


def test_conformant_capture_passes_every_check(capture: Capture) -> None:
    """Against the conformant mock every registered check runs (none skipped) and passes."""
    unjudged = sorted(set(CHECK_IDS) - set(capture.judged_by))
    assert not unjudged, f"checks no capture judged (skipped in every run): {unjudged}"
    bad = [
        _describe(r)
        for run in capture.runs
        for r in run.results
        if r.outcome not in (Outcome.PASSED, Outcome.SKIPPED)
    ]
    assert not bad, "checks that do not pass on the conformant mock:\n" + "\n".join(bad)


# -- one test per defect -------------------------------------------------------------------------------------


def _params() -> list[Any]:
    params = []
    for defect in ALL_DEFECTS:
        marks = [pytest.mark.xfail(strict=True, reason=defect.known_bug)] if defect.known_bug else []
        params.append(pytest.param(defect, id=defect.id, marks=marks))
    return params


@pytest.mark.parametrize("defect", _params())
def test_check_fails_on_defect(defect: Defect, capture: Capture) -> None:
    """The check passes on copies of the conformant exchanges, and fails on the defect with evidence."""
    check = get_check(defect.check)
    source = capture.run_for(check.id)
    clean = judge(source, check, copies(source, check))
    control = _describe(clean)
    assert clean.outcome is Outcome.PASSED, f"control run on unmodified copies did not pass:\n{control}"

    probes = copies(source, check)
    defect.mutate(probes)
    result = judge(source, check, probes)
    print(_describe(result))  # shown by `pytest -rA`: the evidence the check prints

    want = Outcome.NON_STRICT if check.level_for(source.config.profile) is Level.SHOULD else Outcome.FAILED
    assert result.outcome is want, f"expected {want.value} for {defect.id}:\n{_describe(result)}"
    assert result.message.strip(), f"{defect.id}: failure without a message"
    assert (result.expected + result.actual).strip(), f"{defect.id}: failure without expected/actual"
    evidence = " | ".join((result.message, result.expected, result.actual)).lower()
    assert defect.evidence.lower() in evidence, (
        f"{defect.id}: the failure does not name the defect ({defect.evidence!r}):\n{_describe(result)}"
    )


# -- garbage never crashes a check ---------------------------------------------------------------------------


def _sweep_params() -> list[Any]:
    def marks(check_id: str) -> list[Any]:
        reason = KNOWN_CRASHES.get(check_id)
        return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []

    return [pytest.param(c, marks=marks(c)) for c in CHECK_IDS]


@pytest.mark.parametrize("check_id", _sweep_params())
def test_check_survives_garbage(check_id: str, capture: Capture) -> None:
    """Nonsense in every exchange the check reads (wrong types at each depth, HTML, empty bodies) makes it
    fail or pass, never raise: a raising check reports `errored` ("harness broke") for a server's fault."""
    check = get_check(check_id)
    source = capture.run_for(check_id)
    crashes = []
    for kind, edit in GARBAGE.items():
        probes = copies(source, check)
        for result in probes.values():
            for exchange in result.exchanges:
                edit(exchange)
        outcome = judge(source, check, probes)
        if outcome.outcome is Outcome.ERRORED:
            crashes.append(f"{kind}: {outcome.message}")
    assert not crashes, f"{check_id} raised on garbage:\n" + "\n".join(crashes)


def test_known_crashes_are_registered_checks() -> None:
    unknown = sorted(set(KNOWN_CRASHES) - set(CHECK_IDS))
    assert not unknown, f"KNOWN_CRASHES names checks that are not registered: {unknown}"


# -- the tables themselves -----------------------------------------------------------------------------------


def test_every_check_has_a_defect() -> None:
    covered = {d.check for d in ALL_DEFECTS}
    uncovered = [c for c in CHECK_IDS if c not in covered]
    assert not uncovered, f"{len(uncovered)} registered checks have no defect entry: {uncovered}"


def test_every_defect_names_a_registered_check() -> None:
    unknown = sorted({d.check for d in ALL_DEFECTS} - set(CHECK_IDS))
    assert not unknown, f"defect entries for checks that are not registered: {unknown}"
    dupes = sorted({i for i in DEFECT_IDS if DEFECT_IDS.count(i) > 1})
    assert not dupes, f"defect ids used twice: {dupes}"


def test_every_defect_declares_its_evidence() -> None:
    vague = [d.id for d in ALL_DEFECTS if len(d.evidence.strip()) < 2]
    assert not vague, f"defects whose evidence fragment says nothing: {vague}"


# -- tiers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("profile_name", "level", "outcome"),
    [("openai", Level.MUST, Outcome.FAILED), ("compatible", Level.SHOULD, Outcome.NON_STRICT)],
)
def test_tier_decides_refusal_level(
    profile_name: str, level: Level, outcome: Outcome, capture: Capture
) -> None:
    """A missing message.refusal: MUST (failed) for the strict tier, SHOULD (non_strict) for compatible."""
    check = get_check("response_refusal_present")
    profile = load_profile(profile_name)
    assert check.level_for(profile) is level
    source = capture.run_for(check.id)
    probes = copies(source, check)
    on("chat_basic", json_del(("choices", 0, "message", "refusal")))(probes)
    result = judge(source, check, probes, profile)
    print(_describe(result))
    assert (result.level, result.outcome) == (level.value, outcome), _describe(result)
    assert "refusal" in result.message


# -- the fakes keep exchanges consistent ---------------------------------------------------------------------


def _streams(capture: Capture) -> list[tuple[str, Exchange]]:
    return [
        (name, ex)
        for run in capture.runs
        for name, result in run.probes.items()
        for ex in result.exchanges
        if ex.events
    ]


def test_event_rewrite_is_lossless(capture: Capture) -> None:
    """Re-serialising unchanged events gives back the same events (data, names, times) and no new errors."""
    streams = _streams(capture)
    assert streams, "the capture holds no streams"
    for name, original in streams:
        twin = copy.deepcopy(original)
        with_events(twin, lambda items: None)
        before = [(e.data, e.event, e.id, e.at) for e in original.events]
        after = [(e.data, e.event, e.id, e.at) for e in twin.events]
        assert after == before, f"{name}: events changed by a no-op rewrite"
        assert twin.sse_errors == original.sse_errors, name


def test_body_edit_reparses_streams(capture: Capture) -> None:
    """A new body replaces the events too: a stream turned into a JSON error has no events left."""
    name, original = _streams(capture)[0]
    twin = copy.deepcopy(original)
    body({"detail": "gone"}, "application/json")(twin)
    assert (twin.events, twin.sse_errors, json.loads(twin.body)) == ([], [], {"detail": "gone"}), name
