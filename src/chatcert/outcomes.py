"""The outcome ladder, used identically in the terminal, JUnit, JSON and HTML."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CheckResult", "Outcome"]


class Outcome(str, enum.Enum):
    PASSED = "passed"
    NON_STRICT = "non_strict"  # a SHOULD does not hold
    FAILED = "failed"  # a MUST (or a profile promise) does not hold
    ERRORED = "errored"  # the harness itself broke
    SKIPPED = "skipped"  # with a reason: capability not claimed, budget spent, mock only, ...
    DISABLED = "disabled"  # deselected by the user


@dataclass
class CheckResult:
    id: str
    area: str
    level: str
    source: str
    description: str
    outcome: Outcome
    reason: str = ""
    message: str = ""
    expected: str = ""
    actual: str = ""
    evidence: list[dict[str, Any]] = field(default_factory=list)
    reproducer: str = ""
    duration_s: float = 0.0
    requests: int = 0
    tokens: int = 0
    waived: str | None = None
    rules: list[str] = field(default_factory=list)
    # The root cause this result follows from: a run-level cause id (chatcert.diagnosis) or the id of a
    # failed precondition check. The outcome stays; reports fold the result under its cause.
    caused_by: str | None = None

    @property
    def blocking(self) -> bool:
        """Does this result make the run fail (exit 1 or 3)?"""
        return self.outcome in (Outcome.FAILED, Outcome.ERRORED) and self.waived is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "area": self.area,
            "level": self.level,
            "source": self.source,
            "description": self.description,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "message": self.message,
            "expected": self.expected,
            "actual": self.actual,
            "evidence": self.evidence,
            "reproducer": self.reproducer,
            "duration_s": round(self.duration_s, 4),
            "requests": self.requests,
            "tokens": self.tokens,
            "waived": self.waived,
            "rules": self.rules,
            "caused_by": self.caused_by,
        }
