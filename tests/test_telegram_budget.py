"""One budget for the bot token: while a broadcast runs at the limit, answers to residents take
their starts from the same pacer (bot/telegram/budget.py), so the two together stay inside
Telegram's one-second window instead of being refused."""

from __future__ import annotations

import asyncio

import pytest

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.budget import counts_toward_limit
from broadcasts.limits import Pacer
from tests.harness import TELEGRAM_TOKEN, bot_settings, running_bot
from tests.test_broadcast_helpers import Person, add_residents, new_broadcast, wait_done
from tests.test_broadcast_limits import ManualClock

pytestmark = pytest.mark.migrated_database

RECIPIENTS = 150
WRITERS = 60


async def test_a_reserved_start_goes_first_and_pushes_the_waiting_senders() -> None:
    clock = ManualClock()
    pacer = Pacer(10.0, margin=0.0, clock=clock)
    stop = asyncio.Event()
    first = await pacer.acquire(stop)
    assert first is not None
    # An answer arrives while a broadcast send waits for the next start (0.1 s later): it
    # takes that start, and the broadcast's comes one spacing after it.
    assert pacer.reserve() == pytest.approx(0.1, abs=0.005)
    clock.now = first + 0.1
    waiter = asyncio.create_task(pacer.acquire(stop))
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.now = first + 0.2
    assert await waiter == pytest.approx(first + 0.2, abs=0.005)


def test_only_calls_that_send_or_change_messages_count() -> None:
    assert counts_toward_limit("sendMessage") and counts_toward_limit("copyMessage")
    assert counts_toward_limit("editMessageText") and counts_toward_limit("createForumTopic")
    assert not counts_toward_limit("getUpdates") and not counts_toward_limit("getFile")
    assert not counts_toward_limit("answerCallbackQuery") and not counts_toward_limit("getMe")


async def test_answers_during_a_broadcast_at_the_limit_are_not_refused(database_url: str) -> None:
    # A strict one-second window of 30 sends, as Telegram may count.
    async with FakeTelegram(TELEGRAM_TOKEN, global_rate=30) as tg:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=tg.base_url,
            telegram_mode="polling",
        )
        async with running_bot(settings) as runtime:
            people = [Person("telegram", str(5000 + index)) for index in range(RECIPIENTS)]
            await add_residents(runtime.sessionmaker, people)
            for person in people:
                tg.user(int(person.external_id))
                tg.open_private_chat(int(person.external_id))
            broadcast_id, _ = await new_broadcast(runtime.sessionmaker)
            # Residents write while the broadcast runs (five seconds at 30/s).
            await asyncio.sleep(0.5)
            writers = list(range(9000, 9000 + WRITERS))
            for user_id in writers:
                await tg.send_text(user_id, "/help")
                await asyncio.sleep(0.03)
            done = await wait_done(runtime.sessionmaker, broadcast_id, timeout=30)
            for user_id in writers:
                await tg.wait_for_messages(user_id, 1, timeout=10)
        assert done.sent == RECIPIENTS
        # Without the shared budget: about one 429 per answer (the engine alone fills the
        # window). The stand-in shares this process's CPU, so an arrival bunched by more than
        # the pacer's margin may still be refused now and then.
        assert tg.rate_limited_count <= 2, tg.rate_limited_count
