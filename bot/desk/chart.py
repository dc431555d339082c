"""The Dashboard's chart of new tickets per day by category, as inline SVG drawn server-side.

Only numbers and fixed class names are computed here; every text (titles, day labels, category
names) goes through the template's autoescaping, so no resident- or staff-made string is ever
written into markup unescaped. Colours are classes (``c0``…``c10`` in desk.css) shared with the
legend, so the chart needs no inline style (the CSP forbids it) and no script.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from storage.desk.dashboard import NewTickets

WIDTH = 720
HEIGHT = 260
LEFT = 40
RIGHT = 8
TOP = 10
BOTTOM = 28
COLOURS = 11
# A day label every this many days (30 labels would overlap).
LABEL_EVERY = 5


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    # For the tooltip (<title>): the day, the category's code, the count.
    day: date
    category: str
    count: int


@dataclass(frozen=True, slots=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True, slots=True)
class DayLabel:
    x: float
    day: date


@dataclass(frozen=True, slots=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    ticks: list[Tick]
    labels: list[DayLabel]
    # Category code → colour class, in legend order.
    colours: dict[str, str]
    totals: list[int]
    days: list[date]
    left: int
    bottom: float


def _ticks(top: int) -> list[int]:
    """0, a round middle and the top of the scale."""
    if top <= 1:
        return [0, 1]
    middle = top // 2
    return sorted({0, middle, top})


def build(data: NewTickets) -> Chart:
    """Stacked bars, one per day, a segment per category in the order of ``data.counts``."""
    days = data.days
    totals = [sum(counts[i] for counts in data.counts.values()) for i in range(len(days))]
    top = max([1, *totals])
    plot_height = HEIGHT - TOP - BOTTOM
    step = (WIDTH - LEFT - RIGHT) / max(1, len(days))
    bar_width = max(1.0, step * 0.75)
    colours = {code: f"c{n % COLOURS}" for n, code in enumerate(data.counts)}
    bars: list[Bar] = []
    for i, day in enumerate(days):
        base: float = HEIGHT - BOTTOM
        for code, counts in data.counts.items():
            count = counts[i]
            if not count:
                continue
            height = plot_height * count / top
            base -= height
            bars.append(
                Bar(
                    x=round(LEFT + i * step + (step - bar_width) / 2, 2),
                    y=round(base, 2),
                    width=round(bar_width, 2),
                    height=round(height, 2),
                    colour=colours[code],
                    day=day,
                    category=code,
                    count=count,
                )
            )
    ticks = [
        Tick(y=round(HEIGHT - BOTTOM - plot_height * value / top, 2), value=value)
        for value in _ticks(top)
    ]
    labels = [
        DayLabel(x=round(LEFT + i * step + step / 2, 2), day=day)
        for i, day in enumerate(days)
        if (len(days) - 1 - i) % LABEL_EVERY == 0
    ]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        bars=bars,
        ticks=ticks,
        labels=labels,
        colours=colours,
        totals=totals,
        days=days,
        left=LEFT,
        bottom=HEIGHT - BOTTOM,
    )
