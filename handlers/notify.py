"""Messages to residents that no event of theirs caused: staff answers and status notices.

Chooses the resident's own messenger, and marks the resident blocked when the messenger says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.parts import patiently
from messaging.contract import ChannelError, RecipientBlocked, Reply, Sender, Sent
from storage import audit, linking
from storage.models import Resident
from storage.residents import mark_blocked
from storage.vocabulary import Clock

log = logging.getLogger(__name__)


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
    ) -> None:
        self._senders = senders
        # Viber shows the last keyboard sent: an answer without one would leave the resident
        # without their menu.
        self._keyboards = keyboards
        self._sessionmaker = sessionmaker
        self._clock = clock

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
        try:
            sent: list[Sent] = []
            # Message by message, waiting out short 429s: a long answer arrives whole.
            for part in sender.parts(reply):
                sent.append(
                    await patiently(lambda: sender.send(account.external_id, part))  # noqa: B023
                )
            assert sent
            return sent
        except RecipientBlocked as error:
            await self._mark_blocked(account.id)
            raise DeliveryFailed(str(error), blocked=True) from error
        except ChannelError as error:
            log.warning("could not notify resident %s: %s", resident.id, error)
            raise DeliveryFailed(str(error), blocked=False) from error

    async def _account(self, resident: Resident) -> Resident:
        """The messenger account to reach ``resident`` through (itself unless linked)."""
        async with self._sessionmaker() as session:
            primary = resident
            if resident.linked_to is not None:
                # An alias given: reach the person it belongs to.
                primary = await session.get(Resident, resident.linked_to) or resident
            return await linking.delivery_identity(session, primary)

    async def _mark_blocked(self, resident_id: int) -> None:
        now = self._clock()
        async with self._sessionmaker() as session, session.begin():
            resident = await session.get(Resident, resident_id)
            if resident is not None and resident.is_active:
                mark_blocked(resident, now=now)
                audit.record(
                    session,
                    actor=f"resident:{resident.id}",
                    action="resident.blocked",
                    now=now,
                    details={"detected": "notify"},
                )
