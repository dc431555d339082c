"""Tickets and residents for the desk's queue and dashboard tests, written through the ORM (so
the mapper events keep the folded search text, as in the bot)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from storage.calendar import WorkCalendar
from storage.models import Ticket
from tests.stats_seed import Seed

# Wednesday 25 November 2026, 12:00 in Kyiv.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
KYIV = ZoneInfo("Europe/Kyiv")
CALENDAR = WorkCalendar(holidays=frozenset(), martial_law=True)
_serials = itertools.count(1)


class DeskSeed(Seed):
    """The analytics seed's residents, and tickets with the columns the desk filters on."""

    async def filed(
        self,
        *,
        resident_id: int | None = None,
        queue: str = "housing",
        kind: str = "appeal",
        status: str = "new",
        category: str | None = "housing",
        channel: str = "telegram",
        assignee_id: int | None = None,
        received_at: datetime = NOW - timedelta(days=2),
        deadline_at: datetime | None = NOW + timedelta(days=10),
        first_answer_after: timedelta | None = None,
        closed_after: timedelta | None = None,
        rating: int | None = None,
        full_name: str | None = None,
        subject: str | None = None,
        body: str | None = "Не працює ліфт",
        anonymous: bool = False,
        prefix: str = "ЗВ",
    ) -> Ticket:
        number = f"{prefix}-2026-{next(_serials):06d}"
        async with self.sessionmaker() as session, session.begin():
            ticket = Ticket(
                number=number,
                kind=kind,
                status=status,
                resident_id=resident_id,
                channel=channel,
                queue_code=queue,
                category=category,
                assignee_id=assignee_id,
                anonymous=anonymous,
                full_name=full_name,
                subject=subject,
                body=body,
                received_at=received_at,
                deadline_at=deadline_at,
                first_answer_at=received_at + first_answer_after if first_answer_after else None,
                closed_at=received_at + closed_after if closed_after else None,
                rating=rating,
                created_at=received_at,
                updated_at=received_at,
            )
            session.add(ticket)
            await session.flush()
            return ticket
