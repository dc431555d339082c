"""One way to compare texts people type: the folded form that search and keyword matching use.

SQLite's ``lower()`` and ``LIKE`` fold ASCII only, and PostgreSQL's follow the server's locale
(a database created with ``LC_CTYPE=C`` folds ASCII only too), so "ВОДА" would not find "вода"
there. The fold is therefore done here, in Python, the same on every database: texts are stored
folded (``tickets.search_text``, ``residents.search_name``) and queries are folded the same way,
so SQL only compares folded strings with a plain ``LIKE``.

Folded: Unicode NFC (a "й" typed as и + combining breve is the same letter), lower case (all
scripts: "Ї" → "ї", "Є" → "є"), every apostrophe spelling (ʼ ’ ‘ ` ´) as ``'``, runs of
white space as one space.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Ukrainian writes the apostrophe several ways (the modifier letter ʼ is the standard one,
# keyboards give ' or ’): all compare equal.
APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "´": "'", "‘": "'"})
# Between the fields of a stored text: never in a folded query (white space is collapsed to
# single spaces), so a match never spans two fields.
FIELD_SEPARATOR = "\n"


def fold(text: str) -> str:
    """``text`` folded for comparison (see the module's docstring)."""
    folded = unicodedata.normalize("NFC", text).lower().translate(APOSTROPHES)
    return " ".join(folded.split())


def fold_fields(fields: Iterable[str | None]) -> str:
    """The stored search text of several fields: each folded, empty ones left out, in order."""
    return FIELD_SEPARATOR.join(folded for field in fields if field and (folded := fold(field)))


def like_pattern(folded: str) -> str:
    """``folded`` as a LIKE operand matching itself literally (with ``ESCAPE '\\'``)."""
    return folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
