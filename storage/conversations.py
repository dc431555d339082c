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
    return put_state(
        session, state, resident_id=resident_id, flow=flow, step=step, data=data, now=now
    )


def put_state(
    session: AsyncSession,
    state: ConversationState | None,
    *,
    resident_id: int,
    flow: str,
    step: str,
    data: dict[str, Any] | None,
    now: datetime,
) -> ConversationState:
    """Save the state over ``state``, the resident's state as loaded in this session (None:
    they had none) — no read of it again."""
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
    await drop_state(session, await session.get(ConversationState, resident_id))


async def drop_state(session: AsyncSession, state: ConversationState | None) -> None:
    """Delete ``state``, the resident's state as loaded in this session (None: nothing to do)."""
    if state is not None:
        await session.delete(state)
