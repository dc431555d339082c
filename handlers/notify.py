"""Messages to residents that no event of theirs caused: staff answers and status notices.

Chooses the resident's own messenger and gives the message the resident's keyboard; sending (and
marking a resident who blocked the bot) is ``handlers.sending``'s, as for every reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.owed import Owed
from handlers.sending import ReplySender
from messaging.contract import Reply, Sender, Sent
from storage import linking
from storage.models import Resident
from storage.vocabulary import Clock


class DeliveryFailed(Exception):
    """The resident could not be reached; ``reason`` is shown to staff."""

    def __init__(self, reason: str, *, blocked: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blocked = blocked


class Keyboards(Protocol):
    """Gives a message the keyboard the resident should have (``handlers.keyboards``)."""

    async def attach(
        self, resident: Resident, reply: Reply, *, channel: str | None = None
    ) -> Reply: ...


class Notifier:
    def __init__(
        self,
        *,
        senders: Mapping[str, Sender],
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        keyboards: Keyboards | None = None,
        replies: ReplySender | None = None,
    ) -> None:
        """``replies``: sends, and marks a resident who blocked the bot (``handlers.sending``;
        the composition root passes the one the pipeline and the owed-replies job share)."""
        self._senders = senders
        self._replies = replies or ReplySender(sessionmaker=sessionmaker, clock=clock)
        # Viber shows the last keyboard sent: an answer without one would leave the resident
        # without their menu.
        self._keyboards = keyboards
        self._sessionmaker = sessionmaker

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self._senders)

    async def send(self, resident: Resident, reply: Reply) -> Sent:
        """Send ``reply`` to the resident's messenger — for a person linked in both, the one
        they prefer (``storage.linking``) — or raise DeliveryFailed."""
        return (await self.send_all(resident, reply))[-1]

    async def send_all(self, resident: Resident, reply: Reply) -> list[Sent]:
        """As ``send``; every message ``reply`` went out as (a long one is several), in order."""
        account = await self._account(resident)
        sender = self._senders.get(account.channel)
        if sender is None:
            raise DeliveryFailed(f"channel {account.channel} is not configured", blocked=False)
        if self._keyboards is not None:
            reply = await self._keyboards.attach(resident, reply, channel=account.channel)
        notice = Owed(channel=account.channel, recipient=account.external_id, replies=(reply,))
        delivered = await self._replies.deliver(sender, notice, detected="notify")
        if delivered.failure is not None:
            raise DeliveryFailed(
                str(delivered.failure), blocked=delivered.blocked
            ) from delivered.failure
        assert delivered.receipts
        return list(delivered.receipts)

    async def _account(self, resident: Resident) -> Resident:
        """The messenger account to reach ``resident`` through (itself unless linked)."""
        async with self._sessionmaker() as session:
            primary = resident
            if resident.linked_to is not None:
                # An alias given: reach the person it belongs to.
                primary = await session.get(Resident, resident.linked_to) or resident
            return await linking.delivery_identity(session, primary)
