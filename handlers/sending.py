"""Sending to residents after the commit, written once for all who do it: the pipeline's replies,
the owed-replies job (``send_owed``) and the notices no event of the resident caused (staff
answers, link notices: ``handlers.notify``).

Message by message (a long reply is several), short 429s waited out (``handlers.parts``), stopping
at the first failure: later messages usually depend on the earlier ones. A messenger that says the
resident blocked the bot gets their account marked blocked and audited here, and only here
(``storage.residents.record_blocked``). What failed for now stays owed on the update's claim for
the owed-replies job; what went out is recorded as sent (``handlers.owed.Settler``), so a
recovered update is not answered twice.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.owed import (
    OWED_AFTER,
    OWED_BATCH,
    OWED_GIVE_UP,
    Owed,
    Settler,
    owed_from_json,
    owed_to_json,
)
from handlers.parts import patiently
from messaging.contract import (
    ChannelError,
    RecipientBlocked,
    Reply,
    Sender,
    Sent,
    TransientChannelError,
)
from storage import dedup
from storage.errors import TRY_AGAIN_LATER
from storage.residents import get_resident, record_blocked
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

# An update's claim: (channel, update key).
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Delivered:
    """What ``ReplySender.deliver`` did: the messages that went out (in order), those worth
    trying again later (None: all sent, or the rest can never be sent), and the failure that
    stopped it (None: all sent)."""

    receipts: tuple[Sent, ...] = ()
    unsent: Owed | None = None
    failure: ChannelError | None = None

    @property
    def sent(self) -> int:
        return len(self.receipts)

    @property
    def blocked(self) -> bool:
        return isinstance(self.failure, RecipientBlocked)


class ReplySender:
    """Delivers messages to one resident account at a time, and keeps the books: blocked
    residents, replies still owed, replies sent."""

    def __init__(self, *, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._settler = Settler(sessionmaker)

    async def deliver(self, sender: Sender, owed: Owed, *, detected: str = "send") -> Delivered:
        """Send ``owed`` message by message. ``detected`` names, in the audit of a resident
        found blocked, what was being sent ("send": replies, "notify": a notice)."""
        messages = [part for reply in owed.replies for part in sender.parts(reply)]
        receipts: list[Sent] = []
        for index, message in enumerate(messages):
            try:
                receipts.append(await self._send_one(sender, owed, message))
            except RecipientBlocked as error:
                await self._mark_blocked(owed, detected)
                return Delivered(tuple(receipts), failure=error)
            except TransientChannelError as error:
                log.warning("could not send to %s:%s now: %s", owed.channel, owed.recipient, error)
                unsent = dataclasses.replace(owed, replies=tuple(messages[index:]))
                return Delivered(tuple(receipts), unsent=unsent, failure=error)
            except ChannelError as error:
                log.warning("could not send to %s:%s: %s", owed.channel, owed.recipient, error)
                return Delivered(tuple(receipts), failure=error)
        return Delivered(tuple(receipts))

    async def deliver_owed(
        self, sender: Sender, owed: Owed, key: Key, *, at_once: bool = False
    ) -> Delivered:
        """Send the replies owed for the update ``key``, then keep owed what failed for now, or
        record that nothing is owed any more (sent, or never sendable: blocked, refused).

        ``at_once``: recorded now rather than in the next batch (the owed-replies job: a crash
        of the job sends at most one update's replies twice)."""
        delivered = await self.deliver(sender, owed)
        if delivered.unsent is not None:
            # The messenger failed for now (a long 429, an outage): the owed-replies job tries
            # again in a few minutes.
            await self.keep_owed(key, delivered.unsent)
        elif at_once:
            await settle(self._sessionmaker, key)
        else:
            self._settler.done(key)
        return delivered

    async def keep_owed(self, key: Key, unsent: Owed) -> None:
        """Keep owed, for the update ``key``, only the messages not sent yet."""
        try:
            async with self._sessionmaker() as session, session.begin():
                await dedup.owe(
                    session, channel=key[0], update_key=key[1], owed=owed_to_json(unsent)
                )
        except TRY_AGAIN_LATER as error:
            # All of them stay owed: the ones already sent go again (at least once).
            log.warning("could not record the replies sent for %s: %s", key, error)

    async def close(self) -> None:
        """Record what was sent before the process stops (see ``Settler``)."""
        await self._settler.close()

    async def _send_one(self, sender: Sender, owed: Owed, reply: Reply) -> Sent:
        """One message; short 429s are waited out here, so the resident gets a long reply
        within seconds and in order, not its tail minutes later from the job."""
        if reply.replace and owed.source_message_id:
            source = owed.source_message_id
            return await patiently(lambda: sender.edit(owed.recipient, source, reply))
        return await patiently(lambda: sender.send(owed.recipient, reply))

    async def _mark_blocked(self, owed: Owed, detected: str) -> None:
        async with self._sessionmaker() as session, session.begin():
            account = await get_resident(session, channel=owed.channel, external_id=owed.recipient)
            if account is not None:
                record_blocked(session, account, now=self._clock(), detected=detected)


async def settle(sessionmaker: async_sessionmaker[AsyncSession], key: Key) -> None:
    """Nothing is owed for the update ``key`` any more."""
    async with sessionmaker() as session, session.begin():
        await dedup.settle(session, keys=[key])


async def send_owed(
    sessionmaker: async_sessionmaker[AsyncSession],
    senders: Mapping[str, Sender],
    replies: ReplySender,
    *,
    clock: Clock,
) -> int:
    """The owed-replies job: send the replies a stopped process left owed (oldest first);
    returns how many messages went out.

    Each update's replies are recorded as sent right after they went out, one update at a time:
    a crash here sends at most one update's replies twice."""
    try:
        async with sessionmaker() as session:
            rows = await dedup.owed_since_before(
                session, before=clock() - OWED_AFTER, limit=OWED_BATCH
            )
    except TRY_AGAIN_LATER as error:
        log.warning("owed replies not sent now, database unavailable: %s", error)
        return 0
    sent = 0
    now = clock()
    for channel, update_key, processed_at, data in rows:
        key = (channel, update_key)
        sender = senders.get(channel)
        owed = _sendable(key, sender, processed_at, data, now=now)
        if sender is None or owed is None:
            # Never sendable: dropped (and said why), not retried forever.
            await settle(sessionmaker, key)
            continue
        sent += (await replies.deliver_owed(sender, owed, key, at_once=True)).sent
    if rows:
        log.info("sent %d owed replies of %d updates left by a stopped process", sent, len(rows))
    return sent


def _sendable(
    key: Key, sender: Sender | None, processed_at: datetime, data: Any, *, now: datetime
) -> Owed | None:
    """The replies owed for ``key``, or None (logged) when they can no longer be sent."""
    channel, update_key = key
    if sender is None:
        log.warning("replies owed on %s, which is not configured: dropped", channel)
        return None
    if now - processed_at > OWED_GIVE_UP:
        log.warning("replies owed for %s:%s since %s: dropped", channel, update_key, processed_at)
        return None
    try:
        return owed_from_json(channel, data)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        log.error("owed replies of %s:%s unreadable: %s", channel, update_key, error)
        return None
