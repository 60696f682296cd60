"""Which checks did not run because of the run itself (budget, interruption, a stop, the run deadline).

A check skipped for such a reason says nothing about the target: a certificate that leans on a MUST or
PROFILE check of that kind is `incomplete`, not earned. The reasons follow one shared convention: the
skip reason starts with exactly one of `RUN_CAUSES`. Every other skip (a capability the profile does not
claim, a check that needs a key, `not exercised`, ...) is a fact about the profile or the target.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from chatcert.outcomes import CheckResult, Outcome

__all__ = ["RUN_CAUSES", "Incomplete", "incompleteness", "run_cause"]

# The reason prefixes of a skip the run caused, and the cause each names.
RUN_CAUSES: tuple[tuple[str, str], ...] = (
    ("budget:", "budget"),
    ("interrupted", "interrupted"),
    ("stopped:", "stopped"),
    ("run deadline", "run deadline"),
)

# Levels whose checks a certificate needs: a SHOULD that did not run costs a warning, not a level.
_REQUIRED = ("MUST", "PROFILE")


def run_cause(result: CheckResult) -> str | None:
    """The run cause ('budget', 'interrupted', 'stopped', 'run deadline') that kept a check from
    running, or None when it ran or was skipped for a reason of the profile or the target."""
    if result.outcome is not Outcome.SKIPPED:
        return None
    for prefix, cause in RUN_CAUSES:
        if result.reason.startswith(prefix):
            return cause
    return None


@dataclass
class Incomplete:
    """The MUST and PROFILE checks that did not run, by cause (empty when the evidence is whole)."""

    checks: list[CheckResult] = field(default_factory=list)
    # cause -> the first full reason given for it (e.g. "budget: request budget spent (40 requests)")
    reasons: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.checks)

    @property
    def by_level(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.checks:
            out[r.level] = out.get(r.level, 0) + 1
        return out

    def as_dict(self) -> dict[str, object]:
        return {
            "count": len(self.checks),
            "by_level": self.by_level,
            "causes": {c: {"count": self.counts[c], "reason": self.reasons[c]} for c in self.counts},
            "checks": [r.id for r in self.checks],
        }


def incompleteness(results: Iterable[CheckResult]) -> Incomplete:
    """The MUST/PROFILE checks among `results` that the run kept from running."""
    out = Incomplete()
    for r in results:
        cause = run_cause(r)
        if cause is None or r.level not in _REQUIRED:
            continue
        out.checks.append(r)
        out.counts[cause] = out.counts.get(cause, 0) + 1
        out.reasons.setdefault(cause, _reason_text(r.reason))
    return out


def _reason_text(reason: str) -> str:
    """The reason without its 'budget: '/'stopped: ' prefix, for a summary line that names the cause."""
    for prefix, _cause in RUN_CAUSES:
        if reason.startswith(prefix) and prefix.endswith(":"):
            return reason[len(prefix) :].strip()
    return reason
