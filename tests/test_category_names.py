"""Each category has one name everywhere: the resident's buttons (without their emoji), the
legal-aid topics that share its code, the staff cards, stats and summaries — in each language.
And no two places spell the same words differently ("Дороги та транспорт", "Дороги і
транспорт", "Транспорт і дороги" were all in use), including the departments' names."""

from __future__ import annotations

import re
from collections import defaultdict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging.i18n import Catalog
from storage.tickets import list_queues
from storage.vocabulary import CATEGORY_QUEUES

CATALOG = Catalog.load()
# Where a category's name appears, by catalog key prefix.
PLACES = ("choice.category.", "choice.legal_topic.", "staff.category.")
# Words that do not tell names apart.
JOINERS = frozenset({"і", "й", "та", "and", "the", "of"})


def strip_emoji(label: str) -> str:
    """A button's label without its leading emoji."""
    return re.sub(r"^[^\w«\"']+", "", label).strip()


def words(name: str) -> frozenset[str]:
    return frozenset(re.findall(r"[\w']+", name.casefold())) - JOINERS


def names_by_code(language: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for key in CATALOG.keys(language):
        for prefix in PLACES:
            if key.startswith(prefix):
                found[key[len(prefix) :]].add(strip_emoji(CATALOG.raw(language, key)))
    return found


def test_one_name_per_category_in_every_catalog() -> None:
    for language in CATALOG.languages:
        found = names_by_code(language)
        assert set(CATEGORY_QUEUES) <= set(found)
        assert {code: names for code, names in found.items() if len(names) > 1} == {}, language
        # Every category a resident can pick has its name on the staff side too.
        for code in found:
            assert f"staff.category.{code}" in CATALOG.keys(language), (language, code)


def test_no_two_spellings_of_the_same_name() -> None:
    for language in CATALOG.languages:
        spellings: dict[frozenset[str], set[str]] = defaultdict(set)
        for names in names_by_code(language).values():
            for name in names:
                spellings[words(name)].add(name)
        assert {k: v for k, v in spellings.items() if len(v) > 1} == {}


async def test_departments_use_the_category_names(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """A department named after a category (seeded by the migrations) spells it the same way."""
    async with sessionmaker() as session:
        departments = [q.name for q in await list_queues(session)]
    by_words = {words(n): n for names in names_by_code("uk").values() for n in names}
    clashes = {
        name: by_words[words(name)]
        for name in departments
        if words(name) in by_words and by_words[words(name)] != name
    }
    assert clashes == {}
    assert "Транспорт і дороги" in departments
