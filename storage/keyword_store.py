"""The category suggester's keyword lists in the database: seeding from the shipped defaults,
listing, adding, removing, and the revision that tells every process the lists changed.

The caller commits and writes the audit entry (``bot.admin`` does both for ``citybot keywords``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AppSetting, AuditEntry, CategoryKeyword, Ticket
from storage.textfold import fold
from storage.vocabulary import CATEGORY_QUEUES, system_clock

# app_settings row: {"revision": "<hex>"}, a new value at every change of the lists. Its
# absence means the defaults were never copied in.
REVISION_KEY = "category_keywords"
DEFAULTS_FILE = "category_keywords.json"
DEFAULT_ACTOR = "default"
PHRASE_MAX = 200
WEIGHT_RANGE = (0.1, 10.0)
# The audit action of a category change by staff (``storage.recategorize``).
CATEGORY_CHANGED = "ticket.category"

_WORD = re.compile(r"[^\W_]")


class BadPhrase(ValueError):
    """A phrase that cannot be a keyword (empty, no letters or digits, too long)."""


def normalize(phrase: str) -> str:
    """How a phrase is stored and compared: NFC, lower case, one kind of apostrophe, single
    spaces. Raises :class:`BadPhrase` for what could never match."""
    text = fold(phrase)
    if not _WORD.search(text):
        raise BadPhrase("a phrase needs at least one letter or digit")
    if len(text) > PHRASE_MAX:
        raise BadPhrase(f"a phrase is at most {PHRASE_MAX} characters")
    return text


def check_category(category: str) -> str:
    if category not in CATEGORY_QUEUES:
        raise ValueError(f"unknown category {category!r}; one of: {', '.join(CATEGORY_QUEUES)}")
    return category


def default_terms() -> list[tuple[str, str]]:
    """(category, phrase) of the lists shipped with the package, in file order."""
    raw = resources.files("storage").joinpath("data", DEFAULTS_FILE).read_text(encoding="utf-8")
    data = json.loads(raw)
    seen: set[tuple[str, str]] = set()
    terms: list[tuple[str, str]] = []
    for category, phrases in data["categories"].items():
        check_category(category)
        for phrase in phrases:
            key = (category, normalize(phrase))
            if key not in seen:
                seen.add(key)
                terms.append(key)
    return terms


async def revision(session: AsyncSession) -> str | None:
    value = await session.scalar(select(AppSetting.value).where(AppSetting.key == REVISION_KEY))
    return None if value is None else str(value.get("revision"))


async def bump(session: AsyncSession) -> str:
    """Mark the lists changed: every process rebuilds its classifier at its next suggestion."""
    new = uuid.uuid4().hex
    setting = await session.get(AppSetting, REVISION_KEY)
    if setting is None:
        session.add(AppSetting(key=REVISION_KEY, value={"revision": new}))
    else:
        setting.value = {"revision": new}
    await session.flush()
    return new


async def ensure_seeded(session: AsyncSession, *, now: datetime | None = None) -> str:
    """Copy the shipped lists into the table once (the first suggestion or ``citybot
    keywords`` does it); returns the current revision. Two processes starting together: the
    revision row's primary key lets one of them seed, the other finds it done."""
    current = await revision(session)
    if current is not None:
        return current
    moment = now or system_clock()
    new = uuid.uuid4().hex
    try:
        async with session.begin_nested():
            session.add(AppSetting(key=REVISION_KEY, value={"revision": new}))
            await session.flush()
    except IntegrityError:
        found = await revision(session)
        assert found is not None
        return found
    session.add_all(
        CategoryKeyword(
            category=category,
            phrase=phrase,
            weight=1.0,
            created_at=moment,
            created_by=DEFAULT_ACTOR,
        )
        for category, phrase in default_terms()
    )
    await session.flush()
    return new


async def list_terms(
    session: AsyncSession, *, category: str | None = None
) -> Sequence[CategoryKeyword]:
    query = select(CategoryKeyword).order_by(CategoryKeyword.category, CategoryKeyword.phrase)
    if category is not None:
        query = query.where(CategoryKeyword.category == category)
    return (await session.scalars(query)).all()


@dataclass(frozen=True, slots=True)
class Added:
    added: list[str]
    already: list[str]


async def add_terms(
    session: AsyncSession,
    *,
    category: str,
    phrases: Iterable[str],
    actor: str,
    now: datetime,
    weight: float = 1.0,
) -> Added:
    """Add phrases to a category's list (normalized; one already there is left as it is).
    Raises ValueError for an unknown category or a bad phrase or weight, before writing."""
    check_category(category)
    low, high = WEIGHT_RANGE
    if not low <= weight <= high:
        raise ValueError(f"weight must be between {low} and {high}")
    wanted = list(dict.fromkeys(normalize(phrase) for phrase in phrases))
    await ensure_seeded(session, now=now)
    existing = set(
        (
            await session.scalars(
                select(CategoryKeyword.phrase).where(
                    CategoryKeyword.category == category, CategoryKeyword.phrase.in_(wanted)
                )
            )
        ).all()
    )
    added = [phrase for phrase in wanted if phrase not in existing]
    session.add_all(
        CategoryKeyword(
            category=category, phrase=phrase, weight=weight, created_at=now, created_by=actor
        )
        for phrase in added
    )
    if added:
        await session.flush()
        await bump(session)
    return Added(added=added, already=[phrase for phrase in wanted if phrase in existing])


async def remove_term(session: AsyncSession, *, category: str, phrase: str) -> bool:
    check_category(category)
    await ensure_seeded(session)
    result = await session.execute(
        delete(CategoryKeyword).where(
            CategoryKeyword.category == category, CategoryKeyword.phrase == normalize(phrase)
        )
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await bump(session)
    return True


@dataclass(frozen=True, slots=True)
class Confusion:
    """Suggested-vs-final categories of real tickets: ``cells[(suggested, final)] = count``."""

    cells: dict[tuple[str, str], int]

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    @property
    def agreed(self) -> int:
        return sum(count for (suggested, final), count in self.cells.items() if suggested == final)


@dataclass(frozen=True, slots=True)
class Accuracy:
    """The suggestion made at filing against the category the resident chose, and against the
    ticket's category now (after any change by staff)."""

    chosen: Confusion
    final: Confusion


async def confusion(session: AsyncSession, *, since: datetime | None = None) -> Accuracy:
    """Tickets filed with a suggestion (the others are left out). The resident's choice is the
    category before the first change by staff (``ticket.category`` audit entries), else the
    ticket's category."""
    query = select(Ticket.id, Ticket.suggested_category, Ticket.category).where(
        Ticket.suggested_category.is_not(None)
    )
    if since is not None:
        query = query.where(Ticket.received_at >= since)
    rows = (await session.execute(query)).all()
    first_old: dict[str, str | None] = {}
    changes = select(AuditEntry.subject, AuditEntry.details).where(
        AuditEntry.action == CATEGORY_CHANGED
    )
    for subject, details in (await session.execute(changes.order_by(AuditEntry.id))).all():
        first_old.setdefault(str(subject), details.get("old"))
    chosen: Counter[tuple[str, str]] = Counter()
    final: Counter[tuple[str, str]] = Counter()
    for ticket_id, suggested, category in rows:
        original = first_old.get(f"ticket:{ticket_id}", category)
        chosen[(str(suggested), str(original or "—"))] += 1
        final[(str(suggested), str(category or "—"))] += 1
    return Accuracy(Confusion(dict(chosen)), Confusion(dict(final)))
