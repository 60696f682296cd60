"""Report files: results.json (schema harness/results), junit.xml, report.html, badge.svg."""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chatcert.engine import Run
from chatcert.outcomes import Outcome
from chatcert.reporting.certificate import badge_svg, budget_skipped, certificate, verdict_lines
from chatcert.reporting.html_report import render_html

__all__ = [
    "IN_PROGRESS",
    "REPORT_FILES",
    "FileReporter",
    "clear_reports",
    "results_document",
    "write_reports",
]

REPORT_FILES = ("results.json", "junit.xml", "report.html", "badge.svg")
IN_PROGRESS = "RUN-IN-PROGRESS.txt"


def results_document(run: Run) -> dict[str, Any]:
    cfg = run.config
    redact = run.client.redactor
    return {
        "schema": "tag:chatcert,2026:harness/results",
        "chatcert_version": run.version,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_s": round(run.duration_s, 3),
        "target": {
            "endpoint": redact.url(cfg.target.base_url),
            "is_mock": cfg.target_is_mock,
            "model": cfg.model_name,
            "tls_verified": cfg.target.verify_tls,
            "api_key": "[REDACTED]" if cfg.target.api_key else None,
        },
        "profile": {
            "name": cfg.profile.name,
            "digest": cfg.profile.digest,
            "origin": Path(cfg.profile.origin).name,
            "effective": cfg.profile.effective(),
        },
        "options": {
            "strict": cfg.strict,
            "include_costly": cfg.include_costly,
            "areas": list(cfg.areas),
            "only": list(cfg.only),
            "exclude": list(cfg.exclude),
            "waivers": dict(cfg.waivers),
            "max_requests": cfg.budget.max_requests,
            "max_tokens": cfg.budget.max_tokens,
        },
        "budget": {
            "requests_sent": cfg.budget.requests_sent,
            "tokens_spent": cfg.budget.tokens_spent,
            # Why the budget first could not pay for a probe, and every check it kept from running.
            "exhausted": run.budget_exhausted,
            "skipped": [r.id for r in budget_skipped(run)],
        },
        "host": {"python": platform.python_version(), "platform": platform.platform()},
        "summary": run.counts(),
        "stopped": run.stopped,
        "interrupted": run.interrupted,
        "exit_code": run.exit_code,
        "certificate": certificate(run),
        "causes": [c.as_dict() for c in run.causes],
        "results": [r.as_dict() for r in run.results],
    }


def _junit(run: Run, doc: dict[str, Any]) -> bytes:
    # A waived failure is reported as skipped (its waiver the reason), so chatcert's exit 0 is a green JUnit.
    suites = ET.Element(
        "testsuites",
        name="chatcert",
        tests=str(len(run.results)),
        failures=str(sum(r.outcome is Outcome.FAILED and not r.waived for r in run.results)),
        errors=str(sum(r.outcome is Outcome.ERRORED and not r.waived for r in run.results)),
        time=f"{run.duration_s:.3f}",
    )
    causes = {c.id: c.message for c in run.causes}
    by_area: dict[str, list[Any]] = {}
    for r in run.results:
        by_area.setdefault(r.area, []).append(r)
    for area, results in by_area.items():
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"chatcert.{area}",
            tests=str(len(results)),
            failures=str(sum(r.outcome is Outcome.FAILED and not r.waived for r in results)),
            errors=str(sum(r.outcome is Outcome.ERRORED and not r.waived for r in results)),
            skipped=str(
                sum(r.outcome in (Outcome.SKIPPED, Outcome.DISABLED) or bool(r.waived) for r in results)
            ),
        )
        props = ET.SubElement(suite, "properties")
        for name, value in (
            ("profile", doc["profile"]["name"]),
            ("profile_digest", doc["profile"]["digest"]),
            ("endpoint", doc["target"]["endpoint"]),
            ("chatcert_version", run.version),
            *(("root_cause", f"{c.id}: {c.message}") for c in run.causes),
            ("certificate", doc["certificate"]["verdict"]),
            ("certificate_complete", str(doc["certificate"]["complete"]).lower()),
            ("certificate_statement", verdict_lines(doc["certificate"])[0]),
            ("levels_earned", ",".join(doc["certificate"]["earned"])),
            ("must_checks_not_run", (doc["certificate"]["incomplete"] or {}).get("count", 0)),
        ):
            ET.SubElement(props, "property", name=name, value=str(value))
        for r in results:
            case = ET.SubElement(
                suite, "testcase", classname=f"chatcert.{area}", name=r.id, time=f"{r.duration_s:.4f}"
            )
            detail = (
                f"{r.message}\nexpected: {r.expected}\ngot: {r.actual}\nsource: {r.source}\n"
                f"Reproduce with: {r.reproducer}"
            )
            message = r.message
            properties = [("caused_by", r.caused_by), ("waived", r.waived), ("outcome", r.outcome.value)]
            if r.caused_by or r.waived:
                # A follow-on says which root cause (reported once) it comes from; a waiver keeps its reason
                # and the outcome it hides, so a green JUnit still shows what was waived.
                props = ET.SubElement(case, "properties")
                for name, value in properties:
                    if value:
                        ET.SubElement(props, "property", name=name, value=value)
            if r.caused_by:
                cause = causes.get(r.caused_by, "")
                message = f"[caused by {r.caused_by}] {r.message or r.reason}"
                detail = f"caused by {r.caused_by}: {cause}\n{detail}"
            outcome = f"outcome: {r.outcome.value} ({r.level})"
            if r.waived:
                ET.SubElement(case, "skipped", message=f"waived: {r.waived}").text = f"{outcome}\n{detail}"
            elif r.outcome is Outcome.FAILED:
                ET.SubElement(case, "failure", message=message[:500], type=r.level).text = detail
            elif r.outcome is Outcome.ERRORED:
                ET.SubElement(case, "error", message=message[:500], type="errored").text = detail
            elif r.outcome in (Outcome.SKIPPED, Outcome.DISABLED):
                reason = f"{r.outcome.value}: {r.reason}"
                if r.caused_by:
                    reason += f" [caused by {r.caused_by}]"
                ET.SubElement(case, "skipped", message=reason)
            elif r.outcome is Outcome.NON_STRICT:
                ET.SubElement(case, "system-out").text = f"non_strict (SHOULD broken): {detail}"
    ET.indent(suites)
    data: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return data


def write_reports(run: Run, report_dir: Path) -> dict[str, str]:
    """Write every report file; returns name -> path. All text passes through the run's redactor."""
    report_dir.mkdir(parents=True, exist_ok=True)
    redact = run.client.redactor.text
    doc = results_document(run)
    files = {
        "results.json": redact(json.dumps(doc, indent=1, default=str)).encode(),
        "junit.xml": redact(_junit(run, doc).decode("utf-8")).encode(),
        "report.html": redact(render_html(run, doc)).encode(),
        "badge.svg": badge_svg(doc["certificate"]).encode(),
    }
    # Each file is written beside the folder first and then renamed into place: a reader (or a
    # run killed mid-write) never sees half a file, and never one run's files mixed with another's.
    out = {}
    stage = Path(tempfile.mkdtemp(prefix=f".{report_dir.name}.", dir=report_dir.parent))
    try:
        for name, data in files.items():
            (stage / name).write_bytes(data)
        for name in files:
            os.replace(stage / name, report_dir / name)
            out[name] = str(report_dir / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    (report_dir / IN_PROGRESS).unlink(missing_ok=True)
    return out


def clear_reports(report_dir: Path, started_at: str) -> None:
    """Remove the previous run's report files and leave a marker: the folder never shows an older
    run's verdict once a new run has started (also when this one is killed outright)."""
    if not report_dir.is_dir():
        return
    for name in REPORT_FILES:
        (report_dir / name).unlink(missing_ok=True)
    (report_dir / IN_PROGRESS).write_text(
        f"chatcert run started at {started_at} has not finished; the previous run's reports were removed\n"
    )


class FileReporter:
    """Writes the report files when the run ends (before the console prints where they are)."""

    def __init__(self, report_dir: Path) -> None:
        self.report_dir = report_dir

    def on_start(self, run: Run) -> None:
        clear_reports(self.report_dir, run.started_at)

    def on_result(self, run: Run, result: Any) -> None:
        pass

    def on_finish(self, run: Run) -> None:
        run.artifacts.update(write_reports(run, self.report_dir))
