"""Which certification levels a run earned: an area is earned when it ran and nothing in it failed."""

from __future__ import annotations

from typing import Any

from chatcert.engine import Run
from chatcert.outcomes import Outcome

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


def certificate(run: Run) -> dict[str, Any]:
    earned, missed = [], []
    for level, areas in LEVELS.items():
        results = [r for r in run.results if r.area in areas]
        ran = [
            r
            for r in results
            if r.outcome in (Outcome.PASSED, Outcome.NON_STRICT, Outcome.FAILED, Outcome.ERRORED)
        ]
        if not ran:
            continue
        if any(r.blocking for r in results) or run.stopped or run.interrupted:
            missed.append(level)
        else:
            earned.append(level)
    config = run.config
    return {
        "earned": earned,
        "not_earned": missed,
        "profile": config.profile.name,
        "profile_digest": config.profile.digest,
        "tier": config.profile.tier,
        "strict": config.strict,
        "chatcert_version": run.version,
        "endpoint": run.client.redactor.url(config.target.base_url),
        "target_is_mock": config.target_is_mock,
        "model": config.model_name,
        "date": run.finished_at or run.started_at,
        "verdict": "certified" if run.exit_code == 0 and earned else "not certified",
    }


def badge_svg(cert: dict[str, Any]) -> str:
    """A flat badge: 'chatcert | <profile>: <levels>' in green, or red when not certified."""
    label = "chatcert"
    ok = cert["verdict"] == "certified"
    value = (
        f"{cert['profile']}: {'+'.join(cert['earned']) or 'none'}" if ok else f"{cert['profile']}: failing"
    )
    colour = "#2e7d32" if ok else "#c62828"
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
