"""The verdict: GO when no check found an error, NO-GO otherwise; as JSON and as terminal text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatcert import __version__
from chatcert.interrupt import exit_code_for
from chatcert.preflight.findings import AREAS, CheckRecord, Finding
from chatcert.preflight.usage import FORMULA, UsageEstimate

__all__ = ["FOLLOW_ONS", "GO", "INTERRUPTED", "NO_GO", "PreflightReport", "caused_by", "render_text"]

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


_MARK = {"pass": "ok  ", "warn": "warn", "fail": "FAIL", "skipped": "skip"}


def render_text(report: PreflightReport, *, verbose: bool = False) -> str:
    """The terminal view: each check with its findings, the estimate, then the verdict and its reasons."""
    lines = [f"chatcert preflight: {report.subject} (profile {report.profile})"]
    present = {f.id for f in report.findings}
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
                cause = caused_by(finding, present)
                follows = f" (follows from [{cause}])" if cause else ""
                lines.append(f"        {tag} [{finding.id}]{follows} {finding.message}")
                if verbose and finding.evidence:
                    lines.append(f"          evidence: {finding.evidence}")
        if area == "rehearsal" and verbose and report.rehearsal:
            # What the uplink would bring back: the first bytes of each downlinked file.
            for out in report.rehearsal.get("outputs", []):
                shown = repr(str(out.get("preview", ""))[:300]) if out.get("exists") else "(not written)"
                lines.append(f"  downlink {out.get('pod_path')} ({out.get('size', 0)} bytes): {shown}")
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
    # Each root cause once, its follow-on findings (errors and warnings) folded under it.
    folded: dict[str, list[Finding]] = {}
    for finding in report.findings:
        cause = caused_by(finding, present)
        if cause:
            folded.setdefault(cause, []).append(finding)
    for finding in report.errors:
        if caused_by(finding, present) is None:
            lines.append(f"  - [{finding.id}] {finding.message}")
            lines.extend(f"      + follows from it: [{f.id}] {f.message}" for f in folded.get(finding.id, []))
    return "\n".join(lines)
