"""The category suggester: word forms, Russian, typos and surzhyk, odd input, "other" when
nothing matches, the explanation; the lists in the database on both databases (seeded once,
edits seen at the next suggestion). Accuracy is measured in ``bench/classify.py``, not here."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.migrate import upgrade_to_head
from storage import classifier, keyword_store
from storage.classifier import CATEGORIES, Classifier, Term, plain_forms, suggest
from storage.db import create_engine, create_sessionmaker
from storage.models import AppSetting, CategoryKeyword
from storage.vocabulary import system_clock

pytestmark = pytest.mark.migrated_database

TERMS = [
    Term("improvement", "ліхтар"),
    Term("improvement", "фонарь"),
    Term("housing", "ліфт"),
    Term("housing", "під'їзд"),
    Term("housing", "нема води"),
    Term("housing", "горячая вода"),
    Term("roads_transport", "міст"),
    Term("roads_transport", "маршрутка"),
    Term("social", "субсидія"),
]


@pytest.fixture(scope="module")
def small() -> Classifier:
    return Classifier(TERMS)


@pytest.mark.parametrize(
    "text",
    [
        "Не світять ліхтарі",
        "Немає жодного ліхтаря на вулиці",
        "Вже місяць темно: з п'яти ліхтарів горить один",
        "поставте ліхтар",
        "ЛІХТАРЯМИ ніхто не займається",
    ],
)
def test_word_forms_match_the_lemma(small: Classifier, text: str) -> None:
    suggestion = small.classify(text)
    assert suggestion.best == "improvement"
    (match,) = suggestion.ranked[0].matches
    assert match.phrase == "ліхтар" and not match.fuzzy


def test_without_the_lemmatiser_forms_are_missed() -> None:
    """The same list matched word for word: the inflected forms do not match (what the
    lemmatiser is for)."""
    plain = Classifier(TERMS, forms=plain_forms, fuzzy="off")
    assert plain.classify("поставте ліхтар").best == "improvement"
    assert plain.classify("з п'яти ліхтарів горить один").best == "other"


def test_russian_messages(small: Classifier) -> None:
    suggestion = small.classify("Здравствуйте, во дворе не горят фонари")
    assert suggestion.best == "improvement"
    assert suggestion.ranked[0].matches[0].found == "фонари"
    assert small.classify("У нас нет горячей воды неделю").best == "housing"


def test_typos_and_surzhyk_unknown_to_the_dictionaries(small: Classifier) -> None:
    suggestion = small.classify("в підїзді смердить")  # the apostrophe left out
    assert suggestion.best == "housing"
    (match,) = suggestion.ranked[0].matches
    assert match.phrase == "під'їзд" and match.fuzzy and match.found == "підїзді"
    # A fuzzy match counts less than an exact one.
    assert suggestion.ranked[0].score < small.classify("в під'їзді смердить").ranked[0].score
    assert small.classify("маршрутко не прийшла").best == "roads_transport"
    # Short words are not guessed at: "ліст" is not "ліфт".
    assert small.classify("ліст").best == "other"


def test_phrases_allow_words_between(small: Classifier) -> None:
    suggestion = small.classify("третій день нема гарячої води")
    assert suggestion.best == "housing"
    assert suggestion.ranked[0].matches[0].found == "нема гарячої води"
    assert small.classify("води нема").best == "other"  # order matters


def test_a_dictionary_form_keyword_means_that_word_only(small: Classifier) -> None:
    """ "міст" (bridge) is also a form of "місто" (city): the city must not suggest roads."""
    assert small.classify("Чи видає місто підгузки?").best == "other"
    assert small.classify("Коли відремонтують мости?").best == "roads_transport"


@pytest.mark.parametrize("text", ["", "   ", "👍", "🙏🙏🙏", "!!!", "12345", "Доброго дня", "ok"])
def test_nothing_matches_other_first(small: Classifier, text: str) -> None:
    suggestion = small.classify(text)
    assert suggestion.best == "other" and not suggestion.matched
    assert [item.category for item in suggestion.ranked] == [
        "other",
        *(category for category in CATEGORIES if category != "other"),
    ]
    assert suggestion.explain() == "other 0.50"


def test_huge_input_is_bounded(small: Classifier) -> None:
    text = "У нас не працює ліфт і нема води. " * 20_000  # 680,000 characters
    started = time.perf_counter()
    suggestion = small.classify(text)
    assert time.perf_counter() - started < 1.0
    assert suggestion.best == "housing"
    # Each term counts once however often it is repeated.
    assert suggestion.ranked[0].score == 1.0 + 2.0


def test_every_category_ranked_once_with_scores(small: Classifier) -> None:
    suggestion = small.classify("Ліфт не працює, субсидію не дали, маршрутка не ходить")
    assert sorted(item.category for item in suggestion.ranked) == sorted(CATEGORIES)
    scores = [item.score for item in suggestion.ranked]
    assert scores == sorted(scores, reverse=True)
    # Ties (one keyword each) keep the fixed order: housing, roads, social.
    assert suggestion.top(3) == ["housing", "roads_transport", "social"]
    explained = suggestion.explain()
    assert "housing 1.00: ліфт (ліфт)" in explained
    assert "social 1.00: субсидія (субсидію)" in explained


def test_the_shipped_lists_on_the_issues_example() -> None:
    terms = [Term(category, phrase) for category, phrase in keyword_store.default_terms()]
    shipped = Classifier(terms)
    text = "Доброго дня! У нас на вул. Металургів, 5 третій день не світять ліхтарі."
    assert shipped.classify(text).best == "improvement"
    assert shipped.classify("ліфт").best == "housing"
    assert shipped.classify("нема води").best == "housing"


def test_bad_phrases_are_refused() -> None:
    assert keyword_store.normalize("  Гаряча   ВОДА ") == "гаряча вода"
    assert keyword_store.normalize("під’їзд") == "під'їзд"
    for bad in ("", "   ", "👍", "!!!", "я" * 201):
        with pytest.raises(keyword_store.BadPhrase):
            keyword_store.normalize(bad)


async def test_lists_in_the_database_seeded_once_and_edits_seen(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    defaults = keyword_store.default_terms()
    async with sessionmaker() as session, session.begin():
        assert await keyword_store.revision(session) is None
        suggestion = await suggest(session, "Третій день не працює ліфт")
        assert suggestion.best == "housing"
        first = await keyword_store.revision(session)
        assert first is not None
    async with sessionmaker() as session, session.begin():
        # Seeding again changes nothing.
        assert await keyword_store.ensure_seeded(session) == first
        count = await session.scalar(select(func.count()).select_from(CategoryKeyword))
        assert count == len(defaults)
        assert (await suggest(session, "Ґрунтовка на фасаді")).best == "housing"

    # An administrator adds a word (another process would do the same through the table).
    async with sessionmaker() as session, session.begin():
        assert (await suggest(session, "ракетка для бадмінтону")).best == "other"
        added = await keyword_store.add_terms(
            session,
            category="improvement",
            phrases=["бадмінтон", "Ліфт"],
            actor="cli",
            now=system_clock(),
        )
        assert added.added == ["бадмінтон", "ліфт"] and added.already == []
    async with sessionmaker() as session, session.begin():
        assert await keyword_store.revision(session) != first
        suggestion = await suggest(session, "ракетка для бадмінтону")
        assert suggestion.best == "improvement"
        assert suggestion.ranked[0].matches[0].phrase == "бадмінтон"

    # Removed: gone at the next suggestion.
    async with sessionmaker() as session, session.begin():
        assert await keyword_store.remove_term(session, category="housing", phrase=" ЛІФТ ")
        assert not await keyword_store.remove_term(session, category="housing", phrase="ліфт")
    async with sessionmaker() as session, session.begin():
        ranked = (await suggest(session, "ліфт")).ranked
        assert "ліфт" not in [
            m.phrase for item in ranked if item.category == "housing" for m in item.matches
        ]
        with pytest.raises(ValueError, match="unknown category"):
            await keyword_store.add_terms(
                session, category="weather", phrases=["дощ"], actor="cli", now=system_clock()
            )
        with pytest.raises(ValueError, match="weight"):
            await keyword_store.add_terms(
                session,
                category="other",
                phrases=["дощ"],
                actor="cli",
                now=system_clock(),
                weight=0,
            )


async def test_the_classifier_is_cached_per_revision(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session, session.begin():
        first = await classifier.current(session)
        assert await classifier.current(session) is first
        await keyword_store.bump(session)
        assert await classifier.current(session) is not first
        setting = await session.get(AppSetting, keyword_store.REVISION_KEY)
        assert setting is not None and set(setting.value) == {"revision"}


async def test_two_processes_seed_the_lists_once(pg_url: str) -> None:
    """Two conversations (or processes) meet an unseeded table at the same moment: the
    revision row lets one copy the defaults; the other waits for it and finds them."""
    engine = create_engine(pg_url)
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        first_in = asyncio.Event()

        async def first() -> str:
            async with sessionmaker() as session, session.begin():
                revision = await keyword_store.ensure_seeded(session)
                first_in.set()
                await asyncio.sleep(0.3)  # still uncommitted while the other one tries
                return revision

        async def second() -> str:
            await first_in.wait()
            async with sessionmaker() as session, session.begin():
                return await keyword_store.ensure_seeded(session)

        revisions = await asyncio.gather(first(), second())
        assert revisions[0] == revisions[1]
        async with sessionmaker() as session:
            count = await session.scalar(select(func.count()).select_from(CategoryKeyword))
        assert count == len(keyword_store.default_terms())
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    ("text", "category", "phrase"),
    [
        ("мусорку не вивозять, всьо смердить", "improvement", "мусор"),
        ("лифт нєрабочій третій дєнь", "housing", "лифт"),
        ("Шо за безпредєл, нема гарячої воды", "housing", "нема води"),
        ("на дорозі ями такі шо машину вбив", "roads_transport", "яма"),
    ],
)
def test_surzhyk_with_the_shipped_lists(text: str, category: str, phrase: str) -> None:
    shipped = Classifier([Term(c, p) for c, p in keyword_store.default_terms()])
    suggestion = shipped.classify(text)
    assert suggestion.best == category
    assert phrase in [match.phrase for match in suggestion.ranked[0].matches]
