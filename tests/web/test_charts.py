"""The chart renderer: well-formed SVG whose bars stay inside the plot area, for any series."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from vvv.ops import charts

SVG = "{http://www.w3.org/2000/svg}"
counts = st.one_of(st.none(), st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**40),
                   st.integers(min_value=-5, max_value=-1))
series = st.dictionaries(
    st.text(min_size=1, max_size=12), st.lists(counts, max_size=60), max_size=6
)
plots = st.builds(charts.Plot, width=st.integers(200, 2000), height=st.integers(100, 800),
                  left=st.integers(0, 80), right=st.integers(0, 40), top=st.integers(0, 40), bottom=st.integers(0, 40))


def _box(element: ET.Element) -> tuple[float, float, float, float]:
    x, y = float(element.get("x")), float(element.get("y"))
    return x, y, x + float(element.get("width")), y + float(element.get("height"))


@given(series=series, labels=st.lists(st.text(max_size=8), max_size=70), plot=plots, title=st.text(max_size=30))
def test_the_svg_is_well_formed_and_bars_stay_inside_the_plot(series, labels, plot, title) -> None:
    root = ET.fromstring(charts.stacked_bars(series, labels=labels, plot=plot, title=title))
    assert root.tag == f"{SVG}svg"
    area = root.find(f"{SVG}rect[@class='plot']")
    left, top, right, bottom = _box(area)
    bars = root.findall(f"{SVG}rect[@class='bar']")
    for bar in bars:
        x0, y0, x1, y1 = _box(bar)
        assert float(bar.get("width")) >= 0 and float(bar.get("height")) >= 0
        assert left - 1e-6 <= x0 <= x1 <= right + 1e-6
        assert top - 1e-6 <= y0 <= y1 <= bottom + 1e-6
    drawn = sum(1 for values in series.values() for v in values if v is not None and v > 0)
    assert len(bars) == drawn, "one bar segment per positive value; gaps, zeros and negatives draw nothing"


@given(st.lists(st.integers(min_value=0, max_value=10**40), min_size=1, max_size=48))
def test_the_tallest_bar_fills_the_plot_height(values) -> None:
    plot = charts.Plot()
    root = ET.fromstring(charts.stacked_bars({"news": values}, plot=plot))
    heights = [float(bar.get("height")) for bar in root.findall(f"{SVG}rect[@class='bar']")]
    if max(values) > 0:
        assert abs(max(heights) - (plot.y1 - plot.y0)) < 0.02


def test_an_empty_chart_says_so() -> None:
    root = ET.fromstring(charts.stacked_bars({}))
    assert root.find(f"{SVG}text[@class='empty']").text == "no data yet"


@given(st.lists(st.tuples(st.sampled_from(["ok", "partial", "failed", "running", "<odd>"]), st.text()), max_size=50))
def test_the_outcome_strip_is_well_formed_with_a_square_per_run(outcomes) -> None:
    root = ET.fromstring(charts.outcome_strip(outcomes))
    assert len(root.findall(f"{SVG}rect")) == len(outcomes)


def test_compact_numbers_fit_an_axis() -> None:
    assert [charts.compact(n) for n in (0, 999, 1500, 2_500_000, 10**40)] == ["0", "999", "1.5k", "2.5M", "1.00e+40"]
