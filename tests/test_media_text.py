"""The pure parts of media monitoring: watch terms in their Ukrainian word forms, tone with
negation, topics as ticket categories, same-story grouping, the digest's safe links, its
chart, and its jobs as the settings ask."""

from __future__ import annotations

from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import load_settings
from bot.schedule import register_media
from broadcasts.charts import line_chart
from broadcasts.jobs import OnceJobs
from broadcasts.media_digest import DIGEST_JOB, FETCH_JOB, fetch_cron, safe_link
from broadcasts.media_monitor import COUNCIL_TERMS, district_terms
from messaging.i18n import Catalog
from storage.db import create_engine, create_sessionmaker
from storage.incident_text import vector
from storage.media_text import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    Watch,
    Watcher,
    lemmas_of,
    same_story,
    tag,
    tone_of,
)
from storage.vocabulary import system_clock

CATALOG = Catalog.load()


def test_terms_match_in_their_word_forms() -> None:
    watcher = Watcher(
        [*COUNCIL_TERMS, *district_terms(CATALOG), Watch("official", "Вілкул")],
        incidents=["Прорив водогону на вулиці Тбіліській\nНемає води на Тбіліській"],
        consultations=[
            "Проєкт рішення про тарифи на вивезення сміття\nНові тарифи на вивезення побутових "
            "відходів з 1 березня"
        ],
    )
    assert watcher.matches("Заява міського голови щодо опалення") == ["mayor:міський голова"]
    assert watcher.matches("У Центрально-Міському районі відремонтували дорогу") == [
        "district:Центрально-Міський район"
    ]
    # A surname the dictionary may not know, in another case: the suggester's typo tolerance.
    assert watcher.matches("Інтерв'ю з Вілкулом про бюджет") == ["official:Вілкул"]
    assert watcher.matches("Водогін на Тбіліській прорвало знову, води немає") == [
        "incident:Прорив водогону на вулиці Тбіліській"
    ]
    assert watcher.matches("Пропонують нові тарифи на вивезення сміття: обговорення") == [
        "consultation:Проєкт рішення про тарифи на вивезення сміття"
    ]
    # Unrelated news, empty text, emoji only, HTML: nothing.
    for text in ("Кривбас переміг у матчі", "", "🙂🙂🙂", "<b></b>"):
        assert watcher.matches(text) == []


def test_tone_reads_negation() -> None:
    assert tone_of("Сквер відкрили після ремонту")[0] == POSITIVE
    assert tone_of("Ремонт даху не завершили")[0] == NEGATIVE
    assert tone_of("Місто пережило зиму без аварій")[0] == POSITIVE
    assert tone_of("Будинки третій день без світла")[0] == NEGATIVE
    assert tone_of("Сесія міської ради відбудеться у середу")[0] == NEUTRAL
    tone, why = tone_of("Тепло не відновили")
    assert tone == NEGATIVE and why == ("¬відновили",)
    assert tone_of("")[0] == NEUTRAL


def test_topics_are_ticket_categories_and_say_why() -> None:
    tagged = tag("Ями на проспекті Металургів пошкоджують автомобілі")
    assert tagged.topic == "roads_transport" and tagged.tone == NEGATIVE
    assert "яма" in tagged.why
    assert tag("Синоптики обіцяють сніг").topic == "other"


def test_same_story_by_title_lemmas() -> None:
    told = "Депутати міської ради зірвали сесію через суперечку щодо бюджету"
    stories = [(1, vector("Виконком погодив ремонт дороги")), (2, vector(told))]
    assert same_story("Сесію міської ради зірвали депутати: бюджет не ухвалено", stories)[0] == 2
    assert same_story("Кривбас переміг у матчі", stories)[0] is None
    assert same_story("", stories)[0] is None


def test_lemmas_shown_for_a_term() -> None:
    # Every reading's lemma, as the suggester matches them.
    first, second = lemmas_of("міських голів").split(" ")
    assert first == "міський" and "голова" in second.split("|")
    assert lemmas_of("Qwertyuiop") == "qwertyuiop"


def test_only_web_links_go_into_the_digest() -> None:
    assert safe_link('https://a.ua/x?a=1&b="2"') == "https://a.ua/x?a=1&amp;b=&quot;2&quot;"
    for bad in ("javascript:alert(1)", "data:text/html,x", "https://", "//a.ua/x", ""):
        assert safe_link(bad) is None


def test_tone_chart_is_a_png() -> None:
    png = line_chart("Тон", ["01.11", "08.11"], [("негативна", [1, 3], "#c0392b")])
    assert png.startswith(b"\x89PNG")


def test_jobs_follow_the_settings() -> None:
    assert fetch_cron(15) == {"minute": "*/15"}
    assert fetch_cron(60) == {"minute": 0}
    added: dict[str, dict[str, Any]] = {}

    class Jobs(OnceJobs):
        def add(self, name: str, run: Any, **cron: Any) -> None:  # noqa: ARG002
            added[name] = cron

    settings = load_settings(
        {
            "CITYBOT_DATABASE_URL": "sqlite+aiosqlite:///:memory:",
            "CITYBOT_MEDIA_INTERVAL_MINUTES": "20",
            "CITYBOT_MEDIA_MAX_KB": "512",
            "CITYBOT_MEDIA_DIGEST_AT": "07:45",
        }
    )
    # Nothing is connected: the jobs are only registered.
    sessionmaker = create_sessionmaker(create_engine(settings.database_url))
    jobs = Jobs(scheduler=AsyncIOScheduler(), sessionmaker=sessionmaker, zone=settings.zone)
    monitor = register_media(
        jobs,
        settings,
        sessionmaker=sessionmaker,
        catalog=CATALOG,
        clock=system_clock,
        telegram=None,
    )
    # Without Telegram there is no chat for the digest: fetching alone.
    assert added == {FETCH_JOB: {"minute": "*/20"}}
    assert monitor.max_bytes == 512 * 1024
    assert DIGEST_JOB == "media-digest"
