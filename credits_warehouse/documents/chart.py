"""The statement's daily balance chart, and the simulation report's bar chart, drawn as
inline SVG in Python.

Why Python and not a charting library or JavaScript: WeasyPrint runs no scripts, and a
chart is a few dozen path commands. Drawing it here keeps the PDF vector-sharp, fetches
nothing, and stays deterministic: tick values are exact Decimals (the labels are
formatted like every other credit figure), and only the coordinates are floats, printed
with a fixed two decimals.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from markupsafe import Markup, escape

# The drawing's size in CSS px (96 per inch): 472 x 132 px is 125 x 35 mm, the width the
# statement leaves beside its 48 mm "Expiring soon" column (see statement.css).
WIDTH, HEIGHT = 472, 132
LEFT, RIGHT, TOP, BOTTOM = 48, 8, 8, 20
PLOT_WIDTH, PLOT_HEIGHT = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
BASELINE = HEIGHT - BOTTOM  # the x axis, at the plot's bottom edge
# Axis labels, in CSS px; statement.css gives `.balance-chart .tick` the same size.
LABEL_SIZE = 8.5

LINE_COLOUR = "#1e3a8a"
FILL_COLOUR = "#dbeafe"
GRID_COLOUR = "#e5e7eb"
AXIS_COLOUR = "#6b7280"
LABEL_COLOUR = "#4b5563"

_NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))


def nice_ticks(low: Decimal, high: Decimal, target: int = 5) -> list[Decimal]:
    """Round tick values covering [low, high], about `target` intervals, always with 0.

    Steps are 1, 2, 2.5 or 5 times a power of ten, so labels read as round numbers.
    """
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if high == low:
        high = low + 1
    raw = (high - low) / target
    magnitude = Decimal(1).scaleb(raw.adjusted())
    step = next(s * magnitude for s in _NICE_STEPS if s * magnitude >= raw)
    first = math.floor(low / step)
    last = math.ceil(high / step)
    return [step * k for k in range(first, last + 1)]


def _exact(value: int | Decimal) -> Decimal:
    # Like the documents' number filters: a float here is a bug upstream, not a balance.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise TypeError(f"expected int or Decimal, got {type(value).__name__}: {value!r}")
    return Decimal(value)


def _label(value: Decimal, locale: str) -> str:
    # Ticks are round numbers; grouping as in the tables, no trailing zeros.
    return format_decimal(value.normalize() + 0, format="#,##0.##", locale=locale)


def _day_label(day: date, locale: str) -> str:
    return format_skeleton("MMMd", day, locale=locale)


def _daily_values(rows: Sequence[dict]) -> list[Decimal]:
    """One closing balance per day from the first row's day to the last's, in order; a day
    without a row carries the previous balance, so every day has a step."""
    first_day: date = rows[0]["balance_date"]
    last_day: date = rows[-1]["balance_date"]
    by_day = {row["balance_date"]: _exact(row["closing_credits"]) for row in rows}
    values: list[Decimal] = []
    for offset in range((last_day - first_day).days + 1):
        day = first_day + timedelta(days=offset)
        values.append(by_day.get(day, values[-1] if values else Decimal(0)))
    return values


@dataclass(frozen=True)
class _Scales:
    """Drawing coordinates of a day index (0 to `days`, the edges of each day's step) and of
    a balance between the lowest and highest tick."""

    days: int
    low: Decimal
    high: Decimal

    def x(self, day_index: float) -> float:
        return LEFT + PLOT_WIDTH * day_index / self.days

    def y(self, value: Decimal) -> float:
        return TOP + PLOT_HEIGHT * float((self.high - value) / (self.high - self.low))


def _value_grid(scales: _Scales, ticks: list[Decimal], locale: str) -> tuple[list[str], list[str]]:
    """Horizontal grid lines and their y labels, one per tick; the zero line is darker."""
    lines: list[str] = []
    labels: list[str] = []
    for tick in ticks:
        ty = scales.y(tick)
        colour = AXIS_COLOUR if tick == 0 else GRID_COLOUR
        lines.append(
            f'<path d="M{LEFT:.2f} {ty:.2f}H{WIDTH - RIGHT:.2f}" stroke="{colour}" '
            f'stroke-width="{0.9 if tick == 0 else 0.6}" fill="none"/>'
        )
        labels.append(
            f'<span class="tick y" style="right:{WIDTH - LEFT + 6:.2f}px;'
            f'top:{ty - LABEL_SIZE / 2:.2f}px">{escape(_label(tick, locale))}</span>'
        )
    return lines, labels


def _balance_paths(scales: _Scales, values: list[Decimal]) -> list[str]:
    """The steps, one flat segment per day with vertical jumps between days: the area down
    to zero shaded, then the line over it."""
    x, y = scales.x, scales.y
    step_path = [f"M{x(0):.2f} {y(values[0]):.2f}"]
    for i, value in enumerate(values):
        if i:
            step_path.append(f"V{y(value):.2f}")
        step_path.append(f"H{x(i + 1):.2f}")
    line = "".join(step_path)
    zero = y(Decimal(0))
    return [
        f'<path d="{line}V{zero:.2f}H{x(0):.2f}Z" fill="{FILL_COLOUR}" stroke="none"/>',
        f'<path d="{line}" fill="none" stroke="{LINE_COLOUR}" stroke-width="1.6" '
        f'stroke-linejoin="round"/>',
    ]


def _day_axis(scales: _Scales, first_day: date, locale: str) -> tuple[list[str], list[str]]:
    """The x axis: day ticks and labels on the 1st, 8th, 15th, 22nd and 29th (weekly, from
    the 1st), then the axis line."""
    marks: list[str] = []
    labels: list[str] = []
    for offset in range(scales.days):
        day = first_day + timedelta(days=offset)
        if (day.day - 1) % 7:
            continue
        tx = scales.x(offset)
        marks.append(
            f'<path d="M{tx:.2f} {BASELINE:.2f}V{BASELINE + 3:.2f}" stroke="{AXIS_COLOUR}" '
            f'stroke-width="0.6"/>'
        )
        labels.append(
            f'<span class="tick x" style="left:{tx:.2f}px;top:{BASELINE + 5:.2f}px">'
            f"{escape(_day_label(day, locale))}</span>"
        )
    marks.append(
        f'<path d="M{LEFT:.2f} {BASELINE:.2f}H{WIDTH - RIGHT:.2f}" stroke="{AXIS_COLOUR}" '
        f'stroke-width="0.6" fill="none"/>'
    )
    return marks, labels


def balance_chart_svg(daily_balances: Sequence[dict], locale: str) -> Markup:
    """A step chart of each day's closing balance: an `<svg>` of the shapes in a `<div>`
    that also holds the axis labels.

    `daily_balances` is a list of {"balance_date": date, "closing_credits": Decimal} in date
    order (missing days carry the previous balance). Each day is a flat step at its closing
    balance; the area down to zero is shaded. The y axis always includes zero, so a negative
    balance (overage) shows below the zero line.

    The labels are HTML boxes positioned over the drawing rather than SVG <text>: WeasyPrint
    lays SVG text out letter by letter, which is slower and loses kerning and copyable text.
    """
    rows = sorted(daily_balances, key=lambda row: row["balance_date"])
    if not rows:
        return Markup("")
    values = _daily_values(rows)
    ticks = nice_ticks(min(values), max(values))
    scales = _Scales(days=len(values), low=ticks[0], high=ticks[-1])

    grid, value_labels = _value_grid(scales, ticks, locale)
    steps = _balance_paths(scales, values)
    day_marks, day_labels = _day_axis(scales, rows[0]["balance_date"], locale)
    # The closing point, marked.
    closing = (
        f'<circle cx="{scales.x(scales.days):.2f}" cy="{scales.y(values[-1]):.2f}" r="2.6" '
        f'fill="{LINE_COLOUR}"/>'
    )
    shapes = [*grid, *steps, *day_marks, closing]
    labels = [*value_labels, *day_labels]
    return Markup(
        f'<div class="balance-chart" style="width:{WIDTH}px;height:{HEIGHT}px">'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">{"".join(shapes)}</svg>{"".join(labels)}</div>'
    )


# Series colours of a bar chart, in series order: a grey for what was, the statement's blue
# for what would be.
BAR_COLOURS = ("#9ca3af", LINE_COLOUR)


def bar_chart_svg(
    groups: Sequence[tuple[str, Sequence[int | Decimal]]],
    series: Sequence[str],
    locale: str,
) -> Markup:
    """Bars side by side per group, one per series (baseline and simulated credits per
    period, say), on the statement chart's grid: the same size, round ticks that always
    include zero, labels as HTML boxes. A legend naming the series follows the drawing.

    `groups` is a list of (label, one exact value per series); at most two series, drawn
    in BAR_COLOURS. A negative value hangs below the zero line."""
    if not groups:
        return Markup("")
    if not 0 < len(series) <= len(BAR_COLOURS):
        raise ValueError(f"a bar chart draws 1 to {len(BAR_COLOURS)} series, not {len(series)}")
    values = [[_exact(v) for v in row] for _, row in groups]
    if any(len(row) != len(series) for row in values):
        raise ValueError("every group needs one value per series")
    flat = [v for row in values for v in row]
    ticks = nice_ticks(min(flat), max(flat))
    # One slot per group: the scales' "days" are the groups here.
    scales = _Scales(days=len(groups), low=ticks[0], high=ticks[-1])
    grid, labels = _value_grid(scales, ticks, locale)
    slot = PLOT_WIDTH / len(groups)
    bar = min(0.7 / len(series), 0.3)  # of a slot
    start = (1 - bar * len(series)) / 2
    shapes = list(grid)
    zero = scales.y(Decimal(0))
    for i, ((label, _), row) in enumerate(zip(groups, values, strict=True)):
        for j, value in enumerate(row):
            x0 = scales.x(i + start + j * bar)
            top = scales.y(value) if value > 0 else zero
            bottom = zero if value > 0 else scales.y(value)
            shapes.append(
                f'<rect x="{x0:.2f}" y="{top:.2f}" width="{bar * slot:.2f}" '
                f'height="{bottom - top:.2f}" fill="{BAR_COLOURS[j]}"/>'
            )
        labels.append(
            f'<span class="tick x" style="left:{scales.x(i):.2f}px;width:{slot:.2f}px;'
            f'text-align:center;top:{BASELINE + 5:.2f}px">{escape(label)}</span>'
        )
    legend = "".join(
        f'<span class="legend-item"><span class="swatch" style="background:{colour}"></span>'
        f"{escape(name)}</span>"
        for name, colour in zip(series, BAR_COLOURS, strict=False)
    )
    return Markup(
        f'<div class="bar-chart" style="width:{WIDTH}px;height:{HEIGHT}px">'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">{"".join(shapes)}</svg>{"".join(labels)}</div>'
        f'<p class="chart-legend">{legend}</p>'
    )
