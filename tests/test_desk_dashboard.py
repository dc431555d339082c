"""The desk's Dashboard figures (storage/desk/dashboard.py) on both databases, with numbers
worked out by hand: medians (odd and even counts), on-time share, ratings, new tickets per day
cut at Kyiv's midnight, and departments kept apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.desk.dashboard import department_dashboard, new_tickets_per_day
from tests.desk_seed import CALENDAR, KYIV, NOW, DeskSeed

Maker = async_sessionmaker[AsyncSession]
HOUR = 3600.0
DAY = 24 * HOUR


async def test_department_figures(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)

    async def closed(
        received_days_ago: int,
        answered_hours: int,
        closed_days: int,
        *,
        deadline: bool = True,
        rating: int | None = None,
        queue: str = "housing",
    ) -> None:
        received = NOW - timedelta(days=received_days_ago)
        await seed.filed(
            queue=queue,
            status="closed",
            received_at=received,
            deadline_at=received + timedelta(days=15) if deadline else None,
            first_answer_after=timedelta(hours=answered_hours),
            closed_after=timedelta(days=closed_days),
            rating=rating,
        )

    await closed(10, 2, 3, rating=5)  # on time
    await closed(20, 4, 18, rating=2)  # late
    await closed(5, 6, 1, deadline=False)  # no deadline: not in the on-time share
    await closed(60, 1, 40)  # answered before the window, closed (late) inside it
    await closed(100, 1, 50, rating=1)  # closed before the window: not counted
    await seed.filed(deadline_at=NOW - timedelta(days=1))  # open, overdue, unassigned
    await seed.filed(deadline_at=NOW + timedelta(hours=5), assignee_id=3)  # due soon
    await closed(3, 100, 2, rating=4, queue="transport")

    async with sessionmaker() as session:
        figures = await department_dashboard(
            session,
            departments=["transport", "housing", "social"],
            now=NOW,
            calendar=CALENDAR,
            zone=KYIV,
        )
    assert [f.queue_code for f in figures] == ["housing", "social", "transport"]
    housing, social, transport = figures
    assert (housing.open, housing.overdue, housing.due_soon, housing.unassigned) == (2, 1, 1, 1)
    # First answers in the window: 2 h, 4 h, 6 h (odd count: the middle one).
    assert housing.median_first_answer == pytest.approx(4 * HOUR, abs=1)
    # Closings in the window: 1, 3, 18, 40 days (even count: the mean of the middle two).
    assert housing.median_close == pytest.approx(10.5 * DAY, abs=1)
    assert (housing.closed_with_deadline, housing.closed_on_time) == (3, 1)
    assert housing.on_time_share == pytest.approx(1 / 3)
    assert housing.rating_count == 2 and housing.rating_average == pytest.approx(3.5)

    assert transport.median_first_answer == pytest.approx(100 * HOUR, abs=1)
    assert transport.rating_count == 1 and transport.rating_average == pytest.approx(4.0)
    assert transport.on_time_share == 1.0 and transport.open == 0

    assert social.median_first_answer is None and social.median_close is None
    assert social.on_time_share is None and social.rating_average is None
    assert (social.open, social.rating_count) == (0, 0)


async def test_new_tickets_per_day_by_category(sessionmaker: Maker) -> None:
    seed = DeskSeed(sessionmaker)

    async def received(at: datetime, category: str | None, queue: str = "housing") -> None:
        await seed.filed(received_at=at, category=category, queue=queue)

    await received(datetime(2026, 11, 23, 21, 30, tzinfo=UTC), "housing")  # 23:30 on the 23rd
    await received(datetime(2026, 11, 23, 22, 30, tzinfo=UTC), "housing")  # 00:30 on the 24th
    await received(datetime(2026, 11, 24, 8, 0, tzinfo=UTC), None)
    await received(NOW - timedelta(hours=1), "social")
    await received(datetime(2026, 11, 22, 21, 0, tzinfo=UTC), "housing")  # the 22nd: too early
    await received(NOW - timedelta(hours=1), "housing", queue="transport")

    async with sessionmaker() as session:
        chart = await new_tickets_per_day(
            session, departments=["housing"], now=NOW, zone=KYIV, days=3
        )
        empty = await new_tickets_per_day(session, departments=[], now=NOW, zone=KYIV, days=2)
        with pytest.raises(ValueError, match="days"):
            await new_tickets_per_day(session, departments=["housing"], now=NOW, zone=KYIV, days=0)
    assert chart.days == [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)]
    assert chart.counts == {"": [0, 1, 0], "housing": [1, 1, 0], "social": [0, 0, 1]}
    assert empty.days == [date(2026, 11, 24), date(2026, 11, 25)] and empty.counts == {}
