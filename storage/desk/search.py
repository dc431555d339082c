"""Search in a department's tickets: by registration number, by text, by the resident's name.

Method: texts are stored folded (``storage.textfold``: NFC, lower case in every script, one
apostrophe, single spaces) in ``tickets.search_text`` (number, name, subject, text) and
``residents.search_name``, by mapper events on every ORM write; the query is folded the same way
and compared with ``LIKE '%…%'``. So "ВОДА" finds "вода", "Ї" finds "ї", "під’їзд" finds
"підʼїзд" on SQLite and on PostgreSQL alike, whatever the server's locale. On PostgreSQL the
columns have pg_trgm GIN indexes (migration 0017, where the server offers the extension), which
serve ``LIKE '%…%'`` of three characters or more; SQLite scans (measured in BENCHMARKS.md).

Erasure clears the fields and so the stored text: an erased ticket is still found by its
number (which the council keeps) but never by its erased words or name. An anonymous ticket is
never found by its resident's messenger name (that would undo the anonymity).
"""

from __future__ import annotations

import re

from sqlalchemy import ColumnElement, and_, any_, func, or_, select

from storage.models import Resident, Ticket
from storage.textfold import fold, like_pattern

# A registration number or a part of it: "ЗВ-2026-000123", "зв-2026", "2026-000123", "000123".
# Letters only before the digits; anything else is searched as text.
_NUMBER = re.compile(r"^(?:[^\W\d_]{1,4}-?)?\d[\d-]*$")
# Shorter queries would match half the database; the caller shows "type more".
MIN_QUERY = 2


def looks_like_number(query: str) -> bool:
    return bool(_NUMBER.match(query.strip()))


def search_clause(query: str, *, dialect: str) -> ColumnElement[bool] | None:
    """The WHERE clause of a search for ``query`` (None: too short to search, after folding).

    A number-like query matches registration numbers only (exact, prefix or any part, e.g. the
    serial "000123"); any other query matches the folded number, name, subject and text of
    tickets not erased, and the names of their residents (not of anonymous tickets).
    """
    folded = fold(query)
    if len(folded) < MIN_QUERY:
        return None
    pattern = f"%{like_pattern(folded)}%"
    if looks_like_number(folded):
        # Numbers are stored as registered: upper-case Cyrillic prefix, digits, dashes.
        number = Ticket.number.like(f"%{like_pattern(folded.upper())}%", escape="\\")
        if dialect != "postgresql":
            # SQLite: the ids from a scan of the unique index on numbers alone (covering),
            # instead of reading every ticket along the deadline order: 16 ms, not 120 ms.
            return Ticket.id.in_(select(Ticket.id).where(number))
        # The number leads the folded text, so the text's trigram index narrows the search;
        # the number itself keeps a number from matching words of the text.
        return and_(Ticket.search_text.like(pattern, escape="\\"), number)
    named = select(Resident.id).where(
        Resident.search_name.like(pattern, escape="\\"), Resident.erased_at.is_(None)
    )
    by_name: ColumnElement[bool]
    if dialect == "postgresql":
        # ``= ANY(ARRAY(subquery))`` rather than ``IN (subquery)``: an array is something an
        # index scan takes, so PostgreSQL can OR the two bitmap scans (trigrams of the text,
        # the residents' tickets) instead of filtering every ticket through a hashed subplan:
        # 12 ms instead of 130 ms for a rare word at 100,000 tickets (BENCHMARKS.md).
        by_name = Ticket.resident_id == any_(func.array(named.scalar_subquery()))
    else:
        by_name = Ticket.resident_id.in_(named)
    return and_(
        Ticket.erased_at.is_(None),
        or_(
            Ticket.search_text.like(pattern, escape="\\"),
            and_(Ticket.anonymous.is_(False), by_name),
        ),
    )
