"""Bar charts drawn as inline SVG by the server: the geometry here, the markup in a template.

Phone first: a narrow coordinate space with each bar's label above it, so text stays readable
when the SVG scales down. Every chart also ships its numbers as a table (screen readers, and
anyone who prefers figures).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 360
LABEL_HEIGHT = 18
BAR_HEIGHT = 16
ROW_GAP = 10
ROW_HEIGHT = LABEL_HEIGHT + BAR_HEIGHT + ROW_GAP
PALETTE_SIZE = 6  # classes series-0 .. series-5 in style.css, each >= 3:1 against white


@dataclass(frozen=True)
class Segment:
    """A part of a bar: one series' value, with its place in SVG units."""

    series: int
    name: str
    value: float
    x: float
    width: float


@dataclass(frozen=True)
class Row:
    """One bar: its label, its segments, and an optional limit marker."""

    label: str
    total: float
    y: float
    segments: tuple[Segment, ...]
    values: tuple[float, ...]  # one per series, zeros included (the figures table)
    limit_x: float | None = None
    limit: float | None = None

    @property
    def bar_y(self) -> float:
        return self.y + LABEL_HEIGHT


@dataclass(frozen=True)
class BarChart:
    """A horizontal (optionally stacked) bar chart, ready for the template."""

    title: str
    unit: str
    rows: tuple[Row, ...]
    series: tuple[str, ...]
    row_heading: str = ""
    width: int = WIDTH
    decimals: int = 0  # how figures are written: counts are whole, some scores are not

    def figure(self, value: float) -> str:
        """A figure as the chart writes it: whole numbers without decimals."""
        return f"{value:.0f}" if float(value).is_integer() else f"{value:.{self.decimals}f}"

    @property
    def height(self) -> int:
        return max(1, len(self.rows)) * ROW_HEIGHT

    @property
    def empty(self) -> bool:
        return not self.rows


def bar_chart(
    title: str,
    unit: str,
    rows: Sequence[tuple[str, Sequence[float], float | None]],
    series: Sequence[str] = ("",),
    row_heading: str = "",
    decimals: int = 0,
) -> BarChart:
    """`rows`: (label, one value per series, limit or None). Bars share one scale."""
    scale_max = max(
        [sum(values) for _, values, _ in rows] + [limit or 0 for _, _, limit in rows] + [1]
    )
    usable = WIDTH - 2  # room for the limit marker's stroke at the far end

    def to_x(value: float) -> float:
        return round(value / scale_max * usable, 2)

    built = []
    for index, (label, values, limit) in enumerate(rows):
        x = 0.0
        segments = []
        for number, value in enumerate(values):
            if value > 0:
                width = to_x(value)
                segments.append(
                    Segment(number % PALETTE_SIZE, series[number], value, round(x, 2), width)
                )
                x += width
        built.append(
            Row(
                label=label,
                total=sum(values),
                y=index * ROW_HEIGHT,
                segments=tuple(segments),
                values=tuple(values),
                limit_x=to_x(limit) if limit is not None else None,
                limit=limit,
            )
        )
    return BarChart(title, unit, tuple(built), tuple(series), row_heading, decimals=decimals)
