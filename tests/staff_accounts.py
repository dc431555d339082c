"""Staff accounts for tests, as migration 0016 made them of staff who existed before the web
desk: the Telegram id is also the account id, so tests name staff by one number."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Department, Staff
from storage.staff import set_departments
from storage.vocabulary import Role


async def add_staff(
    session: AsyncSession,
    telegram_id: int,
    role: Role,
    *,
    now: datetime,
    departments: Collection[str] | None = None,
    name: str | None = None,
) -> Staff:
    """An account with id and Telegram id ``telegram_id`` (login ``tg<id>``), working in
    ``departments`` (None: every department)."""
    staff = Staff(
        id=telegram_id,
        login=f"tg{telegram_id}",
        name=name,
        role=role.value,
        telegram_id=telegram_id,
        language="uk",
        created_at=now,
    )
    session.add(staff)
    await session.flush()
    codes = (await session.scalars(select(Department.code))).all()
    await set_departments(session, staff, codes if departments is None else departments)
    return staff
