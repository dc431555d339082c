"""Seeded residents, tickets and broadcasts for the analytics tests (straight into the database;
the resident flows are tested on their own)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Broadcast, Delivery, Resident, ResidentTopic, Ticket

# A Wednesday noon in Kyiv (10:00 UTC): the injected "now" of the analytics tests.
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
_numbers = itertools.count(1)
_externals = itertools.count(900001)


@dataclass
class Seed:
    sessionmaker: async_sessionmaker[AsyncSession]

    async def resident(
        self,
        *,
        channel: str = "telegram",
        district: str | None = "ternivskyi",
        topics: tuple[str, ...] = ("city_news",),
        created_at: datetime = NOW - timedelta(days=100),
        active: bool = True,
        blocked_at: datetime | None = None,
        name: str | None = "Оксана Петренко",
    ) -> int:
        async with self.sessionmaker() as session, session.begin():
            resident = Resident(
                channel=channel,
                external_id=str(next(_externals)),
                name=name,
                language="uk",
                district=district,
                is_active=active,
                blocked_at=blocked_at,
                created_at=created_at,
                last_seen_at=created_at,
                consent_at=created_at,
            )
            resident.topics = [ResidentTopic(topic=t) for t in topics]
            session.add(resident)
            await session.flush()
            return resident.id

    async def ticket(
        self,
        *,
        resident_id: int | None = None,
        kind: str = "appeal",
        status: str = "new",
        category: str | None = "housing",
        queue: str = "housing",
        received_at: datetime = NOW - timedelta(days=2),
        deadline_at: datetime | None = None,
        first_answer_after: timedelta | None = None,
        closed_after: timedelta | None = None,
        rating: int | None = None,
        body: str | None = "Не працює ліфт у під'їзді",
        full_name: str | None = "Оксана Петренко",
        contact: str | None = "oksana@example.com",
        address: str | None = "вул. Соборності, 1",
    ) -> tuple[int, str]:
        number = f"ЗВ-2026-{next(_numbers):06d}"
        async with self.sessionmaker() as session, session.begin():
            ticket = Ticket(
                number=number,
                kind=kind,
                status=status,
                resident_id=resident_id,
                channel="telegram",
                queue_code=queue,
                category=category,
                full_name=full_name,
                contact=contact,
                address=address,
                body=body,
                received_at=received_at,
                deadline_at=deadline_at or received_at + timedelta(days=15),
                first_answer_at=received_at + first_answer_after if first_answer_after else None,
                closed_at=received_at + closed_after if closed_after else None,
                rating=rating,
                created_at=received_at,
                updated_at=received_at,
            )
            session.add(ticket)
            await session.flush()
            return ticket.id, number

    async def broadcast(
        self, *, states: dict[str, int], started_at: datetime = NOW - timedelta(days=1)
    ) -> int:
        async with self.sessionmaker() as session, session.begin():
            broadcast = Broadcast(
                kind="news",
                title="Відключення води",
                text="Завтра відключення води в Тернівському районі",
                status="finished",
                created_at=started_at,
                started_at=started_at,
            )
            session.add(broadcast)
            await session.flush()
            n = 0
            for state, count in states.items():
                for _ in range(count):
                    n += 1
                    session.add(
                        Delivery(
                            broadcast_id=broadcast.id,
                            resident_id=None,
                            channel="telegram",
                            external_id=f"{broadcast.id}-{n}",
                            state=state,
                            next_attempt_at=started_at,
                        )
                    )
            return broadcast.id
