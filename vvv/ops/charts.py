"""Inline SVG charts for the status page: pure functions from numbers to markup.

No JavaScript and nothing fetched: each bar carries a `<title>`, which browsers show on
hover. Values are integers (row counts), so scaling is exact however large they get.

    >>> svg = stacked_bars({"news": [3, None, 5]}, labels=["13:00", "14:00", "15:00"])
    >>> svg.startswith("<svg")
    True
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from html import escape as _escape

from attrs import frozen

# Colour-blind-safe (Okabe-Ito), readable on white.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
OUTCOME_COLOURS = {"ok": "#2e9d4f", "partial": "#e0a100", "failed": "#d0352b", "running": "#6b8fd6"}


@frozen
class Plot:
    """Where bars may go inside the SVG's viewBox."""

    width: int = 720
    height: int = 240
    left: int = 56
    right: int = 8
    top: int = 10
    bottom: int = 26

    @property
    def x0(self) -> int:
        return self.left

    @property
    def x1(self) -> int:
        return self.width - self.right

    @property
    def y0(self) -> int:
        return self.top

    @property
    def y1(self) -> int:
        return self.height - self.bottom


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def escape(text: str) -> str:
    """HTML-escaped, with characters XML cannot hold (control characters) replaced."""
    return _escape(_NOT_XML.sub("\ufffd", text))


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def stacked_bars(
    series: Mapping[str, Sequence[int | None]],
    *,
    labels: Sequence[str] = (),
    plot: Plot = Plot(),
    title: str = "",
    unit: str = "rows",
) -> str:
    """One stacked bar per position (e.g. per hour), a segment per series; None is a gap."""
    count = max((len(values) for values in series.values()), default=0)
    totals = [sum(_value(values, i) for values in series.values()) for i in range(count)]
    peak = max(totals, default=0)
    parts = [_frame(plot, title), *_y_axis(plot, peak, unit), *_x_labels(plot, labels, count)]
    slot = (plot.x1 - plot.x0) / count if count else 0.0
    for i in range(count):
        left, right = _round(plot.x0 + i * slot + slot * 0.1), _round(plot.x0 + (i + 1) * slot - slot * 0.1)
        right = max(left, min(right, plot.x1))
        below = 0
        for index, (name, values) in enumerate(series.items()):
            value = _value(values, i)
            if value <= 0 or peak <= 0:
                continue
            bottom_y = _y(plot, below, peak)
            below += value
            top_y = _y(plot, below, peak)
            label = labels[i] if i < len(labels) else str(i)
            parts.append(
                f'<rect class="bar" data-series="{escape(name)}" x="{left:.2f}" y="{top_y:.2f}"'
                f' width="{right - left:.2f}" height="{bottom_y - top_y:.2f}" fill="{colour(index)}">'
                f"<title>{escape(f'{name} {label}: {value:,} {unit}')}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


def outcome_strip(outcomes: Sequence[tuple[str, str]], *, cell: int = 12, gap: int = 2) -> str:
    """A row of squares, oldest first, coloured by run outcome; each square's title says what happened."""
    width = max(1, len(outcomes) * (cell + gap))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="strip" viewBox="0 0 {width} {cell}"'
             f' width="{width}" height="{cell}" role="img" aria-label="recent runs">']
    for i, (status, caption) in enumerate(outcomes):
        fill = OUTCOME_COLOURS.get(status, "#999999")
        parts.append(f'<rect class="run run-{escape(status)}" x="{i * (cell + gap)}" y="0" width="{cell}"'
                     f' height="{cell}" rx="2" fill="{fill}"><title>{escape(caption)}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def compact(number: int) -> str:
    """12, 3.4k, 5.6M, or 1.23e+45: short enough for an axis label, for any integer."""
    if abs(number) < 1000:
        return str(number)
    for suffix, size in (("k", 10**3), ("M", 10**6), ("G", 10**9), ("T", 10**12)):
        if abs(number) < size * 1000:
            return f"{number / size:.1f}{suffix}"
    digits = str(abs(number))
    sign = "-" if number < 0 else ""
    return f"{sign}{digits[0]}.{digits[1:3]}e+{len(digits) - 1}"


def _value(values: Sequence[int | None], i: int) -> int:
    value = values[i] if i < len(values) else None
    return max(0, int(value)) if value is not None else 0


def _y(plot: Plot, value: int, peak: int) -> float:
    """Exact for any integer size: the product and the quotient stay integers until the last step."""
    return _round(plot.y1 - ((plot.y1 - plot.y0) * value) / peak)


def _round(value: float) -> float:
    return round(value, 2)


def _frame(plot: Plot, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {plot.width} {plot.height}"'
        f' preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
        f'<rect class="plot" x="{plot.x0}" y="{plot.y0}" width="{plot.x1 - plot.x0}" height="{plot.y1 - plot.y0}"'
        ' fill="#fafafa" stroke="#dddddd"/>'
    )


def _y_axis(plot: Plot, peak: int, unit: str) -> list[str]:
    parts = []
    for value in sorted({0, peak // 2, peak}) if peak > 0 else [0]:
        y = _y(plot, value, peak) if peak > 0 else plot.y1
        parts.append(f'<line x1="{plot.x0}" y1="{y:.2f}" x2="{plot.x1}" y2="{y:.2f}" stroke="#e4e4e4"/>')
        parts.append(f'<text class="axis" x="{plot.x0 - 6}" y="{y + 4:.2f}" text-anchor="end" font-size="11"'
                     f' fill="#555555">{escape(compact(value))}</text>')
    parts.append(f'<text class="axis" x="4" y="{plot.y0 + 10}" font-size="10" fill="#777777">{escape(unit)}</text>')
    return parts


def _x_labels(plot: Plot, labels: Sequence[str], count: int) -> list[str]:
    if not count:
        return [f'<text class="empty" x="{(plot.x0 + plot.x1) / 2:.0f}" y="{(plot.y0 + plot.y1) / 2:.0f}"'
                ' text-anchor="middle" font-size="13" fill="#777777">no data yet</text>']
    slot = (plot.x1 - plot.x0) / count
    every = max(1, count // 8)
    parts = []
    for i, label in enumerate(labels[:count]):
        if i % every:
            continue
        x = plot.x0 + i * slot + slot / 2
        parts.append(f'<text class="axis" x="{x:.2f}" y="{plot.y1 + 16}" text-anchor="middle" font-size="11"'
                     f' fill="#555555">{escape(label)}</text>')
    return parts
