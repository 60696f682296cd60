"""Findings (one problem each) and the check log that collects them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from chatcert.outcomes import Outcome
from chatcert.preflight.catalogue import finding_rule

__all__ = ["AREAS", "CheckLog", "CheckRecord", "Finding", "Findings", "Severity", "error", "warning"]

Severity = Literal["error", "warning"]

# The areas a check belongs to, in the order the report shows them.
AREAS = ("operation", "script", "payload", "rehearsal", "usage")


@dataclass(frozen=True)
class Finding:
    """One problem: a stable snake_case id, error (NO-GO) or warning, a message naming it, evidence."""

    id: str
    severity: Severity
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        rule = finding_rule(self.id)
        return {
            "id": self.id,
            "severity": self.severity,
            "level": rule.level.value,
            "source": rule.source,
            "message": self.message,
            "evidence": self.evidence,
        }


def _finding(id_: str, severity: Severity, message: str, evidence: dict[str, Any]) -> Finding:
    # Registered ids only, at the severity their level allows: the catalogue is the complete list.
    rule = finding_rule(id_)
    if severity not in rule.severities:
        raise ValueError(
            f"preflight finding {id_!r} is {rule.level.value}: it cannot be reported as {severity}"
        )
    return Finding(id_, severity, message, evidence)


def error(id_: str, message: str, /, **evidence: Any) -> Finding:
    """A finding that makes the verdict NO-GO."""
    return _finding(id_, "error", message, evidence)


def warning(id_: str, message: str, /, **evidence: Any) -> Finding:
    """A finding worth reading that does not block the uplink."""
    return _finding(id_, "warning", message, evidence)


Findings = list[Finding]

_OUTCOMES = {
    "pass": Outcome.PASSED,
    "fail": Outcome.FAILED,
    "warn": Outcome.NON_STRICT,
    "skipped": Outcome.SKIPPED,
}


@dataclass
class CheckRecord:
    """What one named check did: passed, failed (an error), warned, or was skipped (and why)."""

    name: str
    area: str
    summary: str
    findings: Findings = field(default_factory=list)
    skipped: str | None = None

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        if any(f.severity == "error" for f in self.findings):
            return "fail"
        return "warn" if self.findings else "pass"

    @property
    def outcome(self) -> Outcome:
        """The status on certify's outcome ladder: an error fails, a warning is a SHOULD not held."""
        return _OUTCOMES[self.status]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "area": self.area,
            "status": self.status,
            "outcome": self.outcome.value,
            "summary": self.summary,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.skipped is not None:
            out["skipped"] = self.skipped
        return out


class CheckLog:
    """Runs named checks and keeps their records in order; `on_record` hears each record as it is made."""

    def __init__(self, on_record: Callable[[CheckRecord], None] | None = None) -> None:
        self.records: list[CheckRecord] = []
        self._on_record = on_record

    def _keep(self, record: CheckRecord) -> None:
        self.records.append(record)
        if self._on_record is not None:
            self._on_record(record)

    def run(self, name: str, area: str, summary: str, check: Callable[[], Iterable[Finding]]) -> Findings:
        """Run `check` now and record what it found; returns the findings."""
        found = list(check())
        self._keep(CheckRecord(name, area, summary, found))
        return found

    def add(self, name: str, area: str, summary: str, found: Iterable[Finding]) -> Findings:
        """Record findings computed elsewhere."""
        found = list(found)
        self._keep(CheckRecord(name, area, summary, found))
        return found

    def skip(self, name: str, area: str, summary: str, reason: str) -> None:
        """Record a check that could not run, and why."""
        self._keep(CheckRecord(name, area, summary, skipped=reason))

    @property
    def findings(self) -> Findings:
        return [f for record in self.records for f in record.findings]
