"""The working-day calendar as data: the holiday list and the martial-law switch live in the
database, and a change to either recomputes the deadlines of open tickets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.calendar import WorkCalendar, statutory_holidays
from storage.deadlines import AppealTerm, recompute
from storage.models import AppSetting, Holiday
from storage.tickets import open_tickets

MARTIAL_LAW_KEY = "martial_law"


async def load_calendar(session: AsyncSession) -> WorkCalendar:
    days = (await session.scalars(select(Holiday.day))).all()
    setting = await session.get(AppSetting, MARTIAL_LAW_KEY)
    # Martial law is in force (Law 2136-IX) unless an administrator switched it off.
    martial_law = bool(setting.value.get("on", True)) if setting else True
    return WorkCalendar(holidays=frozenset(days), martial_law=martial_law)


async def ensure_holidays(session: AsyncSession, *, years: Iterable[int]) -> int:
    """Seed the statutory holidays of ``years`` if the list is empty; returns how many."""
    if await session.scalar(select(func.count()).select_from(Holiday)):
        return 0
    added = 0
    for year in years:
        for day, name in statutory_holidays(year).items():
            session.add(Holiday(day=day, name=name))
            added += 1
    await session.flush()
    return added


async def list_holidays(session: AsyncSession, *, year: int | None = None) -> Sequence[Holiday]:
    query = select(Holiday).order_by(Holiday.day)
    if year is not None:
        query = query.where(Holiday.day >= date(year, 1, 1), Holiday.day <= date(year, 12, 31))
    return (await session.scalars(query)).all()


async def add_holiday(session: AsyncSession, *, day: date, name: str) -> bool:
    existing = await session.get(Holiday, day)
    if existing is not None:
        existing.name = name
        return False
    session.add(Holiday(day=day, name=name))
    await session.flush()
    return True


async def remove_holiday(session: AsyncSession, *, day: date) -> bool:
    existing = await session.get(Holiday, day)
    if existing is None:
        return False
    await session.delete(existing)
    await session.flush()
    return True


async def set_martial_law(session: AsyncSession, *, on: bool) -> None:
    setting = await session.get(AppSetting, MARTIAL_LAW_KEY)
    if setting is None:
        session.add(AppSetting(key=MARTIAL_LAW_KEY, value={"on": on}))
    else:
        setting.value = {"on": on}
    await session.flush()


async def recompute_open_deadlines(
    session: AsyncSession, *, zone: ZoneInfo, feedback_days: int, legal_aid_days: int
) -> int:
    """Apply the current calendar to every open ticket; returns how many deadlines moved."""
    calendar = await load_calendar(session)
    changed = 0
    for ticket in await open_tickets(session):
        deadline = recompute(
            ticket.kind,
            ticket.received_at,
            calendar=calendar,
            zone=zone,
            urgent=ticket.urgent,
            appeal_term=ticket.appeal_term or AppealTerm.STANDARD,
            extended=ticket.extended_at is not None,
            feedback_days=feedback_days,
            legal_aid_days=legal_aid_days,
        )
        if deadline != ticket.deadline_at:
            ticket.deadline_at = deadline
            changed += 1
    await session.flush()
    return changed
