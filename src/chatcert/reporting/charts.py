"""Line charts as standalone SVG (no plotting library): CDFs of latency and trends over saved runs."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

__all__ = ["axis_range", "cdf_chart", "line_chart", "nice_ticks"]

_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf")
_W, _H = 640, 360
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 150, 36, 48


def nice_ticks(low: float, high: float, count: int = 6) -> list[float]:
    """Round tick values, about `count` of them, from at or below `low` to at or above `high`."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0, 1.0]
    # A span too small for the 10 decimals ticks keep (or none at all) becomes a readable one.
    least = max(abs(low), abs(high), 1.0) * 1e-6
    if high - low < least:
        high = low + max(least, abs(low) if high <= low else 0.0)
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    # As many steps as it takes to reach `high`: the axis must hold every value it is asked to show.
    steps = max(1, math.ceil((high - start) / step))
    if steps > 1 and start + (steps - 1) * step >= high:  # the division rounded up past an exact multiple
        steps -= 1
    return [round(start + i * step, 10) for i in range(steps + 1)]


def axis_range(values: Sequence[float]) -> tuple[float, float]:
    """The span an axis shows for `values`: from 0 when they reach near it, else fitted to them.

    Latencies that all lie between 80 and 86 ms would otherwise be one vertical line at the edge of a
    0-90 axis; values that start within a third of their maximum keep zero for an honest scale.
    """
    low, high = min(values), max(values)
    if low >= 0 and low <= high / 3:
        return 0.0, high
    if high <= 0 and high >= low / 3:
        return low, 0.0
    pad = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return low - pad, high + pad


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


def line_chart(
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_names: Sequence[str] | None = None,
    y_range: tuple[float, float] | None = None,
    step: bool = False,
) -> str:
    """An SVG document: one polyline per (name, points) series, axes, ticks and a legend.

    `x_names` labels integer x positions (0, 1, ...) instead of numeric ticks; `step` draws steps
    (for CDFs).
    """
    xs = [x for _, pts in series for x, _ in pts]
    ys = [y for _, pts in series for _, y in pts]
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" viewBox="0 0 {_W} {_H}" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect width="{_W}" height="{_H}" fill="#fff"/>',
        f'<text x="{_W / 2 - _RIGHT / 2}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
    ]
    if not xs:
        parts.append(f'<text x="{_W / 2}" y="{_H / 2}" text-anchor="middle">no data</text></svg>')
        return "\n".join(parts)
    x_lo, x_hi = (0.0, float(max(len(x_names) - 1, 1))) if x_names else axis_range(xs)
    x_ticks = list(range(len(x_names))) if x_names else nice_ticks(x_lo, x_hi)
    if not x_names:
        x_lo, x_hi = x_ticks[0], x_ticks[-1]
    y_lo, y_hi = y_range if y_range else axis_range(ys)
    y_ticks = nice_ticks(y_lo, y_hi, 5)
    y_lo, y_hi = (y_ticks[0], y_ticks[-1]) if not y_range else (y_lo, y_hi)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0

    def px(x: float) -> float:
        return _LEFT + (x - x_lo) / x_span * plot_w

    def py(y: float) -> float:
        return _TOP + plot_h - (y - y_lo) / y_span * plot_h

    for tick in y_ticks:
        if y_lo <= tick <= y_hi:
            y_at = f"{py(tick):.1f}"
            parts.append(
                f'<line x1="{_LEFT}" x2="{_LEFT + plot_w}" y1="{y_at}" y2="{y_at}" stroke="#e5e5e5"/>'
            )
            parts.append(
                f'<text x="{_LEFT - 6}" y="{py(tick) + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>'
            )
    for i, tick in enumerate(x_ticks):
        label = x_names[int(tick)] if x_names else _fmt(float(tick))
        x_at = f"{px(float(tick)):.1f}"
        parts.append(
            f'<text x="{x_at}" y="{_TOP + plot_h + 16}" text-anchor="middle">{escape(label[:14])}</text>'
        )
        if x_names and len(x_names) > 12 and i % max(1, len(x_names) // 12):
            parts.pop()  # too many run names: label every n-th
    parts.append(
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>'
    )
    parts.append(
        f'<text x="{_LEFT + plot_w / 2}" y="{_H - 10}" text-anchor="middle">{escape(x_label)}</text>'
    )
    middle = _TOP + plot_h / 2
    rotate = f"translate(16 {middle}) rotate(-90)"
    parts.append(f'<text transform="{rotate}" text-anchor="middle">{escape(y_label)}</text>')
    for n, (name, pts) in enumerate(series):
        colour = _COLOURS[n % len(_COLOURS)]
        coords = []
        previous: tuple[float, float] | None = None
        for x, y in pts:
            x_c = min(max(x, x_lo), x_hi)
            if step and previous is not None:
                coords.append(f"{px(x_c):.1f},{py(previous[1]):.1f}")
            coords.append(f"{px(x_c):.1f},{py(y):.1f}")
            previous = (x_c, y)
        if len(coords) == 1:
            x0, y0 = coords[0].split(",")
            parts.append(f'<circle cx="{x0}" cy="{y0}" r="3" fill="{colour}"/>')
        else:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{" ".join(coords)}"/>'
            )
        if not step:
            for x, y in pts:
                parts.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{colour}"/>')
        ly = _TOP + 14 + n * 16
        parts.append(
            f'<line x1="{_W - _RIGHT + 12}" x2="{_W - _RIGHT + 30}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{colour}" stroke-width="3"/>'
        )
        parts.append(f'<text x="{_W - _RIGHT + 36}" y="{ly}">{escape(name[:18])}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def cdf_chart(series: Sequence[tuple[str, Sequence[float]]], *, title: str, unit: str = "ms") -> str:
    """Empirical CDFs (fraction of values <= x); x is clipped at the largest p99.9 so tails stay readable."""
    prepared = []
    cut = 0.0
    for name, values in series:
        data = sorted(v for v in values if math.isfinite(v))
        if data:
            cut = max(cut, data[min(len(data) - 1, int(len(data) * 0.999))])
        prepared.append((name, data))
    lines = []
    for name, data in prepared:
        if not data:
            continue
        n = len(data)
        # At most ~400 points per curve: enough for the eye, small files for thousands of samples.
        stride = max(1, n // 400)
        points = [(min(data[i], cut), (i + 1) / n) for i in range(0, n, stride)]
        if points[-1][1] < 1.0:
            points.append((min(data[-1], cut), 1.0))
        lines.append((f"{name} (n={n})", points))
    return line_chart(
        lines, title=title, x_label=unit, y_label="fraction <= x", y_range=(0.0, 1.0), step=True
    )
