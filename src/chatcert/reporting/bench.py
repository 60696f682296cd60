"""What a bench run leaves behind: bench.json, bench.html and SVG charts, the history entry, and the
console table. `BenchReportWriter` and `BenchConsole` are the run's reporters
(`chatcert.bench.reporter.BenchReporter`): the run hands them its events, the CLI only builds them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from chatcert import interrupt
from chatcert.bench.gate import Comparison, Rule, caveats, compare, parse_rules, value_of
from chatcert.bench.records import save_run, saved_runs
from chatcert.bench.reporter import FinishReporter
from chatcert.reporting.charts import cdf_chart, line_chart

if TYPE_CHECKING:
    pass

__all__ = [
    "BenchConsole",
    "BenchGate",
    "BenchReportWriter",
    "console_table",
    "gate_lines",
    "trend_series",
    "write_report",
]

_TREND_KEYS = (
    ("ttft_ms.p95", "TTFT p95", "ms"),
    ("itl_ms.p99", "ITL p99", "ms"),
    ("request_throughput_rps", "request throughput", "req/s"),
)


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def console_table(record: dict[str, Any]) -> str:
    """One line per level with the figures people look at first."""
    head = (
        f"{'level':>14} {'ok':>6} {'fail':>5} {'req/s':>8} {'TTFT p50':>9} {'p95':>8} {'p99':>8} "
        f"{'ITL p50':>8} {'p99':>7} {'TPOT p50':>9} {'E2E p50':>8} {'lag p99':>8}  client"
    )
    rows = [head]
    for lvl in record["levels"]:
        m = lvl["metrics"]
        client = lvl["client"]
        flag = "CLIENT-LIMITED" if client["client_limited"] else f"ok ({client['cpu_fraction']:.0%} cpu)"
        rows.append(
            f"{lvl['label']:>14} {lvl['ok']:>6} {lvl['failed']:>5} {_fmt(lvl['request_throughput_rps']):>8} "
            f"{_fmt(m['ttft_ms']['p50'], 2):>9} {_fmt(m['ttft_ms']['p95'], 2):>8} "
            f"{_fmt(m['ttft_ms']['p99'], 2):>8} {_fmt(m['itl_ms']['p50'], 2):>8} "
            f"{_fmt(m['itl_ms']['p99'], 2):>7} {_fmt(m['tpot_ms']['p50'], 2):>9} "
            f"{_fmt(m['e2e_ms']['p50']):>8} {_fmt(m['client_lag_ms']['p99'], 2):>8}  {flag}"
        )
    sources = sorted({lvl["tokens_source"] for lvl in record["levels"] if lvl["tokens_source"]})
    stamps = record["settings"].get("stamps", "-")
    counted = ", ".join(sources) or "-"
    rows.append(f"durations in ms; output tokens counted from: {counted}; arrivals stamped by {stamps}")
    return "\n".join(rows)


def gate_lines(comparisons: Sequence[Comparison], baseline_name: str) -> list[str]:
    lines = [f"compared with saved run {baseline_name!r}:"]
    for c in comparisons:
        if c.change is None:
            lines.append(f"  {c.level:>14} {c.rule.key:<28} {c.note}")
            continue
        unit = "%" if c.rule.relative else ""
        verdict = "TRIPPED" if c.tripped else "ok"
        lines.append(
            f"  {c.level:>14} {c.rule.key:<28} {_fmt(c.baseline, 3):>10} -> {_fmt(c.current, 3):>10} "
            f"({c.change:+.1f}{unit}; rule {c.rule.text})  {verdict}"
        )
    if not comparisons:
        lines.append("  no level of this run matches a level of the baseline (compare labels like c=4)")
    return lines


def trend_series(
    runs: Sequence[dict[str, Any]], key: str
) -> tuple[list[str], list[tuple[str, list[tuple[float, float]]]]]:
    """Run names and, per level label, the (run position, value) points of `key`."""
    names = [str(r.get("name") or r.get("created", "?")) for r in runs]
    by_label: dict[str, list[tuple[float, float]]] = {}
    for i, run in enumerate(runs):
        for lvl in run.get("levels", []):
            value = value_of(lvl, key)
            if value is not None:
                by_label.setdefault(lvl["label"], []).append((float(i), value))
    return names, list(by_label.items())


def _charts(record: dict[str, Any], history: Sequence[dict[str, Any]]) -> dict[str, str]:
    samples = [s for s in record.get("samples", []) if s["ok"] and not s["warmup"]]
    labels = [lvl["label"] for lvl in record["levels"]]
    charts = {
        "bench-ttft-cdf.svg": cdf_chart(
            [(lbl, [s["ttft_ms"] for s in samples if s["level"] == lbl]) for lbl in labels],
            title="TTFT distribution per level (CDF)",
        ),
        "bench-itl-cdf.svg": cdf_chart(
            [(lbl, [g for s in samples if s["level"] == lbl for g in s["itl_ms"]]) for lbl in labels],
            title="ITL distribution per level (CDF, every gap)",
        ),
    }
    # A run saved under an existing name replaces that entry in the trend.
    # An unsaved run has no name: "this run" reads better under the axis than a cut-off timestamp.
    current = {**record, "name": record.get("name") or "this run"}
    runs = [*(r for r in history if not record.get("name") or r.get("name") != record["name"]), current]
    for key, title, unit in _TREND_KEYS:
        names, series = trend_series(runs, key)
        charts[f"bench-trend-{key.replace('.', '-').replace('_', '-')}.svg"] = line_chart(
            series, title=f"{title} over saved runs", x_label="run", y_label=unit, x_names=names
        )
    return charts


def _summary_rows(record: dict[str, Any]) -> str:
    rows = []
    for lvl in record["levels"]:
        for metric, summary in lvl["metrics"].items():
            cells = "".join(
                f"<td>{_fmt(summary.get(k), 3)}</td>"
                for k in ("count", "p50", "p90", "p95", "p99", "mean", "stdev")
            )
            rows.append(
                f"<tr><td>{escape(lvl['label'])}</td><td><code>{escape(metric)}</code></td>{cells}</tr>"
            )
    return "\n".join(rows)


def _level_rows(record: dict[str, Any]) -> str:
    rows = []
    for lvl in record["levels"]:
        c = lvl["client"]
        flag = (
            f'<span class="bad">client-limited: {escape("; ".join(c["reasons"]))}</span>'
            if c["client_limited"]
            else "ok"
        )
        rows.append(
            f"<tr><td>{escape(lvl['label'])}</td><td>{lvl['ok']}</td><td>{lvl['failed']}</td>"
            f"<td>{lvl['warmup']}</td><td>{_fmt(lvl['request_throughput_rps'], 2)}</td>"
            f"<td>{_fmt(lvl['output_throughput_tps'], 1)}</td><td>{escape(str(lvl['tokens_source']))}</td>"
            f"<td>{escape(lvl['window']['kind'])} {lvl['window']['length_s']:.2f} s</td>"
            f"<td>{c['cpu_fraction']:.0%}</td><td>{_fmt(c['cpu_us_per_read'], 1)}</td>"
            f"<td>{c['loop_lag_p99_ms']:.2f}</td><td>{c['dispatch_delay_p95_ms']:.2f}</td><td>{flag}</td></tr>"
        )
    return "\n".join(rows)


_LEVEL_HEAD = "".join(
    f"<th>{h}</th>"
    for h in (
        "level",
        "ok",
        "failed",
        "warm-up",
        "req/s",
        "output tok/s",
        "tokens from",
        "window",
        "client CPU",
        "CPU µs/read",
        "loop lag p99 ms",
        "dispatch p95 ms",
        "client",
    )
)


def _intro(record: dict[str, Any]) -> str:
    target, machine = record["target"], record["machine"]
    scenario = target.get("scenario")
    mock = f" (embedded mock, scenario {escape(json.dumps(scenario))})" if target["mock"] and scenario else ""
    where = escape(target["url"] + target.get("route", ""))
    return (
        f"<p>Target <code>{where}</code>, profile {escape(target['profile'])}, "
        f"model <code>{escape(target['model'])}</code>{mock}. "
        f"chatcert {escape(record['chatcert_version'])}, {escape(record['created'])}, "
        f"event loop {escape(str(record['settings'].get('event_loop')))}, "
        f"arrivals stamped by {escape(str(record['settings'].get('stamps')))}, "
        f"host {escape(str(machine.get('host')))}, {machine.get('cpus')} CPUs, "
        f"load average {escape(str(machine.get('loadavg')))} (start) / "
        f"{escape(str(machine.get('loadavg_end')))} (end), "
        f"cores: {escape(json.dumps(machine.get('pinning')))}.</p>"
    )


def _gate_banner(gate: Sequence[str]) -> str:
    """The regression gate's verdict first, coloured: a reader opens bench.html to learn whether it held."""
    if not gate:
        return ""
    tripped = any(line.rstrip().endswith("TRIPPED") for line in gate)
    verdict = "Regression gate TRIPPED" if tripped else "Regression gate held"
    css = "gate-tripped" if tripped else "gate-held"
    return f'<div class="gate {css}"><h2>{verdict}</h2><pre>{escape(chr(10).join(gate))}</pre></div>'


def _html(record: dict[str, Any], charts: dict[str, str], gate: Sequence[str]) -> str:
    target = record["target"]
    banner = (
        '<p class="bad"><b>CLIENT-LIMITED:</b> the client was the bottleneck in at least one level; '
        "those numbers measure chatcert, not the server.</p>"
        if record["client_limited"]
        else ""
    )
    formulas = "".join(
        f"<tr><td><code>{escape(k)}</code></td><td>{escape(v)}</td></tr>"
        for k, v in record["formulas"].items()
    )
    figures = "".join(
        f'<figure>{svg}<figcaption><a href="{name}">{name}</a></figcaption></figure>'
        for name, svg in charts.items()
    )
    gate_html = _gate_banner(gate)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chatcert bench: {escape(target["url"])}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
.bad {{ color: #b00; }}
figure {{ display: inline-block; margin: 0.5em; }}
.gate {{ padding: 10px 16px; border-radius: 6px; color: #fff; margin: 1em 0; }}
.gate h2 {{ margin: 0 0 6px; font-size: 20px; }} .gate pre {{ margin: 0; color: #fff; font-size: 12px; }}
.gate-held {{ background: #1b7f3b; }} .gate-tripped {{ background: #b3261e; }}
</style></head><body>
<h1>chatcert bench</h1>
{gate_html}
{banner}
<h2>Percentiles (milliseconds; output_tps in tokens/s)</h2>
<table><tr><th>level</th><th>metric</th><th>count</th><th>p50</th><th>p90</th><th>p95</th><th>p99</th><th>mean</th><th>stdev</th></tr>
{_summary_rows(record)}
</table>
{_intro(record)}
<h2>Levels</h2>
<table><tr>{_LEVEL_HEAD}</tr>
{_level_rows(record)}
</table>
<h2>Distributions and trend</h2>
{figures}
<h2>Formulas</h2>
<table>{formulas}</table>
<p>Every request, with its drivers and stamps, is in <a href="bench.json">bench.json</a>.</p>
</body></html>
"""


def write_report(
    record: dict[str, Any],
    directory: str | Path,
    history: Sequence[dict[str, Any]] = (),
    gate: Sequence[str] = (),
) -> list[Path]:
    """Write bench.json, bench.html and the SVG charts into `directory`; returns the paths written."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    charts = _charts(record, history)
    written = []
    data = folder / "bench.json"
    # Written beside and renamed into place: a reader never sees half a record.
    part = folder / ".bench.json.part"
    # Compact: the samples make most of the file, and indentation nearly doubled it.
    part.write_text(json.dumps(record, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(part, data)
    written.append(data)
    for name, svg in charts.items():
        path = folder / name
        path.write_text(svg + "\n", encoding="utf-8")
        written.append(path)
    page = folder / "bench.html"
    page.write_text(_html(record, charts, gate), encoding="utf-8")
    written.append(page)
    return written


def _no_warning(_: str) -> None:
    pass


class BenchGate:
    """The comparison of a whole run with a saved one (`baseline`, shown as `name`). Without `rules`
    it compares on TTFT p95 +10% and reports, but never trips (`enforced` is False)."""

    def __init__(self, baseline: dict[str, Any], name: str, rules: Sequence[Rule] = ()) -> None:
        self.baseline, self.name = baseline, name
        self.enforced = bool(rules)
        self.rules = list(rules) or parse_rules(["p95:+10%"])
        self.lines: list[str] = []
        self.tripped: list[Comparison] = []

    def judge(self, record: dict[str, Any], warn: Callable[[str], None] = _no_warning) -> None:
        """Compare `record` with the baseline: the gate's lines, the rules tripped, and the record's
        `comparison` (its baseline and the caveats, each also told to `warn`)."""
        comparisons = compare(record, self.baseline, self.rules)
        self.lines = gate_lines(comparisons, self.name)
        warnings = caveats(record, self.baseline)
        record["comparison"] = {"baseline": self.name, "caveats": warnings}
        self.lines += [f"  caveat: {w}" for w in warnings]
        for w in warnings:
            warn(f"the comparison may mislead: {w}")
        if self.enforced:
            self.tripped = [c for c in comparisons if c.tripped]


class BenchReportWriter(FinishReporter):
    """bench.json, bench.html and the charts in `report_dir` when the run finishes; for a whole run also
    the gate's verdict (`gate`) and, with `save`, the history entry. An interrupted run's finished levels
    are written too, never saved (the history keeps whole runs only). `warn` hears unreadable history
    entries and the comparison's caveats. After the finish: `written` (the paths) and `saved`."""

    def __init__(
        self,
        report_dir: str | Path,
        *,
        history_dir: str | Path | None = None,
        save: str | None = None,
        gate: BenchGate | None = None,
        warn: Callable[[str], None] = _no_warning,
    ) -> None:
        self.report_dir, self.history_dir, self.save = report_dir, history_dir, save
        self.gate, self._warn = gate, warn
        self.written: list[Path] = []
        self.saved: Path | None = None

    def on_finish(self, record: dict[str, Any]) -> None:
        if record.get("interrupted"):
            with interrupt.shielded():  # a second signal must not cut the report of the first in half
                history = saved_runs(self.history_dir, warn=self._warn)
                self.written = write_report(record, self.report_dir, history)
            return
        history = saved_runs(self.history_dir, warn=self._warn)
        if self.gate is not None:
            self.gate.judge(record, self._warn)
        lines = self.gate.lines if self.gate is not None else []
        self.written = write_report(record, self.report_dir, history, lines)
        if self.save:
            self.saved = save_run(record, self.save, self.history_dir)


class BenchConsole(FinishReporter):
    """A whole run's console view: the table, the gate's lines and where the report went on `out`
    (not when `quiet`), then on `err` each level's client limit and failures and a spent budget. It
    reads `writer`'s results, so it comes after it in the reporters."""

    def __init__(
        self,
        writer: BenchReportWriter,
        *,
        quiet: bool = False,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ) -> None:
        self.writer, self.quiet = writer, quiet
        self._out, self._err = out, err

    def on_finish(self, record: dict[str, Any]) -> None:
        if record.get("interrupted"):
            return
        # Looked up now, not at construction: the streams may have been swapped meanwhile (tests do).
        out, err = self._out or sys.stdout, self._err or sys.stderr
        writer = self.writer
        if not self.quiet:
            print(console_table(record), file=out)
            if writer.gate is not None and writer.gate.lines:
                print("\n".join(writer.gate.lines), file=out)
            saved = f"; saved as {writer.saved}" if writer.saved is not None else ""
            print(f"report: {writer.written[-1]}{saved}", file=out)
        for lvl in record["levels"]:
            if lvl["client"]["client_limited"]:
                print(
                    f"chatcert: level {lvl['label']} is CLIENT-LIMITED ({'; '.join(lvl['client']['reasons'])}): "
                    "its numbers measure the client, not the server",
                    file=err,
                )
            if lvl["failed"]:
                top = max(lvl["errors"].items(), key=lambda kv: kv[1])[0] if lvl["errors"] else "?"
                print(
                    f"chatcert: level {lvl['label']}: {lvl['failed']} request(s) failed (e.g. {top})",
                    file=err,
                )
        if record["budget"].get("exhausted"):
            print(f"chatcert: budget reached, run stopped early: {record['budget']['exhausted']}", file=err)
