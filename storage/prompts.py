"""Questions the staff composers (news, polls) asked in a staff chat with ForceReply.

Each composer keeps its own table (its prompts point at its own rows, with their cascades); how a
prompt is found and answered once is the same for both, so it lives here."""

from __future__ import annotations

from datetime import datetime
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import NewsPrompt, PollPrompt

Prompt = TypeVar("Prompt", NewsPrompt, PollPrompt)


async def find(
    session: AsyncSession, model: type[Prompt], *, chat_id: int, message_id: int
) -> Prompt | None:
    # populate_existing: another process may have answered it since this session read it.
    return await session.get(model, (chat_id, message_id), populate_existing=True)


async def close(
    session: AsyncSession, model: type[Prompt], *, chat_id: int, message_id: int, now: datetime
) -> bool:
    """Mark the prompt answered; False if it already was (a second answer is refused)."""
    result = await session.execute(
        update(model)
        .where(model.chat_id == chat_id, model.message_id == message_id, model.done_at.is_(None))
        .values(done_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
