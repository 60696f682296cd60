"""Traceability: which registered checks cover each seed requirement and each catalogue rule.

Seed requirements (quoted word for word) live in ``fixtures/requirements/seeds.yaml``; the catalogue's
rule ids, their text and the reason for each rule no check covers live in
``fixtures/requirements/catalogue.yaml``. A catalogue rule is covered by every check whose ``rules``
name it; a seed requirement names its checks itself. ``gaps()`` lists what is left uncovered or refers
to something that does not exist. See docs/traceability.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chatcert.errors import HarnessError
from chatcert.registry import Check, all_checks
from chatcert_data import data_dir

__all__ = [
    "PREFLIGHT_PREFIX",
    "Requirement",
    "Rule",
    "gaps",
    "load_catalogue",
    "load_requirements",
    "missing_quotes",
    "normalise",
    "parse_catalogue",
    "preflight_finding_ids",
    "seed_file",
    "traceability",
]

# A seed requirement met on the client side names a `chatcert preflight` finding instead of a check.
PREFLIGHT_PREFIX = "preflight:"

_REQUIREMENT_ID = re.compile(r"^[LPB]-\d{2,}$")
_SEED_PREFIX = re.compile(r"^\d{3}$")
_RULE_ID = re.compile(r"^[A-Z]+\d+$")
# A catalogue table row starts with a rule id cell: "| REQ3 | ...". Notes ("Note N1") are prose, not rows.
_RULE_ROW = re.compile(r"^\|\s*([A-Z]+\d+)\s*\|")


@dataclass(frozen=True)
class Requirement:
    """One sentence of a seed, quoted exactly, with the checks that cover it or why none does."""

    id: str
    seed: str
    quote: str
    checks: tuple[str, ...]
    reason: str | None


@dataclass(frozen=True)
class Rule:
    """One rule of checks-catalogue.md (id and text), with the reason when no check covers it."""

    id: str
    text: str
    reason: str | None = None


def normalise(text: str) -> str:
    """Collapse every run of whitespace (line breaks included) to one space; the seeds break lines oddly."""
    return " ".join(text.split())


def _requirements_path() -> Path:
    return data_dir("fixtures") / "requirements" / "seeds.yaml"


def _catalogue_path() -> Path:
    return data_dir("fixtures") / "requirements" / "catalogue.yaml"


def _read_yaml(path: Path, key: str) -> list[Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise HarnessError(f"cannot read {path}: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(key), list):
        raise HarnessError(f"{path}: expected a mapping with a list {key!r}")
    items: list[Any] = doc[key]
    return items


def _text(entry: dict[str, Any], key: str, where: str, *, required: bool = True) -> str | None:
    value = entry.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise HarnessError(f"{where}: {key!r} must be a non-empty string")
    return value


def load_requirements(path: Path | None = None) -> list[Requirement]:
    """The seed requirements, in file order; malformed entries raise HarnessError (the data is broken)."""
    path = path or _requirements_path()
    out: list[Requirement] = []
    seen: set[str] = set()
    for n, entry in enumerate(_read_yaml(path, "requirements")):
        where = f"{path.name} entry {n + 1}"
        if not isinstance(entry, dict):
            raise HarnessError(f"{where}: expected a mapping")
        unknown = set(entry) - {"id", "seed", "quote", "checks", "not_covered"}
        if unknown:
            raise HarnessError(f"{where}: unknown keys {sorted(unknown)}")
        rid = _text(entry, "id", where) or ""
        where = f"{path.name} {rid}"
        if not _REQUIREMENT_ID.match(rid):
            raise HarnessError(f"{where}: id must look like L-01, P-01 or B-01")
        if rid in seen:
            raise HarnessError(f"{where}: duplicate id")
        seen.add(rid)
        seed = str(entry.get("seed", ""))
        if not _SEED_PREFIX.match(seed):
            raise HarnessError(f"{where}: seed must be a file prefix such as '000'")
        checks = entry.get("checks", [])
        if not isinstance(checks, list) or not all(isinstance(c, str) and c for c in checks):
            raise HarnessError(f"{where}: checks must be a list of check ids")
        out.append(
            Requirement(
                id=rid,
                seed=seed,
                quote=_text(entry, "quote", where) or "",
                checks=tuple(checks),
                reason=_text(entry, "not_covered", where, required=False),
            )
        )
    return out


def load_catalogue(path: Path | None = None) -> list[Rule]:
    """The catalogue rules as recorded in catalogue.yaml (id, text, reason), in file order."""
    path = path or _catalogue_path()
    out: list[Rule] = []
    seen: set[str] = set()
    for n, entry in enumerate(_read_yaml(path, "rules")):
        where = f"{path.name} entry {n + 1}"
        if not isinstance(entry, dict):
            raise HarnessError(f"{where}: expected a mapping")
        unknown = set(entry) - {"id", "text", "reason"}
        if unknown:
            raise HarnessError(f"{where}: unknown keys {sorted(unknown)}")
        rid = _text(entry, "id", where) or ""
        if not _RULE_ID.match(rid) or rid in seen:
            raise HarnessError(f"{where}: rule id {rid!r} is malformed or repeated")
        seen.add(rid)
        out.append(
            Rule(rid, _text(entry, "text", where) or "", _text(entry, "reason", where, required=False))
        )
    return out


def _cells(row: str) -> list[str]:
    """Split a markdown table row on '|' outside backticks (E1's cell holds `str|null`)."""
    cells: list[str] = []
    cur: list[str] = []
    in_code = False
    for ch in row.strip().strip("|"):
        if ch == "`":
            in_code = not in_code
        if ch == "|" and not in_code:
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    cells.append("".join(cur).strip())
    return cells


def parse_catalogue(markdown: str) -> list[Rule]:
    """The rules of checks-catalogue.md: every table row whose first cell is a rule id (T1, REQ3, ...)."""
    rules: list[Rule] = []
    for line in markdown.splitlines():
        if _RULE_ROW.match(line):
            cells = _cells(line)
            rules.append(Rule(cells[0], cells[1] if len(cells) > 1 else ""))
    return rules


def preflight_finding_ids() -> frozenset[str]:
    """Finding ids `chatcert preflight` can report: its registered catalogue."""
    from chatcert.preflight.catalogue import FINDINGS

    return frozenset(FINDINGS)


def seed_file(seeds_dir: Path, seed: str) -> Path | None:
    """The seed document whose name starts with `seed` + '_' (e.g. 000_eacea72864e4f925.txt)."""
    found = sorted(seeds_dir.glob(f"{seed}_*"))
    return found[0] if found else None


def missing_quotes(seeds_dir: Path, requirements: Sequence[Requirement] | None = None) -> list[str]:
    """Problems with quotes: a seed file that is absent, or a quote not in it (whitespace normalised)."""
    requirements = load_requirements() if requirements is None else requirements
    texts: dict[str, str | None] = {}
    problems: list[str] = []
    for req in requirements:
        if req.seed not in texts:
            path = seed_file(seeds_dir, req.seed)
            texts[req.seed] = normalise(path.read_text(encoding="utf-8")) if path else None
        text = texts[req.seed]
        if text is None:
            problems.append(f"seed requirement {req.id}: no seed file {req.seed}_* in {seeds_dir}")
        elif normalise(req.quote) not in text:
            problems.append(
                f"seed requirement {req.id}: quote not found in seed {req.seed}: {req.quote[:60]!r}"
            )
    return problems


def _catalogue_rules(catalogue: Path | None, catalogue_md: Path | None) -> tuple[list[Rule], list[Rule]]:
    """(rules to report, rules recorded in catalogue.yaml); the first comes from the markdown when given."""
    recorded = load_catalogue(catalogue)
    if catalogue_md is None:
        return recorded, recorded
    reasons = {r.id: r.reason for r in recorded}
    parsed = parse_catalogue(catalogue_md.read_text(encoding="utf-8"))
    return [Rule(r.id, r.text, reasons.get(r.id)) for r in parsed], recorded


def _by_rule(checks: Iterable[Check]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in checks:
        for rule in c.rules:
            out.setdefault(rule, []).append(c.id)
    return out


def _item(id_: str, text: str, checks: list[str], reason: str | None, **extra: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": id_, **extra, "text": text, "checks": checks}
    if reason is not None:
        item["reason"] = reason
    return item


def traceability(
    *,
    requirements: Path | None = None,
    catalogue: Path | None = None,
    catalogue_md: Path | None = None,
    checks: Sequence[Check] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """The map: {"seeds": [...], "catalogue": [...]}, each item {id, text, checks, reason?}.

    Seed items also carry `seed` (the file prefix). With `catalogue_md` the rule list is parsed from
    that checks-catalogue.md instead of the copy in catalogue.yaml, so a new rule shows up uncovered.
    """
    registered = all_checks() if checks is None else list(checks)
    by_rule = _by_rule(registered)
    rules, _ = _catalogue_rules(catalogue, catalogue_md)
    return {
        "seeds": [
            _item(r.id, normalise(r.quote), list(r.checks), r.reason, seed=r.seed)
            for r in load_requirements(requirements)
        ],
        "catalogue": [_item(r.id, r.text, by_rule.get(r.id, []), r.reason) for r in rules],
    }


def gaps(
    *,
    requirements: Path | None = None,
    catalogue: Path | None = None,
    catalogue_md: Path | None = None,
    seeds_dir: Path | None = None,
    checks: Sequence[Check] | None = None,
) -> list[str]:
    """Everything the map leaves open, one line each (empty when fully traced).

    A requirement or rule with neither a check nor a reason; a reference to a check id that is not
    registered or a preflight finding that does not exist; a check naming a rule the catalogue lacks;
    with `catalogue_md`, differences between it and catalogue.yaml; with `seeds_dir`, quotes that are
    not in their seed.
    """
    registered = all_checks() if checks is None else list(checks)
    ids = {c.id for c in registered}
    findings = preflight_finding_ids()
    reqs = load_requirements(requirements)
    rules, recorded = _catalogue_rules(catalogue, catalogue_md)
    by_rule = _by_rule(registered)
    out: list[str] = []
    for req in reqs:
        if not req.checks and not req.reason:
            out.append(f"seed requirement {req.id}: no check and no reason")
        for ref in req.checks:
            if ref.startswith(PREFLIGHT_PREFIX):
                if ref[len(PREFLIGHT_PREFIX) :] not in findings:
                    out.append(f"seed requirement {req.id}: no preflight finding {ref!r}")
            elif ref not in ids:
                out.append(f"seed requirement {req.id}: check {ref!r} is not registered")
    for rule in rules:
        if rule.id not in by_rule and not rule.reason:
            out.append(f"catalogue rule {rule.id}: no check and no reason")
    known = {r.id for r in rules}
    for c in registered:
        out.extend(
            f"check {c.id}: names rule {r!r} the catalogue does not define" for r in c.rules if r not in known
        )
    if catalogue_md is not None:
        copy = {r.id: r for r in recorded}
        for rule in rules:
            if rule.id not in copy:
                out.append(f"catalogue rule {rule.id}: in {catalogue_md.name} but not in catalogue.yaml")
            elif normalise(copy[rule.id].text) != normalise(rule.text):
                out.append(
                    f"catalogue rule {rule.id}: text in catalogue.yaml differs from {catalogue_md.name}"
                )
        out.extend(
            f"catalogue rule {r.id}: in catalogue.yaml but not in {catalogue_md.name}"
            for r in recorded
            if r.id not in known
        )
    if seeds_dir is not None:
        out.extend(missing_quotes(seeds_dir, reqs))
    return out
