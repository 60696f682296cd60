"""The preflight finding catalogue is complete and enforced: every finding is registered with a level and
a source, created at a severity its level allows, and every registered id is one preflight can create."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import chatcert.preflight as preflight_pkg
from chatcert.preflight.catalogue import FINDINGS
from chatcert.preflight.findings import error, warning
from chatcert.registry import Level
from chatcert.traceability import preflight_finding_ids

SOURCE = Path(preflight_pkg.__file__).parent


def _string_constants() -> set[str]:
    """Every string literal in preflight's source: finding ids are passed as literals (sometimes through
    a variable that holds error or warning), so a registered id absent from here is dead."""
    found: set[str] = set()
    for path in SOURCE.glob("*.py"):
        if path.name == "catalogue.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                found.add(node.value)
    return found


def _created_ids() -> set[str]:
    ids = set()
    for path in SOURCE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name in ("error", "warning") and isinstance(node.args[0].value, str):
                    ids.add(node.args[0].value)
    return ids


def test_every_finding_created_in_the_source_is_registered() -> None:
    assert _created_ids() <= set(FINDINGS)


def test_every_registered_finding_can_be_created() -> None:
    dead = sorted(set(FINDINGS) - _string_constants())
    assert not dead, f"registered but never created: {dead}"


def test_traceability_reads_the_registry() -> None:
    assert preflight_finding_ids() == frozenset(FINDINGS)
    # The finding created through a variable (error or warning by profile) was missed by parsing calls.
    assert "request_external_image_url" in preflight_finding_ids()


def test_every_rule_has_a_level_a_source_and_a_known_area() -> None:
    for rule in FINDINGS.values():
        assert rule.area in ("operation", "script", "payload", "rehearsal", "usage"), rule.id
        assert rule.source and rule.description.endswith("."), rule.id


def test_a_finding_is_created_only_at_a_severity_its_level_allows() -> None:
    must = next(r.id for r in FINDINGS.values() if r.level is Level.MUST)
    should = next(r.id for r in FINDINGS.values() if r.level is Level.SHOULD)
    either = next(r.id for r in FINDINGS.values() if r.level is Level.PROFILE)
    assert error(must, "m").to_dict()["level"] == "MUST"
    assert warning(should, "m").to_dict()["source"] == FINDINGS[should].source
    assert error(either, "m").severity == "error" and warning(either, "m").severity == "warning"
    with pytest.raises(ValueError, match="cannot be reported as warning"):
        warning(must, "m")
    with pytest.raises(ValueError, match="cannot be reported as error"):
        error(should, "m")
    with pytest.raises(KeyError, match="not registered"):
        error("no_such_finding", "m")


def test_a_check_record_reports_its_outcome_on_certifys_ladder() -> None:
    from chatcert.preflight.findings import CheckRecord

    must = next(r.id for r in FINDINGS.values() if r.level is Level.MUST)
    should = next(r.id for r in FINDINGS.values() if r.level is Level.SHOULD)
    assert CheckRecord("c", "payload", "s").to_dict()["outcome"] == "passed"
    assert CheckRecord("c", "payload", "s", [warning(should, "m")]).to_dict()["outcome"] == "non_strict"
    assert CheckRecord("c", "payload", "s", [error(must, "m")]).to_dict()["outcome"] == "failed"
    assert CheckRecord("c", "payload", "s", skipped="why").to_dict()["outcome"] == "skipped"
