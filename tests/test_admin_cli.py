"""Administration commands: queues and routes, the holiday list and martial law, with open
tickets' deadlines recomputed when the calendar changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.admin import run_admin
from bot.cli import _parser
from bot.config import load_settings
from storage.broadcasts import create_broadcast
from storage.calendar_store import ensure_holidays
from storage.models import AuditEntry, Broadcast, Delivery, Resident, ResidentTopic, Ticket
from storage.planning import plan_broadcast

KYIV = ZoneInfo("Europe/Kyiv")


async def _admin(database_url: str, *argv: str) -> int:
    settings = load_settings({"CITYBOT_DATABASE_URL": database_url})
    return await run_admin(settings, _parser().parse_args(list(argv)))


@pytest.mark.usefixtures("engine")
async def test_queues_and_routes(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert await _admin(database_url, "queue", "list") == 0
    listing = capsys.readouterr().out
    assert "public_info\tДоступ до публічної інформації\t(operator chat)" in listing
    assert "route\thousing\t-> housing" in listing
    assert await _admin(database_url, "queue", "chat", "housing", "-1001234567890") == 0
    assert await _admin(database_url, "queue", "add", "ecology", "Екологія") == 0
    assert await _admin(database_url, "queue", "route", "improvement", "ecology") == 0
    assert await _admin(database_url, "queue", "disable", "other") == 0
    assert await _admin(database_url, "queue", "chat", "nowhere", "1") == 1
    assert await _admin(database_url, "queue", "chat", "housing", "the-group") == 2
    capsys.readouterr()
    assert await _admin(database_url, "queue", "list") == 0
    listing = capsys.readouterr().out
    assert "housing\tЖитлово-комунальне господарство\t-1001234567890" in listing
    assert "ecology\tЕкологія" in listing and "route\timprovement\t-> ecology" in listing
    assert "other\tІнше\t(operator chat)\tdisabled" in listing


async def test_calendar_changes_recompute_open_tickets(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Received Thursday 20 Aug 2026: under martial law 24 Aug (Independence Day, a Monday) is a
    # working day, so 5 working days end on Thursday 27 Aug.
    received = datetime(2026, 8, 20, 10, 0, tzinfo=KYIV).astimezone(UTC)
    async with sessionmaker() as session, session.begin():
        await ensure_holidays(session, years=[2026])
        for number, status in (("ЗІ-2026-000001", "new"), ("ЗІ-2026-000002", "closed")):
            session.add(
                Ticket(
                    number=number,
                    kind="info_request",
                    status=status,
                    channel="telegram",
                    queue_code="public_info",
                    received_at=received,
                    deadline_at=datetime(2026, 8, 27, 23, 59, 59, 999999, tzinfo=KYIV),
                    created_at=received,
                    updated_at=received,
                )
            )

    async def deadlines() -> dict[str, date]:
        async with sessionmaker() as session:
            found = (await session.scalars(select(Ticket))).all()
            return {t.number: t.deadline_at.astimezone(KYIV).date() for t in found if t.deadline_at}

    assert await _admin(database_url, "martial-law", "status") == 0
    assert "martial law: on" in capsys.readouterr().out
    assert await _admin(database_url, "martial-law", "off") == 0
    assert "open tickets with a new deadline: 1" in capsys.readouterr().out
    # Without martial law the holiday counts: Friday 28 Aug. Closed tickets keep theirs.
    assert await deadlines() == {
        "ЗІ-2026-000001": date(2026, 8, 28),
        "ЗІ-2026-000002": date(2026, 8, 27),
    }

    assert await _admin(database_url, "holiday", "add", "2026-08-25", "Test day") == 0
    assert await deadlines() == {
        "ЗІ-2026-000001": date(2026, 8, 31),
        "ЗІ-2026-000002": date(2026, 8, 27),
    }
    assert await _admin(database_url, "holiday", "remove", "2026-08-25") == 0
    assert await _admin(database_url, "holiday", "remove", "2026-08-25") == 1
    assert await _admin(database_url, "martial-law", "on") == 0
    assert (await deadlines())["ЗІ-2026-000001"] == date(2026, 8, 27)
    capsys.readouterr()
    assert await _admin(database_url, "holiday", "list", "--year", "2026") == 0
    assert "2026-08-24\tMon\tДень незалежності України" in capsys.readouterr().out
    async with sessionmaker() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert {"martial_law.off", "martial_law.on", "holiday.add", "holiday.remove"} <= set(actions)


async def test_broadcast_status_and_cancel(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        for index in range(4):
            session.add(
                Resident(
                    channel="telegram",
                    external_id=str(index),
                    language="uk",
                    consent_at=now,
                    district="city",
                    digest="instant",
                    subscribed=True,
                    is_active=True,
                    created_at=now,
                    last_seen_at=now,
                    topics=[ResidentTopic(topic="outages")],
                )
            )
        broadcast = await create_broadcast(session, text="Відключення", now=now, topics=["outages"])
    async with sessionmaker() as session, session.begin():
        assert await plan_broadcast(session, broadcast_id=broadcast.id, now=now) == 4
        first = (await session.scalars(select(Delivery).order_by(Delivery.id))).first()
        assert first is not None
        first.state, first.sent_at = "sent", now
    assert await _admin(database_url, "broadcast", "status") == 0
    line = capsys.readouterr().out
    assert f"#{broadcast.id} sending [" in line and "25%" in line and "left 3" in line
    assert await _admin(database_url, "broadcast", "cancel", str(broadcast.id)) == 0
    assert "3 pending deliveries cancelled" in capsys.readouterr().out
    assert await _admin(database_url, "broadcast", "status", str(broadcast.id)) == 0
    assert "cancelled 3 left 0" in capsys.readouterr().out
    assert await _admin(database_url, "broadcast", "status", "999") == 1
    assert await _admin(database_url, "broadcast", "cancel", "999") == 1


async def test_broadcast_cancel_stops_a_scheduled_one(
    database_url: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    capsys: pytest.CaptureFixture[str],
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(session, text="Завтра", now=now)
        broadcast.status, broadcast.scheduled_at = "scheduled", now + timedelta(hours=3)
    assert await _admin(database_url, "broadcast", "cancel", str(broadcast.id)) == 0
    capsys.readouterr()
    async with sessionmaker() as session:
        stored = await session.get(Broadcast, broadcast.id)
        assert stored is not None and stored.status == "cancelled"
        # The scheduler no longer starts it.
        assert (
            await plan_broadcast(
                session, broadcast_id=broadcast.id, now=now, statuses=("scheduled",)
            )
            is None
        )
