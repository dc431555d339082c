"""Charts as PNG images for the staff chats: bars (poll results, weekly summaries) and lines
(the media digest's tone by week).

matplotlib's ``Figure`` used directly (not pyplot): it renders with Agg, needs no display and no
global state, and its bundled DejaVu Sans has Cyrillic. Rendering takes tens of milliseconds of
CPU, so callers in the event loop should run it in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from matplotlib.figure import Figure

# Long labels are cut: a chart is read at a glance, the message beside it has the full text.
LABEL_MAX = 40
MAX_BARS = 30


def _label(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    unit: str = "",
) -> bytes:
    """A horizontal bar chart (first label on top) as PNG bytes; at most ``MAX_BARS`` bars."""
    if len(labels) != len(values):
        raise ValueError("labels and values differ in length")
    shown_labels = [_label(label) for label in labels[:MAX_BARS]]
    shown_values = [float(value) for value in values[:MAX_BARS]]
    height = 1.2 + 0.45 * max(1, len(shown_labels))
    # A Figure of its own (not pyplot): no global state, safe in threads.
    figure = Figure(figsize=(8, height), dpi=100)
    axes = figure.add_subplot()
    positions = list(range(len(shown_labels)))
    bars = axes.barh(positions, shown_values, color="#2f6fb5")
    axes.set_yticks(positions, shown_labels)
    axes.invert_yaxis()
    axes.set_title(_label(title) if len(title) > 80 else title)
    axes.spines[["top", "right"]].set_visible(False)
    peak = max(shown_values, default=0.0)
    axes.set_xlim(0, peak * 1.15 if peak > 0 else 1)
    axes.bar_label(bars, labels=[f"{value:g}{unit}" for value in shown_values], padding=3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
) -> bytes:
    """Lines over ``labels`` (e.g. weeks, oldest first): each series is (name, values, colour);
    a legend names them. PNG bytes."""
    if any(len(values) != len(labels) for _name, values, _colour in series):
        raise ValueError("a series differs in length from the labels")
    figure = Figure(figsize=(8, 4), dpi=100)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    for name, values, colour in series:
        axes.plot(positions, [float(v) for v in values], marker="o", color=colour, label=name)
    axes.set_xticks(positions, [_label(label) for label in labels])
    axes.set_title(_label(title) if len(title) > 80 else title)
    axes.spines[["top", "right"]].set_visible(False)
    axes.set_ylim(bottom=0)
    axes.legend(loc="upper left")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
