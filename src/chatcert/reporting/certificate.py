"""Which certification levels a run earned, and whether the evidence behind the verdict is whole.

A level is earned only when every MUST and PROFILE check of it ran and passed. A MUST/PROFILE check the
run kept from running (budget, interruption, a stop, the run deadline) makes the certificate
`incomplete`: it is not a pass.
"""

from __future__ import annotations

from typing import Any

from chatcert.completeness import incompleteness, run_cause
from chatcert.engine import Run
from chatcert.outcomes import CheckResult, Outcome
from chatcert.registry import all_checks

# Level name -> areas it covers.
LEVELS: dict[str, tuple[str, ...]] = {
    "core": ("discovery", "transport", "request", "response", "usage", "errors"),
    "streaming": ("streaming",),
    "vision": ("vision",),
    "tools": ("tools",),
    "anthropic": ("anthropic",),
    "completions": ("completions",),
    "provider": ("pharia", "libertai", "faults"),
    "fuzz": ("fuzz",),
}


# A level's standing: earned (every MUST/PROFILE check of it ran and passed), not earned (one failed or
# errored), incomplete (none failed, but the run kept one from running: budget, stop, interruption) or
# not assessed (none of its checks ran, or --area/--check left out one of its MUST checks, or nothing of
# it applies).
EARNED, NOT_EARNED, INCOMPLETE, NOT_ASSESSED = "earned", "not earned", "incomplete", "not assessed"
_RAN = (Outcome.PASSED, Outcome.NON_STRICT, Outcome.FAILED, Outcome.ERRORED)


def level_standing(run: Run) -> dict[str, str]:
    """Each certification level and its standing, in the catalogue's order."""
    out = {}
    left_out = set(run.info.get("left_out", ()))
    narrowed_areas = {c.area for c in all_checks() if c.id in left_out} if left_out else set()
    for level, areas in LEVELS.items():
        results = [r for r in run.results if r.area in areas]
        narrowed = bool(narrowed_areas.intersection(areas))
        if any(r.blocking for r in results):
            out[level] = NOT_EARNED
        elif incompleteness(results):
            out[level] = INCOMPLETE
        elif narrowed or not any(r.outcome in _RAN for r in results):
            # Narrowed: --check/--area left out a MUST check of this level, so the level was only
            # partly assessed and is not claimed.
            out[level] = NOT_ASSESSED
        else:
            out[level] = EARNED
    return out


def certificate(run: Run) -> dict[str, Any]:
    standing = level_standing(run)
    missing = incompleteness(run.results)
    earned = [lv for lv, st in standing.items() if st == EARNED]
    if any(r.blocking for r in run.results) or (run.stopped and not missing):
        verdict = "not certified"
    elif missing:
        verdict = "incomplete"
    else:
        verdict = "not certified" if run.exit_code != 0 else "certified" if earned else "not assessed"
    config = run.config
    return {
        "verdict": verdict,
        # False when a MUST/PROFILE check did not run because of the run; `incomplete` says which and why.
        "complete": not missing,
        "incomplete": missing.as_dict() if missing else None,
        # True when --allow-incomplete let an incomplete run exit 0.
        "incomplete_allowed": verdict == "incomplete" and run.exit_code == 0,
        "levels": standing,
        "earned": earned,
        "not_earned": [lv for lv, st in standing.items() if st == NOT_EARNED],
        "incomplete_levels": [lv for lv, st in standing.items() if st == INCOMPLETE],
        "not_assessed": [lv for lv, st in standing.items() if st == NOT_ASSESSED],
        "budget_exhausted": run.budget_exhausted,
        "key_refused": run.key_refused,
        "profile": config.profile.name,
        "profile_digest": config.profile.digest,
        "tier": config.profile.tier,
        "strict": config.strict,
        "chatcert_version": run.version,
        "endpoint": run.client.redactor.url(config.target.base_url),
        "target_is_mock": config.target_is_mock,
        "model": config.model_name,
        "date": run.finished_at or run.started_at,
    }


def verdict_lines(cert: dict[str, Any]) -> list[str]:
    """The verdict as the terminal and the HTML report print it: the certificate line comes first."""
    missing = cert["incomplete"]
    if cert["verdict"] == "incomplete":
        why = _missing_text(missing)
        allowed = " (accepted by --allow-incomplete)" if cert["incomplete_allowed"] else ""
        first = f"certificate: INCOMPLETE: {why}{allowed}"
    else:
        first = f"certificate: {cert['verdict']}"
        if cert["verdict"] == "not assessed":
            first += ": every selected check passed, but --check/--area left out MUST checks of each level"
        if missing:  # failed anyway; say also what was never judged
            first += f"; also INCOMPLETE: {_missing_text(missing)}"
    parts = [f"levels earned: {', '.join(cert['earned']) or 'none'}"]
    for key, name in (
        ("not_earned", "not earned"),
        ("incomplete_levels", "incomplete"),
        ("not_assessed", "not assessed"),
    ):
        if cert[key]:
            parts.append(f"{name}: {', '.join(cert[key])}")
    return [first, "; ".join(parts)]


def budget_skipped(run: Run) -> list[CheckResult]:
    """The checks the budget kept from running (every level), in report order."""
    return [r for r in run.results if run_cause(r) == "budget"]


def budget_line(run: Run, skipped: list[CheckResult], shown: int = 12) -> str:
    """'budget ran out (...): it skipped N checks (k MUST): a, b, ...' for the terminal."""
    must = sum(r.level in ("MUST", "PROFILE") for r in skipped)
    names = ", ".join(r.id for r in skipped[:shown])
    more = f", ... and {len(skipped) - shown} more (see results.json)" if len(skipped) > shown else ""
    return (
        f"budget ran out ({run.budget_exhausted or 'budget spent'}): it skipped {len(skipped)} "
        f"check{'s' if len(skipped) != 1 else ''} ({must} MUST/PROFILE): {names}{more}"
    )


def _missing_text(missing: dict[str, Any]) -> str:
    n = missing["count"]
    causes = "; ".join(
        f"{cause}: {info['count']}, {info['reason']}" for cause, info in missing["causes"].items()
    )
    profile = missing["by_level"].get("PROFILE", 0)
    also = f"; {profile} of them PROFILE" if profile else ""
    return f"{n} MUST check{'s' if n != 1 else ''} did not run ({causes}{also})"


def badge_svg(cert: dict[str, Any]) -> str:
    """A flat badge: 'chatcert | <profile>: <levels>' in green, orange 'incomplete', grey 'not assessed'
    (every selected check passed, but no level was wholly assessed), or red 'failing'."""
    label = "chatcert"
    verdict = cert["verdict"]
    if verdict == "certified":
        value, colour = f"{cert['profile']}: {'+'.join(cert['earned']) or 'none'}", "#2e7d32"
    elif verdict == "incomplete":
        value, colour = f"{cert['profile']}: incomplete", "#ef6c00"
    elif verdict == "not assessed":
        value, colour = f"{cert['profile']}: not assessed", "#757575"
    else:
        value, colour = f"{cert['profile']}: failing", "#c62828"
    lw, vw = 8 * len(label) + 10, 7 * len(value) + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{lw + vw}" height="20" role="img" '
        f'aria-label="{label}: {value}"><title>{label}: {value}</title>'
        f'<rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/>'
        f'<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="5" y="14">{label}</text><text x="{lw + 5}" y="14">{_esc(value)}</text></g></svg>\n'
    )


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
