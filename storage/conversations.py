"""Conversation state per resident."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationState


async def load_state(session: AsyncSession, *, resident_id: int) -> ConversationState | None:
    return await session.get(ConversationState, resident_id)


async def save_state(
    session: AsyncSession,
    *,
    resident_id: int,
    flow: str,
    step: str,
    data: dict[str, Any] | None,
    now: datetime,
) -> ConversationState:
    state = await session.get(ConversationState, resident_id)
    if state is None:
        state = ConversationState(resident_id=resident_id, flow=flow, step=step, updated_at=now)
        session.add(state)
    state.flow = flow
    state.step = step
    # A new dict, so SQLAlchemy sees the change to the JSON column.
    state.data = dict(data or {})
    state.updated_at = now
    return state


async def clear_state(session: AsyncSession, *, resident_id: int) -> None:
    state = await session.get(ConversationState, resident_id)
    if state is not None:
        await session.delete(state)
