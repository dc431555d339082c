"""The report document's text layout: rows never wider than the page, words kept whole where
they fit, a word wider than a row broken between characters, paragraphs kept, characters the
font lacks (emoji) left out; and a thousand long comments laid out in seconds, not minutes."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fpdf import FPDF

from handlers.staff.consultations.report import (
    Widths,
    _printable,
    close_fonts,
    new_document,
    share,
    wrap,
)


@pytest.fixture
def document() -> Iterator[FPDF]:
    made = new_document()
    yield made
    close_fonts(made)


def test_rows_fit_and_words_stay_whole(document: FPDF) -> None:
    widths = Widths(document)
    text = "Пропонуємо висадити дерева вздовж вулиці Шевченка " * 20 + "\nДругий абзац."
    rows = wrap(widths, text, document.epw)
    assert all(document.get_string_width(row) <= document.epw + 0.01 for row in rows)
    assert " ".join(rows).split() == text.split()
    assert rows[-1] == "Другий абзац."
    long = "Ш" * 500
    broken = wrap(widths, long, document.epw)
    assert len(broken) > 1 and "".join(broken) == long
    assert all(document.get_string_width(row) <= document.epw + 0.01 for row in broken)
    assert wrap(widths, "", document.epw) == [""]


def test_emoji_left_out_and_shares() -> None:
    assert _printable("Дерева 🌳 <b>так</b>") == "Дерева  <b>так</b>"
    assert share(1, 3) == "33%" and share(0, 0) == "0%" and share(2, 2) == "100%"


def test_a_thousand_long_comments_in_seconds(document: FPDF) -> None:
    widths = Widths(document)
    started = time.perf_counter()
    for number in range(1000):
        for row in wrap(widths, f"Коментар {number}: " + "дуже довгий текст " * 200, document.epw):
            document.cell(0, 6, row, new_x="LMARGIN", new_y="NEXT")
    pdf = bytes(document.output())
    assert pdf.startswith(b"%PDF")
    # ~3.5 s on the 2-core machine; with fpdf2's multi_cell, 200 comments of 4,000 characters
    # already took ~8 s.
    assert time.perf_counter() - started < 30
