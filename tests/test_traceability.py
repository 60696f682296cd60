"""Traceability: seed quotes are verbatim, every requirement and catalogue rule is traced, no gaps."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from chatcert.cli import main
from chatcert.errors import HarnessError
from chatcert.registry import all_checks
from chatcert.traceability import (
    PREFLIGHT_PREFIX,
    Requirement,
    gaps,
    load_catalogue,
    load_requirements,
    missing_quotes,
    normalise,
    parse_catalogue,
    preflight_finding_ids,
    seed_file,
    traceability,
)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SEEDS = SHARED / "seeds"
CATALOGUE_MD = SHARED / "reference" / "checks-catalogue.md"
REQUIREMENTS = load_requirements()
CHECK_IDS = {c.id for c in all_checks()}
FINDINGS = preflight_finding_ids()

needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason=f"seeds folder {SEEDS} absent")
needs_catalogue = pytest.mark.skipif(not CATALOGUE_MD.is_file(), reason=f"{CATALOGUE_MD} absent")


def _write_requirements(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "seeds.yaml"
    path.write_text("requirements:\n" + body, encoding="utf-8")
    return path


def _rule_ids_in(markdown: str) -> list[str]:
    # Parsed here independently of the library: a table row whose first cell is a rule id.
    return re.findall(r"^\|\s*([A-Z]+[0-9]+)\s*\|", markdown, flags=re.MULTILINE)


# --- the committed map ---------------------------------------------------------------------------


@needs_seeds
@pytest.mark.parametrize("req", REQUIREMENTS, ids=lambda r: r.id)
def test_seed_quote_is_verbatim(req: Requirement) -> None:
    path = seed_file(SEEDS, req.seed)
    assert path is not None, f"no seed file {req.seed}_* in {SEEDS}"
    assert normalise(req.quote) in normalise(path.read_text(encoding="utf-8")), req.quote


@needs_seeds
def test_every_seed_has_requirements() -> None:
    prefixes = {p.name.split("_", 1)[0] for p in SEEDS.iterdir() if p.is_file()}
    assert prefixes, "no seed files"
    assert prefixes <= {r.seed for r in REQUIREMENTS}


@pytest.mark.parametrize("req", REQUIREMENTS, ids=lambda r: r.id)
def test_requirement_maps_to_registered_checks_or_reason(req: Requirement) -> None:
    assert req.checks or req.reason, f"{req.id} has neither checks nor not_covered"
    for ref in req.checks:
        if ref.startswith(PREFLIGHT_PREFIX):
            assert ref[len(PREFLIGHT_PREFIX) :] in FINDINGS, f"{req.id}: no preflight finding {ref}"
        else:
            assert ref in CHECK_IDS, f"{req.id}: check {ref} is not registered"


def test_requirement_ids_follow_their_seed() -> None:
    letter = {"000": "L", "001": "P", "002": "B"}
    for req in REQUIREMENTS:
        assert req.id.startswith(letter[req.seed] + "-"), req.id


def test_no_gaps() -> None:
    found = gaps(
        catalogue_md=CATALOGUE_MD if CATALOGUE_MD.is_file() else None,
        seeds_dir=SEEDS if SEEDS.is_dir() else None,
    )
    assert found == []


@needs_catalogue
def test_every_catalogue_rule_is_in_the_map() -> None:
    ids = _rule_ids_in(CATALOGUE_MD.read_text(encoding="utf-8"))
    assert ids, "no rule ids parsed from the catalogue"
    mapped = traceability(catalogue_md=CATALOGUE_MD)["catalogue"]
    assert [item["id"] for item in mapped] == ids
    assert [r.id for r in load_catalogue()] == ids, "catalogue.yaml is out of step with checks-catalogue.md"
    for item in mapped:
        assert item["checks"] or item.get("reason"), f"rule {item['id']} has neither checks nor reason"


def test_catalogue_rules_map_through_check_rules() -> None:
    mapped = {item["id"]: item["checks"] for item in traceability()["catalogue"]}
    for c in all_checks():
        for rule in c.rules:
            assert c.id in mapped[rule], f"{c.id} names {rule} but the map does not list it"
    for rule, checks in mapped.items():
        for cid in checks:
            assert rule in next(c.rules for c in all_checks() if c.id == cid)


def test_seed_items_quote_their_requirement() -> None:
    items = traceability()["seeds"]
    assert [i["id"] for i in items] == [r.id for r in REQUIREMENTS]
    for item, req in zip(items, REQUIREMENTS, strict=True):
        assert item["text"] == normalise(req.quote)
        assert item["checks"] == list(req.checks)
        assert item.get("reason") == req.reason


def test_cli_by_source_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--by-source", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"seeds", "catalogue"}
    expected = traceability()
    for section in ("seeds", "catalogue"):
        assert [i["id"] for i in doc[section]] == [i["id"] for i in expected[section]]
        for item in doc[section]:
            assert isinstance(item["text"], str) and isinstance(item["checks"], list)


def test_cli_by_source_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["checks", "--by-source"]) == 0
    out = capsys.readouterr().out
    assert "== seeds" in out and "== catalogue" in out
    assert all(r.id in out for r in REQUIREMENTS)


# --- the checks above can fail --------------------------------------------------------------------


def test_bogus_check_id_is_a_gap(tmp_path: Path) -> None:
    path = _write_requirements(
        tmp_path,
        '  - {id: L-01, seed: "000", quote: "x", checks: ["no_such_check", "preflight:no_such_finding"]}\n',
    )
    found = gaps(requirements=path)
    assert any("'no_such_check' is not registered" in g for g in found)
    assert any("'preflight:no_such_finding'" in g for g in found)


def test_requirement_without_check_or_reason_is_a_gap(tmp_path: Path) -> None:
    path = _write_requirements(tmp_path, '  - {id: P-01, seed: "001", quote: "x"}\n')
    assert gaps(requirements=path) == ["seed requirement P-01: no check and no reason"]


def test_registered_check_and_reason_are_not_gaps(tmp_path: Path) -> None:
    cid = sorted(CHECK_IDS)[0]
    path = _write_requirements(
        tmp_path,
        f'  - {{id: P-01, seed: "001", quote: "x", checks: ["{cid}"]}}\n'
        '  - {id: P-02, seed: "001", quote: "y", not_covered: "marketing"}\n',
    )
    assert [g for g in gaps(requirements=path) if g.startswith("seed")] == []


def test_missing_quote_is_detected(tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "000_abc.txt").write_text("- send a\nPOSTrequest - include the model name\n", encoding="utf-8")
    path = _write_requirements(
        tmp_path,
        '  - {id: L-01, seed: "000", quote: "send a POSTrequest", not_covered: "r"}\n'
        '  - {id: L-02, seed: "000", quote: "send a GET request", not_covered: "r"}\n'
        '  - {id: P-01, seed: "001", quote: "anything", not_covered: "r"}\n',
    )
    problems = missing_quotes(seeds, load_requirements(path))
    assert len(problems) == 2
    assert "L-02: quote not found" in problems[0]
    assert "P-01: no seed file 001_*" in problems[1]
    assert problems[0] in gaps(requirements=path, seeds_dir=seeds)


def test_new_catalogue_rule_is_a_gap(tmp_path: Path) -> None:
    rows = [f"| {r.id} | {r.text} | M | x |" for r in load_catalogue()]
    md = tmp_path / "checks-catalogue.md"
    md.write_text(
        "| ID | Check | Lvl | Source |\n|---|---|---|---|\n" + "\n".join([*rows, "| Z1 | new | M | x |"])
    )
    found = gaps(catalogue_md=md)
    assert "catalogue rule Z1: no check and no reason" in found
    assert "catalogue rule Z1: in checks-catalogue.md but not in catalogue.yaml" in found
    assert "Z1" in [i["id"] for i in traceability(catalogue_md=md)["catalogue"]]


def test_dropped_or_reworded_catalogue_rule_is_a_gap(tmp_path: Path) -> None:
    rules = load_catalogue()
    rows = [f"| {r.id} | {r.text} | M | x |" for r in rules[1:]]
    rows[0] = f"| {rules[1].id} | reworded | M | x |"
    md = tmp_path / "cat.md"
    md.write_text("\n".join(rows))
    found = gaps(catalogue_md=md)
    assert f"catalogue rule {rules[0].id}: in catalogue.yaml but not in cat.md" in found
    assert f"catalogue rule {rules[1].id}: text in catalogue.yaml differs from cat.md" in found


def test_uncovered_rule_without_reason_is_a_gap() -> None:
    # With no checks registered, every rule without a reason in catalogue.yaml is a gap.
    found = gaps(checks=[])
    explained = {r.id for r in load_catalogue() if r.reason}
    missing = {r.id for r in load_catalogue()} - explained
    assert missing, "every rule has a reason: nothing for checks to cover"
    assert {f"catalogue rule {rid}: no check and no reason" for rid in missing} <= set(found)


def test_check_naming_unknown_rule_is_a_gap() -> None:
    fake = dataclasses.replace(all_checks()[0], id="fake_check", rules=("ZZ9",))
    assert "check fake_check: names rule 'ZZ9' the catalogue does not define" in gaps(checks=[fake])


def test_parse_catalogue_reads_rows_only() -> None:
    md = (
        "**Note N1 — prose.** not a row\n"
        "| ID | Check | Lvl | Source |\n|---|---|---|---|\n"
        '| E1 | body is `{"param": str|null}` | M | SPEC |\n'
        "| L1 | TTFT | ref |\n"
    )
    rules = parse_catalogue(md)
    assert [(r.id, r.text) for r in rules] == [("E1", 'body is `{"param": str|null}`'), ("L1", "TTFT")]


def test_normalise_collapses_whitespace() -> None:
    assert normalise(" a\n\tb  c \n") == "a b c"


@pytest.mark.parametrize(
    "body",
    [
        '  - {id: L-01, seed: "000", quote: "x", not_covered: "r"}\n'
        '  - {id: L-01, seed: "000", quote: "y", not_covered: "r"}\n',
        '  - {id: L-1, seed: "000", quote: "x", not_covered: "r"}\n',
        '  - {id: L-01, seed: "0", quote: "x", not_covered: "r"}\n',
        '  - {id: L-01, seed: "000", quote: "", not_covered: "r"}\n',
        '  - {id: L-01, seed: "000", quote: "x", checks: "one_check"}\n',
        '  - {id: L-01, seed: "000", quote: "x", covered_by: ["a"]}\n',
    ],
    ids=["duplicate", "bad-id", "bad-seed", "empty-quote", "checks-not-list", "unknown-key"],
)
def test_malformed_requirements_are_refused(tmp_path: Path, body: str) -> None:
    with pytest.raises(HarnessError):
        load_requirements(_write_requirements(tmp_path, body))
