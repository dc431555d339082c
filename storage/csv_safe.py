"""The one CSV writer of the product: every cell is made safe to open in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (or, after their import trims it, as one): a resident
who names themselves ``=HYPERLINK("http://x","y")`` would put a live link, or worse, in the
administrator's spreadsheet. OWASP's rule for CSV injection is applied to every *string* cell:
such a cell gets a single quote in front, and a spreadsheet keeps it as text instead of evaluating
it (the fullwidth forms ``＝ ＋ － ＠`` are treated the same, as some spreadsheets fold them).

Numbers (``int``, ``float``, ``Decimal``) the product itself writes are left as they are, so
counts, ids and ratings stay numeric; no text typed by people reaches a CSV as a number. A
resident's text that looks like a negative number (``-5``) is a string and is quoted like any
other (``'-5``): readable, and never a formula. Every CSV the product writes goes through
``SafeCsvWriter`` (today: the exports of ``storage.export``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final, Protocol

# The first characters that make a spreadsheet evaluate a cell (OWASP), and their fullwidth forms.
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
QUOTE: Final = "'"


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: Any) -> Any:
    """``value`` as it may go into a CSV cell: strings that a spreadsheet would evaluate get a
    leading ``'``; None is an empty cell, booleans are ``1``/``0``, numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return value
    text = value if isinstance(value, str) else str(value)
    if text.startswith(FORMULA_STARTS):
        return QUOTE + text
    return text


class SafeCsvWriter:
    """``csv.writer`` whose every cell has passed ``neutralise``."""

    def __init__(self, out: _Writable) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([neutralise(value) for value in row])
