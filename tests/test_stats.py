"""/stats: the figures on seeded data (both databases, both median forms) and the command in the
staff chat through the fake Bot API (staff get the report, anyone else is refused and audited)."""

from __future__ import annotations

from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.card import STATUS_ICONS
from broadcasts.textfreq import frequent_terms, words
from storage.models import AuditEntry, Ticket
from storage.stats import ResidentRow, StatsReport, TicketRow, median, stats_report
from tests.staff_world import OPERATOR, OUTSIDER, staff_world
from tests.stats_seed import NOW, Seed

# A seeded ticket's card, which the minute's catch-up may post at any time, starts so.
CARD_ICONS = tuple(STATUS_ICONS.values())

pytestmark = pytest.mark.migrated_database

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def _seed(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    seed = Seed(sessionmaker)
    old = await seed.resident(district="ternivskyi", topics=("city_news", "outages"))
    await seed.resident(channel="viber", district="pokrovskyi", created_at=NOW - 3 * DAY)
    await seed.resident(channel="viber", district=None, topics=(), created_at=NOW - 20 * DAY)
    await seed.resident(active=False, blocked_at=NOW - 2 * DAY)
    # Answered after 1, 2, 3 and 10 hours: median 2.5 h; closed after 1 and 3 days: median 2 d.
    await seed.ticket(resident_id=old, first_answer_after=HOUR, closed_after=DAY, rating=5)
    await seed.ticket(
        resident_id=old,
        kind="info_request",
        category=None,
        queue="public_info",
        status="closed",
        first_answer_after=2 * HOUR,
        closed_after=3 * DAY,
        rating=3,
        received_at=NOW - 4 * DAY,
    )
    await seed.ticket(first_answer_after=3 * HOUR, status="answered")
    await seed.ticket(first_answer_after=10 * HOUR, status="in_progress", category="social")
    # Overdue: open, deadline passed; a closed one past its deadline is not.
    await seed.ticket(received_at=NOW - 40 * DAY, deadline_at=NOW - DAY)
    await seed.ticket(received_at=NOW - 40 * DAY, deadline_at=NOW - DAY, status="closed")
    await seed.broadcast(states={"sent": 7, "blocked": 2, "failed": 1})


_Row = TypeVar("_Row", ResidentRow, TicketRow)


def _row(rows: list[_Row], key: str) -> _Row:
    return next(r for r in rows if r.key == key)


async def test_stats_figures(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _seed(sessionmaker)
    async with sessionmaker() as session:
        report: StatsReport = await stats_report(session, now=NOW)
        portable = await stats_report(session, now=NOW, portable=True)
    assert (report.residents.total, report.residents.new_7, report.residents.new_30) == (3, 1, 2)
    assert report.residents.left_7 == 1
    viber = _row(report.residents_by_channel, "viber")
    assert (viber.total, viber.new_7, viber.new_30) == (2, 1, 2)
    assert _row(report.residents_by_district, "").total == 1
    assert _row(report.residents_by_topic, "outages").total == 1
    assert _row(report.residents_by_topic, "city_news").total == 2  # and one blocked
    assert _row(report.tickets_by_kind, "appeal").total == 5
    assert _row(report.tickets_by_status, "closed").open == 0
    assert _row(report.tickets_by_category, "").total == 1
    housing = _row(report.tickets_by_queue, "housing")
    assert (housing.total, housing.open, housing.new_7) == (5, 4, 3)
    assert report.overdue == 1
    assert report.median_first_answer is not None
    assert abs(report.median_first_answer - 2.5 * 3600) < 1
    assert report.median_close is not None and abs(report.median_close - 2 * 86400) < 1
    # percentile_cont on PostgreSQL and ORDER BY + OFFSET agree.
    assert abs((portable.median_first_answer or 0) - report.median_first_answer) < 1
    assert abs((portable.median_close or 0) - report.median_close) < 1
    assert report.ratings.count == 2 and report.ratings.average == 4.0
    assert report.ratings.by_score == {3: 1, 5: 1}
    [reach] = report.broadcasts
    assert reach.states == {"sent": 7, "blocked": 2, "failed": 1} and reach.total == 10


async def test_median_odd_even_and_empty(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    seed = Seed(sessionmaker)
    for rating in (5, 1, 4):
        await seed.ticket(rating=rating)
    value = Ticket.rating
    async with sessionmaker() as session:
        for portable in (False, True):
            assert await median(session, value, [value.is_not(None)], portable=portable) == 4.0
            assert await median(session, value, [value > 1], portable=portable) == 4.5
            assert await median(session, value, [value > 5], portable=portable) is None


def test_frequent_terms_without_stop_words_or_personal_data() -> None:
    texts = [
        ("Прошу відремонтувати ліфт у під'їзді, тел. +380 67 123 45 67", ["Петренко Оксана"]),
        ("Не працює ліфт у під’їзді вже тиждень. Петренко", ["Іваненко Іван"]),
        ("Ліфт не працює, oksana@example.com", ["Петренко Оксана"]),
        ("Яма на дорозі біля школи № 5", []),
    ]
    singles, pairs = frequent_terms(texts, limit=5)
    assert [(t.text, t.tickets) for t in singles[:3]] == [
        ("ліфт", 3),
        ("працює", 2),
        ("під'їзді", 2),
    ]
    assert pairs == []  # a stop word breaks a phrase; no pair is in two tickets
    _, lights = frequent_terms([("Немає вуличного освітлення", []), ("вуличного освітлення", [])])
    assert [(p.text, p.tickets) for p in lights] == [("вуличного освітлення", 2)]
    everything = {t.text for t in singles} | {w for p in pairs for w in p.text.split()}
    assert not everything & {"прошу", "не", "у", "вже", "на", "petrenko", "петренко", "oksana"}
    # Her name in the second ticket is another person's text: kept only below the threshold.
    assert "петренко" in {t.text for t in frequent_terms(texts, min_tickets=1)[0]}
    assert words("тел. 067-123-45-67, кв. 12") == ["тел", "кв"]


async def test_stats_command_for_staff_and_refused_for_others(database_url: str) -> None:
    async with staff_world(database_url) as world:
        await _seed_via(world.runtime.sessionmaker)
        before = len(world.chat())
        await world.say(OPERATOR, "/stats")
        posted = [p for p in world.texts()[before:] if not p.startswith(CARD_ICONS)]
        assert posted and "Статистика" in posted[0]
        assert "Мешканці" in "\n".join(posted) and "Прострочено" in "\n".join(posted)
        assert await world.audit("stats.viewed")
        await world.say(OUTSIDER, "/stats")
        assert "лише для працівників" in world.texts()[-1]
        [denied] = await world.audit("stats.denied")
        assert denied.actor == f"telegram:{OUTSIDER}" and denied.details["what"] == "/stats"


async def _seed_via(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    seed = Seed(sessionmaker)
    resident = await seed.resident()
    await seed.ticket(resident_id=resident, first_answer_after=HOUR)


async def test_audit_is_untouched_by_reads(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await _seed(sessionmaker)
    async with sessionmaker() as session:
        await stats_report(session, now=NOW)
        assert (await session.scalars(select(AuditEntry))).all() == []
