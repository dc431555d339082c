"""Staff repository."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Staff
from storage.vocabulary import Role


async def get_staff(session: AsyncSession, *, telegram_id: int) -> Staff | None:
    return await session.get(Staff, telegram_id)


async def upsert_staff(
    session: AsyncSession, *, telegram_id: int, role: Role, now: datetime, name: str | None = None
) -> tuple[Staff, bool]:
    """Add a staff member or change their role. Returns ``(staff, created)``."""
    staff = await session.get(Staff, telegram_id)
    if staff is None:
        staff = Staff(telegram_id=telegram_id, role=role.value, name=name, created_at=now)
        session.add(staff)
        await session.flush()
        return staff, True
    staff.role = role.value
    if name:
        staff.name = name
    return staff, False


async def remove_staff(session: AsyncSession, *, telegram_id: int) -> bool:
    staff = await session.get(Staff, telegram_id)
    if staff is None:
        return False
    await session.delete(staff)
    await session.flush()
    return True


async def list_staff(session: AsyncSession) -> Sequence[Staff]:
    result = await session.execute(select(Staff).order_by(Staff.role, Staff.telegram_id))
    return result.scalars().all()


async def ensure_admins(
    session: AsyncSession, *, telegram_ids: Iterable[int], now: datetime
) -> list[int]:
    """Make the configured CITYBOT_ADMIN_IDS administrators; returns the ids that changed."""
    changed: list[int] = []
    for telegram_id in telegram_ids:
        staff = await session.get(Staff, telegram_id)
        if staff is None or staff.role != Role.ADMIN:
            await upsert_staff(session, telegram_id=telegram_id, role=Role.ADMIN, now=now)
            changed.append(telegram_id)
    return changed
