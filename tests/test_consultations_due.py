"""A consultation's closing time comes: staff are told once in the operator chat (a second run,
or a second process, tells nobody again), only of open consultations past their time; on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broadcasts.consultations import ClosingReminder
from messaging.i18n import Catalog
from storage import consultations
from storage.consultations import ConsultationStatus

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
CHAT = -100123


class Recording:
    def __init__(self) -> None:
        self.posts: list[tuple[int, str]] = []

    async def post(self, chat_id: int, text: str, *, button: tuple[str, str] | None = None) -> None:
        assert button is None
        self.posts.append((chat_id, text))


async def _add(
    sessionmaker: async_sessionmaker[AsyncSession], title: str, closes: datetime, status: str
) -> int:
    async with sessionmaker() as session, session.begin():
        consultation = consultations.new_draft(
            session, created_by=None, now=NOW - timedelta(days=7)
        )
        consultation.title, consultation.summary = title, "Опис"
        consultation.topic, consultation.districts = "decisions", []
        consultation.opens_at, consultation.closes_at = NOW - timedelta(days=7), closes
        consultation.status = status
        await session.flush()
        return consultation.id


async def test_staff_are_told_once_of_each_consultation_due(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    due = await _add(sessionmaker, "Правила <b>благоустрою</b>", NOW, ConsultationStatus.OPEN)
    await _add(sessionmaker, "Ще триває", NOW + timedelta(minutes=1), ConsultationStatus.OPEN)
    await _add(sessionmaker, "Чернетка", NOW - timedelta(days=1), ConsultationStatus.DRAFT)
    await _add(sessionmaker, "Закрите", NOW - timedelta(days=1), ConsultationStatus.CLOSED)
    poster = Recording()
    reminder = ClosingReminder(
        sessionmaker=sessionmaker,
        catalog=Catalog.load(),
        clock=lambda: NOW,
        poster=poster,
        chat_id=CHAT,
        language="uk",
    )
    assert await reminder.run() == 1
    ((chat_id, text),) = poster.posts
    assert chat_id == CHAT and f"/consult close {due}" in text
    assert "Правила &lt;b&gt;благоустрою&lt;/b&gt;" in text
    assert await reminder.run() == 0
    assert len(poster.posts) == 1
