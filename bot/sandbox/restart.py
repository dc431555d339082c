"""A sandbox started again on its database: the stand-ins go on from where the last run ended.

The stand-ins keep chats in memory, while the bot keeps in the database what it handled and where
it put things. Without this, a restarted Telegram stand-in would number updates from 100000001
again, and the bot, which stored a claim for each update it handled (``storage.dedup``), would
take every new one for a redelivery and answer none; Viber's message tokens likewise. Real
messengers never reuse these numbers, so the stand-ins are told to go on after them:

- Telegram updates: after the highest update id the bot claimed (exact, crash-proof);
- message ids in every Telegram chat and Viber's message tokens: a block per run, the run
  counted by an audit entry at each start (the bot stores message ids in many places: prompts it
  waits an answer to, ticket cards; any of them reused would mislead it);
- open tickets: the staff chat that showed them is gone, so they are posted again, as on the
  first run (``storage.staff_desk.forget_staff_places``, then the desk's catch-up).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.sandbox.fakes.viber.protocol import FIRST_TOKEN
from messaging.contract import telegram_update_key
from storage import audit, dedup, staff_desk
from storage.models import AuditEntry
from storage.vocabulary import Channel

STARTED = "sandbox.started"
# Message ids a chat may use in one run before the next run's block: Telegram's message ids are
# 32-bit, which leaves room for about 2,000 runs.
MESSAGES_PER_RUN = 1_000_000
# Viber's message tokens are 64-bit, numbered from the docs' example: a block per run.
TOKENS_PER_RUN = 1_000_000_000_000


async def continue_run(
    sessionmaker: async_sessionmaker[AsyncSession],
    telegram: FakeTelegram,
    viber: FakeViber,
    *,
    now: datetime,
) -> int:
    """Count this run, and make the stand-ins go on after everything the bot stored. Returns
    the number of earlier runs."""
    async with sessionmaker() as session, session.begin():
        runs = int(
            await session.scalar(
                select(func.count()).select_from(AuditEntry).where(AuditEntry.action == STARTED)
            )
            or 0
        )
        audit.record(session, actor="sandbox", action=STARTED, now=now)
        prefix = telegram_update_key(telegram.bot_id, 0).removesuffix("0")
        last_update = await dedup.highest_claimed(
            session, channel=Channel.TELEGRAM.value, prefix=prefix
        )
        # The stand-in's staff chats start empty on every run, a first one included.
        await staff_desk.forget_staff_places(session)
    telegram.continue_numbering(
        update_id=(last_update or 0) + 1, message_id=runs * MESSAGES_PER_RUN
    )
    viber.continue_tokens(FIRST_TOKEN + runs * TOKENS_PER_RUN - 1)
    return runs
