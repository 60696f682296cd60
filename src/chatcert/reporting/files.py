"""Report files: results.json (schema harness/results), junit.xml, report.html, badge.svg."""

from __future__ import annotations

import html
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


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ddd;padding:4px 8px;vertical-align:top;font-size:14px}th{background:#f4f4f4}
.passed{background:#e8f5e9}.non_strict{background:#fff8e1}.failed{background:#ffebee}.errored{background:#fce4ec}
.skipped,.disabled{color:#777}pre{white-space:pre-wrap;word-break:break-all;font-size:12px;margin:0}
details{margin:2px 0}.cert{padding:1em;border:2px solid #555;margin:1em 0}
.folded{opacity:.7}.causes{padding:.5em 1em;border:2px solid #c62828;margin:1em 0}"""


def _html(run: Run, doc: dict[str, Any]) -> str:
    e = html.escape
    cert = doc["certificate"]
    rows = []
    for r in run.results:
        # Follow-ons of a root cause stay listed but folded: the cause above says it once.
        folded = bool(r.caused_by)
        open_attr = " open" if r.outcome in (Outcome.FAILED, Outcome.ERRORED) and not folded else ""
        detail = ""
        if r.outcome in (Outcome.FAILED, Outcome.NON_STRICT, Outcome.ERRORED):
            evidence = json.dumps(r.evidence, indent=1)[:6000]
            detail = (
                f"<details{open_attr}><summary>{e(r.message)}</summary><pre>expected: {e(r.expected)}\n"
                f"got: {e(r.actual)}\n\nReproduce with:\n{e(r.reproducer)}\n\nevidence:\n{e(evidence)}"
                f"</pre></details>"
            )
        elif r.reason:
            detail = e(r.reason)
        waived = f"<br><b>waived:</b> {e(r.waived)}" if r.waived else ""
        if folded:
            cause = e(r.caused_by or "")
            waived += f'<br><small>caused by <a href="#cause-{cause}">{cause}</a></small>'
        css = f"{r.outcome.value} folded" if folded else r.outcome.value
        rows.append(
            f'<tr class="{css}" id="check-{e(r.id)}"><td>{e(r.area)}</td><td><code>{e(r.id)}</code><br>'
            f"<small>{e(r.description)}</small></td><td>{e(r.level)}</td><td>{e(r.outcome.value)}{waived}"
            f"</td><td>{detail}</td><td><small>{e(r.source)}</small></td><td>{r.requests}/{r.tokens}</td></tr>"
        )
    items = []
    for c in run.causes:
        links = ", ".join(f'<a href="#check-{e(d)}"><code>{e(d)}</code></a>' for d in c.dependents)
        items.append(
            f'<li id="cause-{e(c.id)}"><b><code>{e(c.id)}</code></b>: {e(c.message)}<details><summary>'
            f"{len(c.dependents)} dependent check(s) folded under it</summary>{links}</details></li>"
        )
    causes = "".join(items)
    causes_html = f'<div class="causes"><h2>Root causes</h2><ul>{causes}</ul></div>' if causes else ""
    summary = ", ".join(f"{k}: {v}" for k, v in doc["summary"].items())
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>chatcert report</title>
<style>{_CSS}</style></head><body><h1>chatcert report</h1>
<div class="cert"><b>{e(verdict_lines(cert)[0])}</b><br>{e(verdict_lines(cert)[1])}<br>
{"<b>Budget ran out</b> (" + e(doc["budget"]["exhausted"] or "") + "): it skipped " + e(", ".join(doc["budget"]["skipped"])) + "<br>" if doc["budget"]["skipped"] else ""}
Profile <code>{e(cert["profile"])}</code> ({e(cert["profile_digest"])}), chatcert {e(cert["chatcert_version"])},
endpoint <code>{e(cert["endpoint"])}</code>, model <code>{e(cert["model"])}</code>, {e(cert["date"])}</div>
<p>{e(summary)}. Requests sent: {doc["budget"]["requests_sent"]}; output tokens: {doc["budget"]["tokens_spent"]}.
{"<b>Stopped early: " + e(doc["stopped"]) + "</b>" if doc["stopped"] else ""}
{"<b>Interrupted (" + e(doc["interrupted"]) + "): checks not run are skipped</b>" if doc["interrupted"] else ""}</p>
{causes_html}
<table><tr><th>area</th><th>check</th><th>level</th><th>outcome</th><th>detail</th><th>source</th>
<th>req/tok</th></tr>{"".join(rows)}</table>
<h2>Configuration (redacted)</h2><pre>{e(json.dumps({k: doc[k] for k in ("target", "profile", "options")}, indent=1))}</pre>
</body></html>"""


def write_reports(run: Run, report_dir: Path) -> dict[str, str]:
    """Write every report file; returns name -> path. All text passes through the run's redactor."""
    report_dir.mkdir(parents=True, exist_ok=True)
    redact = run.client.redactor.text
    doc = results_document(run)
    files = {
        "results.json": redact(json.dumps(doc, indent=1, default=str)).encode(),
        "junit.xml": redact(_junit(run, doc).decode("utf-8")).encode(),
        "report.html": redact(_html(run, doc)).encode(),
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
