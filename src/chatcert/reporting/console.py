"""The terminal reporter: a progress line per check, then a summary table and the certificate."""

from __future__ import annotations

import os
import sys
from typing import TextIO

from chatcert.engine import Run
from chatcert.outcomes import CheckResult, Outcome

_MARK = {
    Outcome.PASSED: "PASS",
    Outcome.NON_STRICT: "WARN",
    Outcome.FAILED: "FAIL",
    Outcome.ERRORED: "ERROR",
    Outcome.SKIPPED: "skip",
    Outcome.DISABLED: "off",
}
_FAILING = (Outcome.FAILED, Outcome.ERRORED, Outcome.NON_STRICT)
# SGR codes per outcome: red for what fails the certificate, yellow for warnings, dim for what did not run.
_COLOUR = {
    Outcome.PASSED: "32",
    Outcome.NON_STRICT: "33",
    Outcome.FAILED: "1;31",
    Outcome.ERRORED: "1;35",
    Outcome.SKIPPED: "2",
    Outcome.DISABLED: "2",
}


def use_colour(choice: str, stream: TextIO) -> bool:
    """--color auto|always|never; auto: a terminal, unless NO_COLOR is set (no-color.org) or TERM=dumb."""
    if choice in ("always", "never"):
        return choice == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# Dependents named inline under a cause; the rest are counted (results.json lists them all).
_SHOWN = 4
# Skip reasons listed without -v: the most frequent ones, the rest counted.
_REASONS = 8


def _shown(value: str, limit: int) -> str:
    """A value as printed: an empty one says so instead of leaving a blank `got:` line."""
    return value[:limit] if value.strip() else "(empty)"


class ConsoleReporter:
    def __init__(
        self,
        stream: TextIO | None = None,
        verbose: bool = False,
        quiet: bool = False,
        color: str = "auto",
    ) -> None:
        self.stream = stream or sys.stdout
        self.verbose = verbose
        self.quiet = quiet
        self.colour = use_colour(color, self.stream)
        self._n = 0

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour and code else text

    def _mark(self, outcome: Outcome) -> str:
        return self._paint(f"{_MARK[outcome]:<5}", _COLOUR[outcome])

    def _print(self, text: str = "") -> None:
        print(text, file=self.stream, flush=True)

    def on_start(self, run: Run) -> None:
        cfg = run.config
        where = (
            "embedded mock"
            if cfg.target_is_mock and cfg.target.base_url.startswith("http://127.0.0.1")
            else ""
        )
        self._print(
            f"chatcert {run.version}: certifying {run.client.redactor.url(cfg.target.base_url)} "
            f"{'(' + where + ') ' if where else ''}with profile {cfg.profile.name} "
            f"(tier {cfg.profile.tier}), model {cfg.model_name}"
        )
        if cfg.budget.limited:
            self._print(
                f"budget: {cfg.budget.max_requests or 'unlimited'} requests, "
                f"{cfg.budget.max_tokens or 'unlimited'} output tokens"
            )

    def on_result(self, run: Run, result: CheckResult) -> None:
        self._n += 1
        if self.quiet:
            return
        total = run.info.get("selected", 0)
        if result.outcome in (Outcome.SKIPPED, Outcome.DISABLED) and not self.verbose:
            return
        # Failures are told at the end, after their root causes: one cause fails forty checks, and forty
        # FAIL lines before the one line that explains them bury it. -v still marks them as they come.
        if result.outcome in _FAILING and not self.verbose:
            return
        # -v lists every check, so its position counts up without gaps; the default view shows only
        # what passed (failures and skips come later, grouped), where a position would jump.
        where = f"[{self._n:>3}/{total}] " if self.verbose else ""
        line = f"{where}{self._mark(result.outcome)} {result.area:<11} {result.id}"
        if result.waived:
            line += f"  (waived: {result.waived})"
        self._print(line)

    def _failure(self, result: CheckResult, indent: str = "  ") -> None:
        line = f"{indent}{self._mark(result.outcome)} {result.area:<11} {result.id}"
        if result.waived:
            line += f"  (waived: {result.waived})"
        self._print(line)
        pad = indent + "      "
        self._print(f"{pad}{result.message or result.reason}")
        if result.expected or result.actual:
            self._print(f"{pad}expected: {_shown(result.expected, 200)}")
            self._print(f"{pad}got:      {_shown(result.actual, 300)}")
        if result.reproducer:
            # One line a user can paste; a body with an image is long, so -v shows more of it.
            limit = 2000 if self.verbose else 400
            curl = " ".join(result.reproducer.split("\n"))
            cut = f" ... [{len(curl)} chars, whole in results.json]" if len(curl) > limit else ""
            self._print(f"{pad}Reproduce with: {curl[:limit]}{cut}")

    def _causes(self, run: Run) -> None:
        """Each root cause once, first, with the results that follow from it folded under it."""
        if run.info.get("diagnosis_error"):
            self._print(
                f"root causes: not diagnosed ({run.info['diagnosis_error']}); failures listed one by one"
            )
        if not run.causes:
            return
        by_id = {r.id: r for r in run.results}
        self._print()
        self._print("root causes (each explains the results folded under it):")
        for cause in run.causes:
            self._print(f"  {self._paint('CAUSE', '1;31')} {cause.id}: {cause.message}")
            pre = by_id.get(cause.id) if cause.kind == "check" else None
            if pre is not None and not self.quiet and (pre.expected or pre.actual):
                self._print(f"        expected: {_shown(pre.expected, 200)}")
                self._print(f"        got:      {_shown(pre.actual, 300)}")
            deps = [by_id[d] for d in cause.dependents if d in by_id]
            failing = [r for r in deps if r.outcome in _FAILING]
            not_run = len(deps) - len(failing)
            if failing:
                kinds = ", ".join(
                    f"{sum(r.outcome is o for r in failing)} {o.value}"
                    for o in _FAILING
                    if any(r.outcome is o for r in failing)
                )
                shown = ", ".join(r.id for r in failing[:_SHOWN])
                more = f" and {len(failing) - _SHOWN} more" if len(failing) > _SHOWN else ""
                self._print(
                    f"    + {len(failing)} dependent check(s) ({kinds}): {shown}{more} (see results.json)"
                )
            if not_run:
                self._print(f"    + {not_run} check(s) not run because of it")

    def on_finish(self, run: Run) -> None:
        self._causes(run)
        told = {c.id for c in run.causes}
        failures = [r for r in run.results if r.outcome in _FAILING and not r.caused_by and r.id not in told]
        if failures and not self.quiet:
            self._print()
            self._print("failures:")
            for result in failures:
                self._failure(result)
        if not self.quiet:
            self._skipped(run)
        self._summary(run)

    def _skipped(self, run: Run) -> None:
        """Skipped checks in one block, grouped by reason (a cause's dependents are told under it)."""
        by_reason: dict[str, list[str]] = {}
        for r in run.results:
            if r.outcome is Outcome.SKIPPED and not r.caused_by:
                by_reason.setdefault(r.reason or "no reason given", []).append(r.id)
        if not by_reason:
            return
        self._print()
        self._print(f"skipped ({sum(map(len, by_reason.values()))}), by reason:")
        ranked = sorted(by_reason.items(), key=lambda item: -len(item[1]))
        shown = ranked if self.verbose else ranked[:_REASONS]
        for reason, ids in shown:
            names = ", ".join(ids if self.verbose else ids[:_SHOWN])
            more = f" and {len(ids) - _SHOWN} more" if len(ids) > _SHOWN and not self.verbose else ""
            self._print(f"  {len(ids):>3} {reason[:160]}: {names}{more}")
        if len(shown) < len(ranked):
            self._print(f"  ... {len(ranked) - len(shown)} more reason(s) (-v lists all; results.json too)")

    def _summary(self, run: Run) -> None:
        from chatcert.reporting.certificate import budget_line, budget_skipped, certificate, verdict_lines

        counts = run.counts()
        self._print()
        self._print(
            f"{'area':<12} {'passed':>6} {'non_strict':>10} {'failed':>6} {'errored':>7} {'skipped':>7} "
            f"{'disabled':>8}"
        )
        areas: dict[str, dict[str, int]] = {}
        for r in run.results:
            row = areas.setdefault(r.area, {o.value: 0 for o in Outcome})
            row[r.outcome.value] += 1
        for area, row in areas.items():
            self._print(
                f"{area:<12} {row['passed']:>6} {row['non_strict']:>10} {row['failed']:>6} "
                f"{row['errored']:>7} {row['skipped']:>7} {row['disabled']:>8}"
            )
        self._print(
            f"{'total':<12} {counts['passed']:>6} {counts['non_strict']:>10} {counts['failed']:>6} "
            f"{counts['errored']:>7} {counts['skipped']:>7} {counts['disabled']:>8}"
        )
        budget = run.client.budget
        self._print(
            f"requests sent: {budget.requests_sent}; output tokens spent: {budget.tokens_spent}; "
            f"{run.duration_s:.1f}s"
        )
        waived = [r for r in run.results if r.waived]
        for r in waived:
            self._print(f"waived: {r.id} ({r.outcome.value}): {r.waived}")
        cert = certificate(run)
        first, levels = verdict_lines(cert)
        status = str(cert.get("verdict", ""))
        self._print(
            self._paint(
                first, {"certified": "1;32", "incomplete": "1;33", "not assessed": "1;33"}.get(status, "1;31")
            )
        )
        if run.stopped:
            self._print(f"run stopped early: {run.stopped}")
        spent = budget_skipped(run)
        if spent:
            self._print(budget_line(run, spent))
        self._print(levels)
        for name, path in run.artifacts.items():
            self._print(f"{name}: {path}")
