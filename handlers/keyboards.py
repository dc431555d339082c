"""The keyboard a resident should have now, for messages no event of theirs caused (broadcasts,
staff answers, notices), in messengers that show the last keyboard sent (Viber).

Viber's keyboards guide: "The client will always display the last keyboard that was sent to
it." A keyboard travels with a message, so a message without one cannot put the main menu back,
and a poll's option buttons would stay the resident's keyboard. Every message to a Viber resident
therefore carries the keyboard of that moment: their open flow's current buttons, else the main
menu in their language (``Conversation.keyboard``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.conversation import KEYBOARD_CHANNELS, Conversation
from messaging.contract import Keyboard, Reply, with_keyboard
from storage.models import ConversationState, Resident
from storage.vocabulary import Clock

# Residents looked up per query (a claimed Viber batch is 1,500).
LOOKUP_CHUNK = 500


class ResidentKeyboards:
    def __init__(
        self,
        *,
        conversation: Conversation,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
    ) -> None:
        self._conversation = conversation
        self._sessionmaker = sessionmaker
        self._clock = clock

    async def for_residents(self, resident_ids: Iterable[int]) -> dict[int, Keyboard]:
        """Each resident's keyboard now, by resident id (residents without one are left out)."""
        ids = sorted(set(resident_ids))
        found: dict[int, Keyboard] = {}
        if not ids:
            return found
        now = self._clock()
        async with self._sessionmaker() as session:
            for start in range(0, len(ids), LOOKUP_CHUNK):
                found.update(await self._lookup(session, ids[start : start + LOOKUP_CHUNK], now))
        return found

    async def _lookup(
        self, session: AsyncSession, ids: Collection[int], now: datetime
    ) -> dict[int, Keyboard]:
        residents = (await session.scalars(select(Resident).where(Resident.id.in_(ids)))).all()
        states = {
            state.resident_id: state
            for state in (
                await session.scalars(
                    select(ConversationState).where(ConversationState.resident_id.in_(ids))
                )
            ).all()
        }
        found: dict[int, Keyboard] = {}
        for resident in residents:
            keyboard = self._conversation.keyboard(
                session, resident, states.get(resident.id), now=now
            )
            if keyboard:
                found[resident.id] = keyboard
        return found

    async def attach(
        self, resident: Resident, reply: Reply, *, channel: str | None = None
    ) -> Reply:
        """``reply`` with the resident's keyboard, in the messengers that need it (``channel``:
        where it is sent, when not the resident's own — a linked person's other messenger)."""
        if (channel or resident.channel) not in KEYBOARD_CHANNELS:
            return reply
        keyboard = (await self.for_residents([resident.id])).get(resident.id, ())
        return with_keyboard(reply, keyboard)
