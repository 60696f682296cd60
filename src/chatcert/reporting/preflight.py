"""The pre-flight's reports: the terminal view and `preflight.json`, beside certify's and bench's writers.

`chatcert.preflight` decides (findings, the GO/NO-GO verdict, `PreflightReport.to_dict()`); this module
only presents what it decided. `PreflightJsonWriter`, `PreflightTextView` and `PreflightJsonView` are the
pre-flight's reporters (`chatcert.preflight.reporter.PreflightReporter`): `run_preflight` hands them its
events, the CLI only builds them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TextIO

from chatcert.errors import UsageError
from chatcert.preflight.findings import AREAS, CheckRecord, Finding
from chatcert.preflight.usage import FORMULA
from chatcert.preflight.verdict import PreflightReport, caused_by

__all__ = ["PreflightJsonView", "PreflightJsonWriter", "PreflightTextView", "render_text", "write_report"]


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


def write_report(report: PreflightReport, directory: str | Path) -> Path:
    """Write `preflight.json` into `directory` (created if needed); return its path."""
    folder = Path(directory)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "preflight.json"
        # Written beside and renamed into place: a reader never sees half a report.
        part = folder / ".preflight.json.part"
        part.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(part, path)
    except OSError as exc:
        raise UsageError(f"cannot write the report into {folder}: {exc}") from exc
    return path


class _FinishOnly:
    """A reporter that presents the finished report only (the checks' order is not the report's)."""

    def on_start(self, report: PreflightReport) -> None:
        pass

    def on_check(self, record: CheckRecord) -> None:
        pass


class PreflightJsonWriter(_FinishOnly):
    """`preflight.json` in `directory` when the pre-flight finishes, interrupted ones too; `path` after."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = directory
        self.path: Path | None = None

    def on_finish(self, report: PreflightReport) -> None:
        self.path = write_report(report, self.directory)


class PreflightTextView(_FinishOnly):
    """The terminal view (`render_text`) on `out` (stdout when None, looked up at the finish)."""

    def __init__(self, *, verbose: bool = False, out: TextIO | None = None) -> None:
        self.verbose, self._out = verbose, out

    def on_finish(self, report: PreflightReport) -> None:
        print(render_text(report, verbose=self.verbose), file=self._out or sys.stdout)


class PreflightJsonView(_FinishOnly):
    """The report as JSON (what `preflight.json` holds) on `out` (stdout when None)."""

    def __init__(self, *, out: TextIO | None = None) -> None:
        self._out = out

    def on_finish(self, report: PreflightReport) -> None:
        print(json.dumps(report.to_dict(), indent=2), file=self._out or sys.stdout)
