"""The fleet's compatibility matrix: entry x check, the outcome in each cell (matrix.json, matrix.html).

Built from each entry's results.json as written (already redacted), so the matrix says exactly what the
entries' own reports say. Columns put root causes first: checks that are a root cause somewhere, then
checks failing on their own somewhere, then failures that follow from a cause, then broken SHOULDs
(`non_strict`), then the rest; a cell
that follows from a root cause names it (`caused_by`), as the entry's report does.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from chatcert import __version__
from chatcert._redact import Redactor
from chatcert.fleet import EntryOutcome, FleetResult

__all__ = ["MATRIX_FILES", "matrix_document", "render_matrix_html", "write_matrix"]

MATRIX_SCHEMA_ID = "tag:chatcert,2026:harness/fleet-matrix"
MATRIX_FILES = ("matrix.json", "matrix.html")
_BAD = ("failed", "errored")


def _columns(outcomes: list[EntryOutcome]) -> list[dict[str, Any]]:
    """Every check any entry reported, root causes first (see the module doc), each in first-seen order."""
    meta: dict[str, dict[str, Any]] = {}
    rank: dict[str, int] = {}
    for o in outcomes:
        doc = o.document or {}
        roots = {c["id"] for c in doc.get("causes", []) if c.get("kind") == "check"}
        for r in doc.get("results", []):
            meta.setdefault(r["id"], {"id": r["id"], "area": r["area"], "level": r["level"]})
            bad = r["outcome"] in _BAD and not r.get("waived")
            if r["id"] in roots:
                tier = 0
            elif bad and not r.get("caused_by"):
                tier = 1
            elif bad:
                tier = 2
            elif r["outcome"] == "non_strict" and not r.get("waived"):
                tier = 3
            else:
                tier = 4
            rank[r["id"]] = min(rank.get(r["id"], 4), tier)
    order = {cid: i for i, cid in enumerate(meta)}
    ids = sorted(meta, key=lambda cid: (rank[cid], order[cid]))
    return [{**meta[cid], "root_cause": rank[cid] == 0} for cid in ids]


def _row(o: EntryOutcome, report_root: Path) -> dict[str, Any]:
    doc = o.document or {}
    cells = {}
    for r in doc.get("results", []):
        cell: dict[str, Any] = {"outcome": r["outcome"]}
        if r.get("caused_by"):
            cell["caused_by"] = r["caused_by"]
        if r.get("waived"):
            cell["waived"] = r["waived"]
        cells[r["id"]] = cell
    target = doc.get("target", {})
    folder = None
    if o.report_dir is not None:
        try:
            folder = o.report_dir.relative_to(report_root).as_posix()
        except ValueError:
            folder = str(o.report_dir)
    return {
        "entry": o.entry.name,
        "endpoint": target.get("endpoint") or (o.url or o.entry.endpoint or "(embedded mock)"),
        "is_mock": target.get("is_mock", o.entry.endpoint is None),
        "profile": o.entry.profile.name,
        "model": o.entry.model_name,
        "status": o.status,
        "exit_code": o.exit_code,
        "message": o.message,
        "verdict": (doc.get("certificate") or {}).get("verdict"),
        "report_dir": folder,
        "summary": doc.get("summary"),
        "causes": [
            {k: c[k] for k in ("id", "kind", "message", "dependents") if k in c}
            for c in doc.get("causes", [])
        ],
        "cells": cells,
    }


def matrix_document(result: FleetResult, report_root: Path, started_at: str = "") -> dict[str, Any]:
    rows = [_row(o, report_root) for o in result.outcomes]
    statuses = [r["status"] for r in rows]
    return {
        "schema": MATRIX_SCHEMA_ID,
        "chatcert_version": __version__,
        "started_at": started_at,
        "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "interrupted": result.interrupted,
        "exit_code": result.exit_code,
        "summary": {
            "entries": len(rows),
            **{s: statuses.count(s) for s in dict.fromkeys(["passed", "failed", *statuses])},
        },
        "checks": _columns(result.outcomes),
        "entries": rows,
    }


_CSS = """
body{font-family:system-ui,sans-serif;margin:16px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px}table{border-collapse:collapse;background:#fff}
th,td{border:1px solid #ddd;padding:3px 6px;font-size:12px;text-align:center;white-space:nowrap}
th.check{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;max-height:260px}
th.check.root{background:#f3e5f5}td.entry{text-align:left}td.entry small{color:#555}
td.entry,thead th:first-child{position:sticky;left:0;background:#fff;z-index:1}
.passed{background:#e6f4ea;color:#1b7f3b}.failed,.errored{background:#fce8e6;color:#b3261e;font-weight:600}
.non_strict{background:#fff4e0;color:#a15c00}.skipped,.disabled{color:#888}
.caused{background:#fbeff0;color:#b3261e;font-weight:400;font-style:italic}
.s-passed{color:#1b7f3b}.s-failed,.s-unreachable,.s-errored,.s-unusable,.s-incomplete{color:#b3261e}
ul.causes{font-size:13px}
"""
_MARK = {
    "passed": "PASS",
    "failed": "FAIL",
    "errored": "ERR",
    "non_strict": "WARN",
    "skipped": "skip",
    "disabled": "off",
}


def render_matrix_html(doc: dict[str, Any]) -> str:
    e = html.escape
    checks = doc["checks"]
    head = "".join(
        f'<th class="check{" root" if c["root_cause"] else ""}" title="{e(c["area"])} / {e(c["level"])}">'
        f"{e(c['id'])}</th>"
        for c in checks
    )
    body = []
    causes = []
    for row in doc["entries"]:
        cells = []
        for c in checks:
            cell = row["cells"].get(c["id"])
            if cell is None:
                cells.append('<td class="none">-</td>')
                continue
            outcome = cell["outcome"]
            cls = f"{outcome} caused" if cell.get("caused_by") else outcome
            tip = f"caused by {cell['caused_by']}" if cell.get("caused_by") else outcome
            if cell.get("waived"):
                tip += f"; waived: {cell['waived']}"
            cells.append(f'<td class="{e(cls)}" title="{e(tip)}">{_MARK.get(outcome, e(outcome))}</td>')
        link = f' <a href="{e(row["report_dir"])}/report.html">report</a>' if row["report_dir"] else ""
        body.append(
            f'<tr><td class="entry"><b>{e(row["entry"])}</b> <span class="s-{e(row["status"])}">'
            f"{e(row['status'])}</span>{link}<br><small>{e(row['endpoint'])} &middot; {e(row['profile'])}"
            f" &middot; {e(row['model'])}</small></td>{''.join(cells)}</tr>"
        )
        for cause in row["causes"]:
            causes.append(
                f"<li><b>{e(row['entry'])}</b>: <code>{e(cause['id'])}</code> {e(cause['message'])}"
                f" ({len(cause.get('dependents', []))} dependent check(s))</li>"
            )
        if row["status"] not in ("passed", "failed") or not row["cells"]:
            causes.append(f"<li><b>{e(row['entry'])}</b>: {e(row['status'])}: {e(row['message'])}</li>")
    summary = ", ".join(f"{n} {k}" for k, n in doc["summary"].items() if k != "entries" and n)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>chatcert fleet matrix</title>'
        f"<style>{_CSS}</style></head><body><h1>chatcert fleet: {doc['summary']['entries']} entries"
        f" ({e(summary)}), exit {doc['exit_code']}</h1>"
        + (f'<h2>Root causes and problems</h2><ul class="causes">{"".join(causes)}</ul>' if causes else "")
        + f"<table><thead><tr><th>entry</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        f"<p><small>chatcert {e(doc['chatcert_version'])}, finished {e(doc['finished_at'])}. Columns: root"
        " causes first (shaded header), then failures, then failures that follow from a root cause"
        " (italic), then warnings, then the rest.</small></p></body></html>\n"
    )


def write_matrix(doc: dict[str, Any], report_root: Path, redactor: Redactor) -> dict[str, Path]:
    """Write matrix.json and matrix.html into `report_root` (each complete or not at all), redacted."""
    report_root.mkdir(parents=True, exist_ok=True)
    files = {
        "matrix.json": redactor.text(json.dumps(doc, indent=1, default=str)),
        "matrix.html": redactor.text(render_matrix_html(doc)),
    }
    stage = Path(tempfile.mkdtemp(prefix=".matrix.", dir=report_root))
    out = {}
    try:
        for name, text in files.items():
            (stage / name).write_text(text, encoding="utf-8")
            os.replace(stage / name, report_root / name)
            out[name] = report_root / name
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return out
