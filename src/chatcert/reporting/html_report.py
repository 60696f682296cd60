"""report.html: the verdict first, then root causes and failures, then the rest folded by area.

One self-contained file (inline CSS and a few lines of script, no network fetch). A reader's first
screen holds the verdict banner and the first failures with their evidence and reproducers; passed and
skipped checks are folded by area; run metadata is folded at the end. Filtering by outcome uses radio
inputs and CSS, so it works with scripts off too; the script only adds the copy buttons.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from typing import Any

from chatcert.engine import Run
from chatcert.outcomes import CheckResult, Outcome
from chatcert.reporting.certificate import verdict_lines

__all__ = ["render_html"]

_FAILING = (Outcome.FAILED, Outcome.ERRORED)
# Exchanges shown open per failure; more stay in "more evidence".
_PANELS = 2

_CSS = """
*{box-sizing:border-box}body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
main,header,nav{max-width:1360px;margin:0 auto;padding:0 20px}
.banner{padding:18px 24px;margin:16px auto;border-radius:8px;color:#fff;max-width:1320px}
.banner h1{margin:0 0 6px;font-size:28px;letter-spacing:.02em}.banner p{margin:4px 0;font-size:14px}
.v-certified{background:#1b7f3b}.v-not-certified{background:#b3261e}.v-incomplete{background:#a15c00}.v-not-assessed{background:#616161}
.chips a{display:inline-block;margin:6px 6px 0 0;padding:2px 10px;border-radius:12px;
background:rgba(255,255,255,.2);color:#fff;text-decoration:none;font-size:13px}
nav{display:inline-block;font-size:14px;margin:0 6px 8px max(20px,calc((100% - 1320px)/2))}
input.filter+label{display:inline-block;font-size:14px;margin:0 14px 8px 0;cursor:pointer}
h2{font-size:18px;margin:22px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.card{background:#fff;border:1px solid #ddd;border-left:6px solid #999;border-radius:6px;
padding:10px 14px;margin:10px 0}
.card.failed,.card.errored{border-left-color:#b3261e}.card.non_strict{border-left-color:#c98a00}
.card.cause{border-left-color:#6a1b9a}.card h3{margin:0;font-size:15px}
.card h3 code{font-size:15px}.meta{color:#555;font-size:12px;margin:2px 0 6px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:8px}.grid>div{min-width:0}
.label{font-size:11px;text-transform:uppercase;color:#666;margin:6px 0 2px}
pre{background:#f4f4f6;border:1px solid #e2e2e6;border-radius:4px;padding:6px 8px;margin:0;
font-size:12px;white-space:pre;overflow-x:auto;max-height:240px}
table.index{table-layout:fixed}table.index td{font-size:12px;overflow-wrap:anywhere}
table.index pre.curl{font-size:11px}table.index code{font-size:12px}
pre.curl{white-space:pre;max-height:none}.copy{float:right;font-size:11px;margin-left:6px}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border-bottom:1px solid #eee;
padding:4px 8px;text-align:left;vertical-align:top;font-size:13px}
td.o-passed{color:#1b7f3b}td.o-skipped,td.o-disabled{color:#777}td.o-non_strict{color:#a15c00}
td.o-failed,td.o-errored{color:#b3261e;font-weight:600}
details>summary{cursor:pointer;padding:4px 0}.area{background:#fff;border:1px solid #ddd;
border-radius:6px;padding:4px 12px;margin:6px 0}dl{display:grid;grid-template-columns:max-content 1fr;
gap:2px 14px;font-size:13px}dt{color:#555}dd{margin:0}
#f-failing:checked~main .r:not(.failed):not(.errored),#f-warn:checked~main .r:not(.non_strict),
#f-passed:checked~main .r:not(.passed),#f-skipped:checked~main .r:not(.skipped):not(.disabled)
{display:none}
#f-failing:checked~main .area,#f-warn:checked~main .area,#f-passed:checked~main .area,
#f-skipped:checked~main .area{display:block}
#f-failing:checked~main details.area[data-has-failing="0"],#f-warn:checked~main details.area[data-has-warn="0"],
#f-passed:checked~main details.area[data-has-passed="0"],#f-skipped:checked~main details.area[data-has-skipped="0"]
{display:none}
input.filter{position:absolute;opacity:0}
input.filter:checked+label{font-weight:700;text-decoration:underline}
"""

_SCRIPT = """document.querySelectorAll('pre.curl').forEach(function(p){var b=document.createElement('button');
b.className='copy';b.textContent='copy';b.onclick=function(){navigator.clipboard.writeText(p.textContent)};
p.parentNode.insertBefore(b,p)});"""

_VERDICT_CLASS = {"certified": "v-certified", "incomplete": "v-incomplete", "not assessed": "v-not-assessed"}


def _pretty(text: str) -> str:
    """A body as a reader wants it: indented JSON when it parses, else the text as it came."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except (ValueError, TypeError):
        return text


def _exchange_panels(evidence: dict[str, Any], e: Callable[[str], str]) -> str:
    request = evidence.get("request") or {}
    response = evidence.get("response") or {}
    if not request and not response:
        return ""
    req_head = f"{request.get('method', '')} {request.get('url', '')}\n" + "".join(
        f"{k}: {v}\n" for k, v in (request.get("headers") or {}).items()
    )
    req_body = _pretty(str(request.get("body_excerpt") or ""))
    status = response.get("status")
    resp_head = f"HTTP {status if status is not None else '(no response)'}\n" + "".join(
        f"{k}: {v}\n" for k, v in (response.get("headers") or {}).items()
    )
    resp_body = _pretty(str(response.get("body_excerpt") or ""))
    error = evidence.get("error")
    if error:
        resp_head += f"transport error: {error}\n"
    return (
        '<div class="grid"><div><div class="label">request</div>'
        f"<pre>{e(req_head)}\n{e(req_body)}</pre></div>"
        '<div><div class="label">response</div>'
        f"<pre>{e(resp_head)}\n{e(resp_body)}</pre></div></div>"
    )


def _suspicion(item: Any) -> int:
    if not isinstance(item, dict) or "response" not in item:
        return 2
    status = (item.get("response") or {}).get("status")
    return 0 if item.get("error") or status is None or status >= 500 else 1


def _card(r: CheckResult, e: Callable[[str], str]) -> str:
    waived = f" · <b>waived</b>: {e(r.waived)}" if r.waived else ""
    expected = (
        '<div class="grid"><div><div class="label">expected</div>'
        f'<pre>{e(r.expected)}</pre></div><div><div class="label">got</div>'
        f"<pre>{e(r.actual) if r.actual.strip() else '(empty)'}</pre></div></div>"
        if r.expected or r.actual
        else ""
    )
    curl = (
        f'<div class="label">reproduce with</div><pre class="curl">{e(r.reproducer)}</pre>'
        if r.reproducer
        else ""
    )
    # Each exchange the check read, request and response side by side; the first ones shown, the rest
    # and any other evidence folded (results.json holds all of it).
    panels: list[str] = []
    extra: list[Any] = []
    # A fuzz check reads a hundred exchanges, most of them fine: the broken ones (no answer, a 5xx) go
    # first so the panels show what failed. The sort is stable, so other checks keep their order.
    for item in sorted(r.evidence, key=_suspicion):
        if isinstance(item, dict) and ("request" in item or "response" in item) and len(panels) < _PANELS:
            label = f'<div class="label">exchange {e(str(item.get("label") or ""))}</div>'
            panels.append(label + _exchange_panels(item, e))
        else:
            extra.append(item)
    more = (
        f"<details><summary>more evidence</summary><pre>{e(json.dumps(extra, indent=2, default=str))}"
        "</pre></details>"
        if extra
        else ""
    )
    return (
        f'<section class="card r {r.outcome.value}" id="check-{e(r.id)}">'
        f"<h3>{e(r.outcome.value.upper())} <code>{e(r.id)}</code></h3>"
        f'<div class="meta">{e(r.level)} · {e(r.area)} · {e(r.source)}{waived}</div>'
        f"<div>{e(r.message or r.reason)}</div>{expected}{''.join(panels)}{curl}{more}"
        "</section>"
    )


def _index(failures: list[CheckResult], e: Callable[[str], str]) -> str:
    """One line per failure, so the first screen shows them all: what, expected, got, reproducer."""
    rows = "".join(
        f'<tr class="r {r.outcome.value}"><td><a href="#check-{e(r.id)}"><code>{e(r.id)}</code></a></td>'
        f'<td class="msg">{e(r.message or r.reason)}</td><td><code>{e(r.expected[:80])}</code></td>'
        f"<td><code>{e(r.actual[:80]) if r.actual.strip() else '(empty)'}</code></td>"
        f'<td><pre class="curl">{e(r.reproducer)}</pre></td></tr>'
        for r in failures
    )
    return (
        '<table class="index"><colgroup><col style="width:20%"><col style="width:15%">'
        '<col style="width:15%"><col style="width:20%"><col style="width:30%"></colgroup>'
        "<tr><th>check</th><th>finding</th><th>expected</th><th>got</th>"
        f"<th>reproduce with</th></tr>{rows}</table>"
    )


def _causes(run: Run, by_id: dict[str, CheckResult], e: Callable[[str], str]) -> str:
    if not run.causes:
        return ""
    items = []
    for c in run.causes:
        deps = [by_id[d] for d in c.dependents if d in by_id]
        failing = [d for d in deps if d.outcome in (*_FAILING, Outcome.NON_STRICT)]
        links = ", ".join(f'<a href="#check-{e(d.id)}"><code>{e(d.id)}</code></a>' for d in deps)
        pre = by_id.get(c.id) if c.kind == "check" else None
        body = _card(pre, e) if pre is not None else ""
        items.append(
            f'<section class="card cause" id="cause-{e(c.id)}"><h3>CAUSE <code>{e(c.id)}</code></h3>'
            f"<div>{e(c.message)}</div>"
            f"<details><summary>{len(failing)} failing and {len(deps) - len(failing)} not run because "
            f"of it</summary>{links}</details>{body}</section>"
        )
    return "<h2>Root causes</h2>" + "".join(items)


def _area_tables(run: Run, e: Callable[[str], str]) -> str:
    by_area: dict[str, list[CheckResult]] = {}
    for r in run.results:
        by_area.setdefault(r.area, []).append(r)
    blocks = []
    for area, results in by_area.items():
        counts = {o: sum(r.outcome is o for r in results) for o in Outcome}
        text = ", ".join(f"{n} {o.value}" for o, n in counts.items() if n)
        rows = []
        for r in results:
            note = r.reason if r.outcome in (Outcome.SKIPPED, Outcome.DISABLED) else r.message
            if r.caused_by:
                note = f"caused by {r.caused_by}: {note}"
            link = f'<a href="#check-{e(r.id)}">' if r.outcome in (*_FAILING, Outcome.NON_STRICT) else ""
            rows.append(
                f'<tr class="r {r.outcome.value}{" folded" if r.caused_by else ""}" data-check="{e(r.id)}">'
                f"<td>{link}<code>{e(r.id)}</code>{'</a>' if link else ''}<br><small>{e(r.description)}"
                f'</small></td><td>{e(r.level)}</td><td class="o-{r.outcome.value}">{e(r.outcome.value)}'
                f"{' (waived)' if r.waived else ''}</td><td>{e(note)}</td></tr>"
            )
        failing = counts[Outcome.FAILED] + counts[Outcome.ERRORED]
        skipped = counts[Outcome.SKIPPED] + counts[Outcome.DISABLED]
        blocks.append(
            f'<details class="area" id="area-{e(area)}" data-has-failing="{int(failing > 0)}" '
            f'data-has-warn="{int(counts[Outcome.NON_STRICT] > 0)}" '
            f'data-has-passed="{int(counts[Outcome.PASSED] > 0)}" data-has-skipped="{int(skipped > 0)}">'
            f"<summary><b>{e(area)}</b>: {e(text)}</summary><table><tr><th>check</th><th>level</th>"
            f"<th>outcome</th><th>reason or finding</th></tr>{''.join(rows)}</table></details>"
        )
    return "<h2>Every check, by area</h2>" + "".join(blocks)


def _metadata(doc: dict[str, Any], e: Callable[[str], str]) -> str:
    target, profile, budget, options = doc["target"], doc["profile"], doc["budget"], doc["options"]
    pairs = [
        ("endpoint", target["endpoint"]),
        ("model", target["model"]),
        ("API key", target["api_key"] or "none"),
        ("TLS verified", target["tls_verified"]),
        ("profile", f"{profile['name']} ({profile['origin']}, {profile['digest']})"),
        ("started", doc["started_at"]),
        ("finished", doc["finished_at"]),
        ("duration", f"{doc['duration_s']} s"),
        ("requests sent", budget["requests_sent"]),
        ("output tokens", budget["tokens_spent"]),
        ("options", json.dumps(options)),
        ("chatcert", doc["chatcert_version"]),
        ("python", doc["host"]["python"]),
        ("platform", doc["host"]["platform"]),
    ]
    rows = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in pairs)
    effective = e(json.dumps(profile["effective"], indent=2, default=str))
    return (
        f"<h2>Run</h2><details><summary>configuration (redacted) and host</summary><dl>{rows}</dl>"
        f"<details><summary>effective profile</summary><pre>{effective}</pre></details></details>"
    )


def render_html(run: Run, doc: dict[str, Any]) -> str:
    e = html.escape
    cert = doc["certificate"]
    first, levels = verdict_lines(cert)
    verdict_class = _VERDICT_CLASS.get(str(cert["verdict"]), "v-not-certified")
    summary = doc["summary"]
    chips = "".join(
        f'<a href="#{anchor}">{n} {e(name)}</a>'
        for name, n, anchor in (
            ("failed", summary["failed"] + summary["errored"], "failures"),
            ("warnings", summary["non_strict"], "warnings"),
            ("passed", summary["passed"], "all-checks"),
            ("skipped", summary["skipped"], "all-checks"),
            ("disabled", summary["disabled"], "all-checks"),
        )
        if n
    )
    notes = []
    if doc["budget"]["skipped"]:
        notes.append(
            f"Budget ran out ({doc['budget']['exhausted'] or ''}): it skipped "
            f"{len(doc['budget']['skipped'])} check(s): {', '.join(doc['budget']['skipped'])}"
        )
    if doc["stopped"]:
        notes.append(f"Stopped early: {doc['stopped']}")
    if doc["interrupted"]:
        notes.append(f"Interrupted ({doc['interrupted']}): checks not run are skipped")
    banner = (
        f'<header class="banner {verdict_class}"><h1>{e(first)}</h1><p>{e(levels)}</p>'
        + "".join(f"<p><b>{e(n)}</b></p>" for n in notes)
        + f"<p>profile <code>{e(str(cert['profile']))}</code> · endpoint <code>{e(str(cert['endpoint']))}</code>"
        f" · model <code>{e(str(cert['model']))}</code> · {e(str(cert['date']))} · chatcert "
        f'{e(str(cert["chatcert_version"]))}</p><div class="chips">{chips}</div></header>'
    )
    by_id = {r.id: r for r in run.results}
    told = {c.id for c in run.causes}
    failures = [r for r in run.results if r.outcome in _FAILING and not r.caused_by and r.id not in told]
    warnings = [
        r for r in run.results if r.outcome is Outcome.NON_STRICT and not r.caused_by and r.id not in told
    ]
    failures_html = (
        '<h2 id="failures">Failures</h2>' + _index(failures, e) + "".join(_card(r, e) for r in failures)
        if failures
        else ""
    )
    warnings_html = (
        '<h2 id="warnings">Warnings (SHOULD checks that do not hold)</h2>'
        + "".join(_card(r, e) for r in warnings)
        if warnings
        else ""
    )
    filters = "".join(
        f'<input class="filter" type="radio" name="f" id="f-{key}"{" checked" if key == "all" else ""}>'
        f'<label for="f-{key}">{label}</label>'
        for key, label in (
            ("all", "all"),
            ("failing", "failures"),
            ("warn", "warnings"),
            ("passed", "passed"),
            ("skipped", "skipped"),
        )
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>chatcert: {e(first)}</title><style>{_CSS}</style></head><body>{banner}"
        f"<nav>show: </nav>{filters}<main>"
        f"{_causes(run, by_id, e)}{failures_html}{warnings_html}"
        f'<div id="all-checks">{_area_tables(run, e)}</div>{_metadata(doc, e)}</main>'
        f"<script>{_SCRIPT}</script></body></html>"
    )
