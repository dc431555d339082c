"""Chart images: real PNGs, Cyrillic labels, bounded size."""

from __future__ import annotations

import pytest

from broadcasts.charts import MAX_BARS, bar_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _size(png: bytes) -> tuple[int, int]:
    # IHDR: width and height are the first two big-endian ints after the chunk header.
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def test_a_chart_is_a_png_with_every_bar() -> None:
    png = bar_chart("Чи потрібен новий сквер?", ["Так", "Ні", "Не знаю"], [120, 45, 7], unit="")
    assert png.startswith(PNG_SIGNATURE) and len(png) > 2000
    width, height = _size(png)
    assert width == 800 and height > 100


def test_many_bars_are_capped_and_long_labels_cut() -> None:
    labels = [f"Категорія номер {index} з дуже довгою назвою, що не влазить" for index in range(50)]
    png = bar_chart("Звернення", labels, list(range(50)))
    many = _size(png)[1]
    few = _size(bar_chart("Звернення", labels[:MAX_BARS], list(range(MAX_BARS))))[1]
    assert many == few


def test_empty_and_mismatched_input() -> None:
    assert bar_chart("Немає даних", [], []).startswith(PNG_SIGNATURE)
    with pytest.raises(ValueError):
        bar_chart("x", ["a"], [1, 2])
