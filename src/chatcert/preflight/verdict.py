"""The verdict: GO when no check found an error, NO-GO otherwise; as JSON and as terminal text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatcert import __version__
from chatcert.interrupt import exit_code_for
from chatcert.preflight.findings import CheckRecord, Finding
from chatcert.preflight.usage import UsageEstimate

__all__ = ["FOLLOW_ONS", "GO", "INTERRUPTED", "NO_GO", "PreflightReport", "caused_by"]

GO = "GO"
NO_GO = "NO-GO"
INTERRUPTED = "INTERRUPTED"  # stopped by SIGINT/SIGTERM before every check ran: neither GO nor NO-GO


# A finding that follows from another one, when that one is present: the first present cause listed
# explains it, so the report tells the cause once and folds the follow-on under it. A script that
# crashed sent nothing and wrote nothing; one that does not parse has no max_tokens to read.
FOLLOW_ONS: dict[str, tuple[str, ...]] = {
    "rehearsal_no_request": ("script_failed", "script_timeout"),
    "output_empty": ("script_failed", "script_timeout", "rehearsal_no_request"),
    "output_missing": ("script_failed", "script_timeout", "rehearsal_no_request"),
    "usage_unbounded": ("script_syntax_error",),
}


def caused_by(finding: Finding, present: set[str]) -> str | None:
    """The root finding that explains `finding` (following chains to the first), or None."""
    cause = next((c for c in FOLLOW_ONS.get(finding.id, ()) if c in present), None)
    seen = set()
    while cause is not None and cause not in seen:
        seen.add(cause)
        earlier = next((c for c in FOLLOW_ONS.get(cause, ()) if c in present), None)
        if earlier is None:
            break
        cause = earlier
    return cause


@dataclass
class PreflightReport:
    """Everything one pre-flight found out."""

    subject: str  # the Operation file, or the script in --script mode
    mode: str  # "operation" | "script"
    profile: str
    operation_format: str = "inferred"
    checks: list[CheckRecord] = field(default_factory=list)
    rehearsal: dict[str, Any] | None = None
    captured_requests: list[Any] = field(default_factory=list)  # data: URLs elided
    estimate: UsageEstimate | None = None
    interrupted: str | None = None  # the signal that stopped the pre-flight, if one did

    @property
    def findings(self) -> list[Finding]:
        return [f for record in self.checks for f in record.findings]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def verdict(self) -> str:
        if self.interrupted:
            return INTERRUPTED
        return NO_GO if self.errors else GO

    @property
    def exit_code(self) -> int:
        """0 for GO, 1 for NO-GO, 130/143 when interrupted (chatcert's exit-code convention)."""
        if self.interrupted:
            return exit_code_for(self.interrupted)
        return 1 if self.errors else 0

    def _present(self) -> set[str]:
        return {f.id for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "chatcert preflight",
            "version": __version__,
            "verdict": self.verdict,
            "interrupted": self.interrupted,
            "subject": self.subject,
            "mode": self.mode,
            "profile": self.profile,
            "operation_format": self.operation_format,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            # The root causes of NO-GO; follow-ons carry `caused_by` in `findings`.
            "reasons": [f.message for f in self.errors if caused_by(f, self._present()) is None],
            "findings": [{**f.to_dict(), "caused_by": caused_by(f, self._present())} for f in self.findings],
            "checks": [c.to_dict() for c in self.checks],
            "rehearsal": self.rehearsal,
            "captured_requests": self.captured_requests,
            "usage_estimate": self.estimate.to_dict() if self.estimate is not None else None,
        }
