"""chatcert.reporting.charts: the axes hold every value they draw; a narrow distribution is not squashed."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from chatcert.reporting.bench import trend_series
from chatcert.reporting.charts import axis_range, cdf_chart, line_chart, nice_ticks

_NS = "{http://www.w3.org/2000/svg}"
_FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


def _frame(root: ET.Element) -> tuple[float, float, float, float]:
    """The plot area's rectangle (the one with a stroke): x0, y0, x1, y1."""
    rect = next(r for r in root.iter(f"{_NS}rect") if r.get("stroke"))
    x, y = float(rect.get("x", 0)), float(rect.get("y", 0))
    return x, y, x + float(rect.get("width", 0)), y + float(rect.get("height", 0))


def _drawn_points(root: ET.Element) -> list[tuple[float, float]]:
    """Every data point: polyline vertices and marker circles (the legend is drawn with lines)."""
    points = []
    for line in root.iter(f"{_NS}polyline"):
        for pair in (line.get("points") or "").split():
            x, y = pair.split(",")
            points.append((float(x), float(y)))
    for dot in root.iter(f"{_NS}circle"):
        points.append((float(dot.get("cx", 0)), float(dot.get("cy", 0))))
    return points


def _assert_inside(svg: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)
    x0, y0, x1, y1 = _frame(root)
    points = _drawn_points(root)
    assert points
    outside = [(x, y) for x, y in points if not (x0 - 0.1 <= x <= x1 + 0.1 and y0 - 0.1 <= y <= y1 + 0.1)]
    assert not outside, f"points outside the plot frame {(x0, y0, x1, y1)}: {outside[:5]}"
    return points


@given(_FINITE, _FINITE)
def test_ticks_reach_from_below_the_lowest_to_above_the_highest_value(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    ticks = nice_ticks(low, high)
    slack = 1e-9 * max(1.0, abs(low), abs(high))  # float rounding, far below a pixel
    assert ticks[0] <= low + slack
    assert ticks[-1] >= high - slack
    assert ticks == sorted(ticks) and len(ticks) <= 8


def test_ticks_that_stopped_short_of_the_maximum_are_fixed() -> None:
    # 0..86.4 in steps of 25 used to end at 75: a trend of 55 -> 86 ms was drawn above the frame.
    assert nice_ticks(0.0, 86.4, 5)[-1] >= 86.4


def test_the_axis_keeps_zero_for_values_near_it_and_fits_values_far_from_it() -> None:
    assert axis_range([2.0, 9.0]) == (0.0, 9.0)
    low, high = axis_range([80.0, 86.0])
    assert 79.0 < low < 80.0 and 86.0 < high < 87.0
    assert axis_range([5.0, 5.0])[0] < 5.0 < axis_range([5.0, 5.0])[1]


@given(st.lists(st.lists(_FINITE, min_size=1, max_size=30), min_size=1, max_size=4))
def test_every_trend_point_is_drawn_inside_the_frame(values: list[list[float]]) -> None:
    series = [(f"c={i}", [(float(j), v) for j, v in enumerate(vs)]) for i, vs in enumerate(values)]
    names = [f"run{j}" for j in range(max(len(vs) for vs in values))]
    _assert_inside(line_chart(series, title="t", x_label="run", y_label="ms", x_names=names))


def test_a_run_that_rose_past_the_old_maximum_stays_inside_the_trend_chart() -> None:
    runs = [
        {"name": "base", "levels": [{"label": "c=1", "metrics": {"ttft_ms": {"p95": 55.0}}}]},
        {"name": "this run", "levels": [{"label": "c=1", "metrics": {"ttft_ms": {"p95": 86.4}}}]},
    ]
    names, series = trend_series(runs, "ttft_ms.p95")
    svg = line_chart(series, title="TTFT p95", x_label="run", y_label="ms", x_names=names)
    _assert_inside(svg)
    assert [t for t in re.findall(r">(this run|base)<", svg)] == ["base", "this run"]


def test_a_narrow_cdf_spreads_over_the_plot_instead_of_standing_at_its_edge() -> None:
    values = [80.0 + i * 0.06 for i in range(100)]  # 80 .. 86 ms
    svg = cdf_chart([("c=1", values)], title="TTFT")
    points = _assert_inside(svg)
    x0, _, x1, _ = _frame(ET.fromstring(svg))
    xs = [x for x, _ in points]
    assert max(xs) - min(xs) > 0.5 * (x1 - x0), "the curve should use most of the plot's width"


@given(st.lists(st.lists(_FINITE, min_size=1, max_size=50), min_size=1, max_size=3))
def test_every_cdf_point_is_drawn_inside_the_frame(values: list[list[float]]) -> None:
    _assert_inside(cdf_chart([(f"c={i}", vs) for i, vs in enumerate(values)], title="t"))
