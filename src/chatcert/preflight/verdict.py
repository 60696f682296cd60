"""The verdict: GO when no check found an error, NO-GO otherwise; as JSON and as terminal text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatcert import __version__
from chatcert.interrupt import exit_code_for
from chatcert.preflight.findings import AREAS, CheckRecord, Finding
from chatcert.preflight.usage import FORMULA, UsageEstimate

__all__ = ["GO", "INTERRUPTED", "NO_GO", "PreflightReport", "render_text"]

GO = "GO"
NO_GO = "NO-GO"
INTERRUPTED = "INTERRUPTED"  # stopped by SIGINT/SIGTERM before every check ran: neither GO nor NO-GO


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
            "reasons": [f.message for f in self.errors],
            "findings": [f.to_dict() for f in self.findings],
            "checks": [c.to_dict() for c in self.checks],
            "rehearsal": self.rehearsal,
            "captured_requests": self.captured_requests,
            "usage_estimate": self.estimate.to_dict() if self.estimate is not None else None,
        }


_MARK = {"pass": "ok  ", "warn": "warn", "fail": "FAIL", "skipped": "skip"}


def render_text(report: PreflightReport, *, verbose: bool = False) -> str:
    """The terminal view: each check with its findings, the estimate, then the verdict and its reasons."""
    lines = [f"chatcert preflight: {report.subject} (profile {report.profile})"]
    if report.mode == "operation":
        lines.append("  note: the Operation format is inferred from seed 000's prose, not a published spec")
    for area in AREAS:
        records = [c for c in report.checks if c.area == area]
        if not records:
            continue
        lines.append(f"{area}:")
        for record in records:
            detail = f" ({record.skipped})" if record.skipped else ""
            lines.append(f"  {_MARK[record.status]}  {record.name}: {record.summary}{detail}")
            for finding in record.findings:
                tag = "ERROR" if finding.severity == "error" else "warning"
                lines.append(f"        {tag} [{finding.id}] {finding.message}")
                if verbose and finding.evidence:
                    lines.append(f"          evidence: {finding.evidence}")
    est = report.estimate
    if est is not None:
        completion = est.completion_tokens if est.completion_tokens is not None else "unbounded"
        total = est.total_tokens if est.total_tokens is not None else "unbounded"
        lines.append(
            f"usage estimate ({est.basis}, upper bound{', PAID' if est.paid else ''}): "
            f"{len(est.requests)} request(s), prompt <= {est.prompt_tokens} tokens, "
            f"completion <= {completion} tokens, total <= {total} tokens"
        )
        for r in est.requests:
            images = ", ".join(f"{w}x{h}" for w, h in r.images) or "none"
            lines.append(
                f"    request: {r.text_chars} text chars, images {images}, {r.messages} message(s), "
                f"max_tokens {r.max_tokens if r.max_tokens is not None else 'unset'}"
            )
        lines.append(f"    formula: {FORMULA}")
        lines.extend(f"    note: {note}" for note in est.notes)
    counts = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    lines.append(f"{report.verdict}: {counts}")
    lines.extend(f"  - [{f.id}] {f.message}" for f in report.errors)
    return "\n".join(lines)
