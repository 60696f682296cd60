"""Mutation score: chatcert's checks against the mock's defect catalogue.

For every defect and every built-in profile that claims the defect's capabilities, a mock serving only
that defect (server-wide, since the engine sends its own headers) is certified on the areas of the checks
the defect names in `catches`; each of those checks must end failed or non_strict (and, for a defect
declared in fixtures/defects/, show the evidence its declaration names). The clean mock must
pass the full certification of every profile (no false positive). The score table is printed at the end
(`pytest -s`) and kept in docs/mock-server.md. About 3.5 minutes for some 1,000 runs on 2 cores.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chatcert.client import Target
from chatcert.engine import Run, RunConfig, run_certification
from chatcert.outcomes import Outcome
from chatcert.profiles import Profile, builtin_profiles, load_profile
from chatcert.registry import all_checks, get_check
from chatcert.wire.defects import load_declared
from mock_server.defects import AUTH, DEFECTS, MIME_CHECKED, TEXT_FIRST, Defect
from mock_server.runner import MockServer

PROFILES = ("openai", "compatible", "liquidai", "pharia", "libertai")
KEY = "chatcert-mutation-key"
CAUGHT = (Outcome.FAILED, Outcome.NON_STRICT)


def claims(profile: Profile, defect: Defect) -> bool:
    """Judged with chatcert's own reading of the profile, not the mock's."""
    return all(_claims(profile, capability) for capability in defect.capabilities)


def _claims(profile: Profile, capability: str) -> bool:
    if capability == AUTH:
        return profile.auth_required
    if capability == TEXT_FIRST:  # a profile that asks for the image first may refuse text first
        return not profile.limit("image_first_required")
    if capability == MIME_CHECKED:  # a profile whose server may ignore the label may answer it
        return bool(profile.limit("image_mime_label") == "checked")
    return profile.claims_capability(capability)


def certify(profile: Profile, defects: tuple[str, ...] = (), areas: tuple[str, ...] = ()) -> Run:
    """One run against a fresh mock; loopback http, so no TLS context is built per request."""
    key = KEY if profile.auth_scheme != "none" else None
    with MockServer(profile.origin, api_key=key, defects=defects) as server:
        target = Target(server.url, profile.auth_scheme, key, verify_tls=False)
        return run_certification(RunConfig(profile=profile, target=target, target_is_mock=True, areas=areas))


# A declared defect names the evidence each check must fail with: live as offline, so a live edit that
# did nothing cannot pass as caught on a check that failed for another reason.
EVIDENCE = {d.name: d.catches for d in load_declared()}


@dataclass
class Verdict:
    defect: str
    profile: str
    outcomes: dict[str, str]  # check id -> outcome, for the checks in `catches`
    # check id -> the evidence a declared defect names that its failure did not show
    unnamed: dict[str, str] = field(default_factory=dict)

    @property
    def caught(self) -> bool:
        return not self.unnamed and all(o in {c.value for c in CAUGHT} for o in self.outcomes.values())


def _judge(defect: Defect, profile: Profile) -> Verdict:
    areas = tuple(sorted({get_check(c).area for c in defect.catches}))
    run = certify(profile, (defect.name,), areas)
    found = {r.id: r for r in run.results}
    outcomes = {c: found[c].outcome.value if c in found else "not run" for c in defect.catches}
    unnamed = {}
    for check_id, evidence in EVIDENCE.get(defect.name, {}).items():
        result = found.get(check_id)
        shown = " | ".join((result.message, result.expected, result.actual)).lower() if result else ""
        if evidence.lower() not in shown:
            unnamed[check_id] = f"{evidence!r} not in {shown[:200]!r}"
    return Verdict(defect.name, profile.name, outcomes, unnamed)


@pytest.fixture(scope="module")
def verdicts() -> Iterator[dict[tuple[str, str], Verdict]]:
    """Every (defect, claiming profile) pair, judged; the score table is printed at the end."""
    profiles = {name: load_profile(name) for name in PROFILES}
    pairs = [(d, p) for d in DEFECTS.values() for p in profiles.values() if claims(p, d)]
    # Sequential: a thread pool saved 6% on 2 cores (the engine and the mocks share the GIL).
    results = {(d.name, p.name): _judge(d, p) for d, p in pairs}
    yield results
    print("\n" + score_table(results))


def score_table(results: dict[tuple[str, str], Verdict]) -> str:
    rows = ["| profile | defects it claims | caught | score |", "|---|---:|---:|---:|"]
    for name in PROFILES:
        mine = [v for (_, p), v in results.items() if p == name]
        caught = sum(v.caught for v in mine)
        rows.append(f"| {name} | {len(mine)} | {caught} | {100 * caught / max(len(mine), 1):.0f}% |")
    return "\n".join(rows)


def test_every_catches_id_is_a_registered_check() -> None:
    known = {c.id for c in all_checks()}
    for defect in DEFECTS.values():
        assert defect.catches, f"{defect.name} names no check that catches it"
        unknown = sorted(set(defect.catches) - known)
        assert not unknown, f"{defect.name}: {unknown} are not registered checks"


def test_defect_capabilities_cover_what_its_checks_need() -> None:
    """A profile that claims a defect's capabilities runs every check that must catch it."""
    for defect in DEFECTS.values():
        for check_id in defect.catches:
            needed = set(get_check(check_id).requires) - set(defect.capabilities)
            assert not needed, f"{defect.name}: {check_id} also needs {sorted(needed)}"


def test_at_least_thirty_defects_under_openai() -> None:
    openai = load_profile("openai")
    assert sum(claims(openai, d) for d in DEFECTS.values()) >= 30


def test_every_builtin_profile_is_scored() -> None:
    assert set(PROFILES) == set(builtin_profiles())


def test_every_defect_is_caught(verdicts: dict[tuple[str, str], Verdict]) -> None:
    missed = [
        f"{v.defect} on {v.profile}: {', '.join(f'{c} {o}' for c, o in v.outcomes.items())}"
        + "".join(f"; {c}: evidence {why}" for c, why in v.unnamed.items())
        for v in verdicts.values()
        if not v.caught
    ]
    assert not missed, "defects the named checks did not catch:\n" + "\n".join(missed)


def test_every_defect_is_scored_somewhere(verdicts: dict[tuple[str, str], Verdict]) -> None:
    scored = {defect for defect, _ in verdicts}
    assert scored == set(DEFECTS), f"defects no built-in profile claims: {sorted(set(DEFECTS) - scored)}"


@pytest.mark.parametrize("name", PROFILES)
def test_clean_mock_passes_full_certification(name: str) -> None:
    run = certify(load_profile(name))
    wrong = (Outcome.FAILED, Outcome.NON_STRICT, Outcome.ERRORED)
    bad = [f"{r.id} {r.outcome.value}: {r.message}" for r in run.results if r.outcome in wrong]
    assert not bad, f"the clean mock fails its own profile {name}:\n" + "\n".join(bad)
    assert run.exit_code == 0
    assert sum(r.outcome is Outcome.PASSED for r in run.results) > 0


def test_the_docs_list_every_defect() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "mock-server.md").read_text(encoding="utf-8")
    # A case file's generated defects are documented once, as a family (`<probe>_accepted`, `<probe>_500`).
    generated = {n for n, d in DEFECTS.items() if (d.reference or "").startswith("fixtures/cases/")}
    assert generated, "no defect was generated from fixtures/cases"
    # Declared defects are documented in their own file (fixtures/defects/<area>.json), with the family.
    declared = {d.name for d in load_declared()}
    assert declared <= set(DEFECTS), f"declared but not served: {sorted(declared - set(DEFECTS))}"
    assert "fixtures/defects/<area>.json" in text
    generated |= declared
    assert "`<probe>_accepted`" in text and "`<probe>_500`" in text
    missing = sorted(name for name in set(DEFECTS) - generated if f"| `{name}` |" not in text)
    assert not missing, f"docs/mock-server.md does not list {missing}"
