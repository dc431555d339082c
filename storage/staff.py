"""Staff accounts: added, found, changed and disabled. Signing in (passwords, second factor,
sessions) is ``storage.staff_auth``'s."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Department, Staff, StaffDepartment
from storage.vocabulary import Role

# Logins: lower-case Latin letters, digits, dot, dash and underscore; what a council's IT would
# use for an e-mail's local part.
LOGIN = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
NAME_MAX = 256


class AccountProblem(StrEnum):
    BAD_LOGIN = "bad_login"
    LOGIN_TAKEN = "login_taken"
    TELEGRAM_TAKEN = "telegram_taken"
    UNKNOWN_DEPARTMENT = "unknown_department"


class AccountError(Exception):
    """An account change refused: ``problem``, and the value it is about."""

    def __init__(self, problem: AccountProblem, value: str) -> None:
        super().__init__(f"{problem.value}: {value}")
        self.problem = problem
        self.value = value


def normal_login(login: str) -> str:
    return login.strip().lower()


async def get_staff(session: AsyncSession, *, telegram_id: int) -> Staff | None:
    """The enabled account whose Telegram id this is (the chat desk's identity)."""
    query = select(Staff).where(Staff.telegram_id == telegram_id, Staff.disabled_at.is_(None))
    return (await session.scalars(query)).first()


async def get_by_login(session: AsyncSession, login: str) -> Staff | None:
    query = select(Staff).where(Staff.login == normal_login(login))
    return (await session.scalars(query)).first()


async def add_account(
    session: AsyncSession,
    *,
    login: str,
    role: Role,
    now: datetime,
    name: str | None = None,
    telegram_id: int | None = None,
    departments: Collection[str] = (),
) -> Staff:
    """A new account (no password yet: an invitation sets it). Raises ``AccountError`` for a
    login that is malformed or taken, a Telegram id another account has, an unknown department."""
    login = normal_login(login)
    if not LOGIN.fullmatch(login):
        raise AccountError(AccountProblem.BAD_LOGIN, login)
    if await get_by_login(session, login) is not None:
        raise AccountError(AccountProblem.LOGIN_TAKEN, login)
    if telegram_id is not None:
        taken = await session.scalar(select(Staff.id).where(Staff.telegram_id == telegram_id))
        if taken is not None:
            raise AccountError(AccountProblem.TELEGRAM_TAKEN, str(telegram_id))
    await _check_departments(session, departments)
    staff = Staff(
        login=login,
        role=role.value,
        name=(name or "").strip()[:NAME_MAX] or None,
        telegram_id=telegram_id,
        language="uk",
        created_at=now,
        departments=[StaffDepartment(queue_code=code) for code in dict.fromkeys(departments)],
    )
    session.add(staff)
    await session.flush()
    return staff


async def set_departments(session: AsyncSession, staff: Staff, codes: Collection[str]) -> None:
    """Replace the departments ``staff`` works in; raises ``AccountError`` for an unknown code."""
    await _check_departments(session, codes)
    await session.refresh(staff, attribute_names=["departments"])
    staff.departments = [StaffDepartment(queue_code=code) for code in dict.fromkeys(codes)]
    await session.flush()


async def _check_departments(session: AsyncSession, codes: Collection[str]) -> None:
    known = set((await session.scalars(select(Department.code))).all())
    for code in codes:
        if code not in known:
            raise AccountError(AccountProblem.UNKNOWN_DEPARTMENT, code)


async def upsert_telegram_staff(
    session: AsyncSession, *, telegram_id: int, role: Role, now: datetime, name: str | None = None
) -> tuple[Staff, bool]:
    """The account of a Telegram user, made (login ``tg<id>``, every department) or given
    ``role``: how configured administrators and the sandbox's staff are kept. Returns
    ``(staff, created)``."""
    staff = (await session.scalars(select(Staff).where(Staff.telegram_id == telegram_id))).first()
    if staff is None:
        every = (await session.scalars(select(Department.code))).all()
        staff = await add_account(
            session,
            login=f"tg{telegram_id}",
            role=role,
            now=now,
            name=name,
            telegram_id=telegram_id,
            departments=every,
        )
        return staff, True
    staff.role = role.value
    staff.disabled_at = None
    if name:
        staff.name = name[:NAME_MAX]
    return staff, False


async def list_staff(session: AsyncSession) -> Sequence[Staff]:
    result = await session.execute(select(Staff).order_by(Staff.role, Staff.login))
    return result.scalars().all()


async def ensure_admins(
    session: AsyncSession, *, telegram_ids: Iterable[int], now: datetime
) -> list[Staff]:
    """Make the configured CITYBOT_ADMIN_IDS administrators; returns the accounts changed."""
    changed: list[Staff] = []
    for telegram_id in telegram_ids:
        staff = await get_staff(session, telegram_id=telegram_id)
        if staff is None or staff.role != Role.ADMIN:
            account, _ = await upsert_telegram_staff(
                session, telegram_id=telegram_id, role=Role.ADMIN, now=now
            )
            changed.append(account)
    return changed
