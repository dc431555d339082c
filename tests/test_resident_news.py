"""``/news`` and the menu's News button, in Telegram (polling and webhook) and Viber, on SQLite
and PostgreSQL: the latest matching news, newest first, dated in Kyiv time, escaped, packed into
messages at the platform limit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.actions import PUBLIC_COMMANDS
from handlers.news import PACK_LIMIT, pack
from storage.broadcasts import BroadcastKind, BroadcastStatus, create_broadcast
from storage.models import Broadcast, Resident, ResidentTopic
from tests.harness import WORLDS, Resident_, find_resident, onboard

pytestmark = pytest.mark.migrated_database

KYIV = ZoneInfo("Europe/Kyiv")


async def publish(
    sessionmaker: async_sessionmaker[AsyncSession],
    text: str,
    at: datetime,
    *,
    topics: Sequence[str] = (),
    districts: Sequence[str] = (),
    urgent: bool = False,
    status: str = BroadcastStatus.FINISHED.value,
    kind: str = BroadcastKind.NEWS.value,
) -> None:
    """A news item as the composer leaves it once sent (no deliveries: nothing is pushed)."""
    async with sessionmaker() as session, session.begin():
        broadcast = await create_broadcast(
            session, text=text, topics=topics, districts=districts, urgent=urgent, now=at
        )
        await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast.id)
            .values(status=status, kind=kind, started_at=at)
        )


async def narrow_to_outages_in_pokrovskyi(
    sessionmaker: async_sessionmaker[AsyncSession], r: Resident_
) -> None:
    resident = await find_resident(sessionmaker, r.channel, r.external_id)
    assert resident is not None
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(ResidentTopic).where(ResidentTopic.resident_id == resident.id))
        session.add(ResidentTopic(resident_id=resident.id, topic="outages"))
        await session.execute(
            update(Resident).where(Resident.id == resident.id).values(district="pokrovskyi")
        )


async def answer(r: Resident_, action: str) -> list[str]:
    """What the bot answered to a command (``/news``) or a button label."""
    before = len(r.texts())
    if action.startswith("/"):
        await r.command(action[1:])
    else:
        await r.press(action)
    return r.texts()[before:]


def kyiv_time(moment: datetime) -> str:
    return moment.astimezone(KYIV).strftime("%d.%m.%Y %H:%M")


@pytest.mark.parametrize("world_name", list(WORLDS))
async def test_latest_news_in_both_messengers(world_name: str, database_url: str) -> None:
    async with WORLDS[world_name](database_url) as world, world.restart() as sessionmaker:
        r = world.resident
        await onboard(r)
        await narrow_to_outages_in_pokrovskyi(sessionmaker, r)

        (empty,) = await answer(r, "/news")
        assert "Поки що немає новин" in empty
        assert "📰 Новини" in r.labels()

        now = datetime.now(UTC).replace(second=0, microsecond=0)
        ago = {minutes: now - timedelta(minutes=minutes) for minutes in range(0, 200, 10)}
        await publish(
            sessionmaker,
            "Відключення води &lt;вул. Шевченка&gt; &amp; сусідні",
            ago[90],
            topics=["outages"],
            districts=["pokrovskyi"],
        )
        await publish(sessionmaker, "Концерт", ago[80], topics=["events"])
        await publish(
            sessionmaker,
            "Ремонт у Тернівському",
            ago[70],
            topics=["outages"],
            districts=["ternivskyi"],
        )
        await publish(sessionmaker, "<b>Рішення</b> сесії", ago[60])
        await publish(sessionmaker, "Аварія теплотраси", ago[50], topics=["outages"], urgent=True)
        await publish(sessionmaker, "Скасована", ago[40], status=BroadcastStatus.CANCELLED.value)
        await publish(sessionmaker, "Чернетка", ago[30], status=BroadcastStatus.DRAFT.value)
        await publish(sessionmaker, "Дайджест", ago[20], kind=BroadcastKind.DIGEST.value)
        await publish(
            sessionmaker, "Ще триває розсилка", ago[10], status=BroadcastStatus.SENDING.value
        )

        (listing,) = await answer(r, "/news")
        assert listing.startswith("📰 Останні новини")
        shown = ["Ще триває розсилка", "Аварія теплотраси", "Рішення сесії", "Відключення"]
        positions = [listing.index(text) for text in shown]
        assert positions == sorted(positions), "newest first"
        for hidden in ("Концерт", "Тернівському", "Скасована", "Чернетка", "Дайджест"):
            assert hidden not in listing
        # Markup rendered, people's text shown as typed, Kyiv time, the urgent mark.
        assert "Відключення води <вул. Шевченка> & сусідні" in listing
        assert "<b>" not in listing
        assert kyiv_time(ago[90]) in listing and kyiv_time(ago[60]) in listing
        assert f"{kyiv_time(ago[50])} · ⚠️ терміново" in listing
        assert "📰 Новини" in r.labels()

        # The menu button gives the same.
        (pressed,) = await answer(r, "📰 Новини")
        assert pressed == listing

        # At most five items; long ones packed into several messages, none cut in two.
        long_text = "Довга новина про відключення. " * 60
        for index in range(6):
            await publish(sessionmaker, f"№{index} {long_text}", ago[0] + timedelta(seconds=index))
        parts = await answer(r, "/news")
        assert len(parts) >= 2
        joined = "\n".join(parts)
        assert [f"№{index}" in joined for index in range(6)] == [False] + [True] * 5
        assert all(part.count("№") == part.count(long_text.strip()) for part in parts)
        assert all(len(part) <= 4096 for part in parts)
        assert "📰 Новини" in r.labels()


def test_the_command_is_in_the_menu() -> None:
    assert ("news", "command.news") in PUBLIC_COMMANDS


def test_packing_keeps_paragraphs_whole() -> None:
    assert pack(["a", "b"]) == ["a\n\nb"]
    big = "x" * (PACK_LIMIT - 5)
    assert pack(["title", big, "tail"]) == ["title", big, "tail"]
    assert pack([big + big]) == [big + big]
    assert pack(["a" * 10, "b" * 10], limit=22) == ["a" * 10 + "\n\n" + "b" * 10]
    assert pack(["a" * 10, "b" * 11], limit=22) == ["a" * 10, "b" * 11]
