"""Who a Telegram user is to the staff core: the chat desk finds a staff account by the
user's Telegram id (accounts are keyed by their own id since the web desk, issue 15)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.staff.core import Actor, Desk
from storage.models import Staff
from storage.staff import get_staff


async def actor_of(session: AsyncSession, telegram_id: int) -> tuple[Actor, Staff | None]:
    """The actor for a Telegram user, and their enabled account (None: not staff, and the
    core refuses the actor)."""
    staff = await get_staff(session, telegram_id=telegram_id)
    if staff is None:
        return Actor(None, desk=Desk.TELEGRAM, telegram_id=telegram_id), None
    return Actor.of(staff), staff


def telegram_id_of(staff: Staff) -> int:
    """The Telegram id of staff acting in the chat desk (which found them by it): prompts are
    matched to their replies by it."""
    if staff.telegram_id is None:
        raise ValueError(f"staff account {staff.id} has no Telegram id")
    return staff.telegram_id
