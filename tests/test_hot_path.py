"""The hot path of a resident's update (issue 16): read as JSON, handled, claimed last with the
replies it owes, answered and copied to staff with plain JSON calls — and every guarantee kept:
a redelivery (even a concurrent one) is handled once, a webhook whose transaction fails is not
acknowledged, a vote is counted once and a late one refused."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import asyncpg
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.webhook_seed import add_resident_with_ticket, following_up
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.telegram.channel import SECRET_HEADER, WEBHOOK_PATH
from handlers.polls import poll_keyboard, vote_action
from messaging.contract import telegram_update_key
from storage import polls
from storage.models import (
    ConversationState,
    Delivery,
    Poll,
    PollVote,
    ProcessedUpdate,
    Resident,
    TicketMessage,
)
from tests.harness import TELEGRAM_TOKEN, WEBHOOK_SECRET, bot_settings, running_bot

STAFF_CHAT = -1_000_777
USERS = (5101, 5102)
Maker = async_sessionmaker[AsyncSession]


def _settings(url: str, fake: FakeTelegram) -> Any:
    return bot_settings(
        url,
        telegram_token=TELEGRAM_TOKEN,
        telegram_api_url=fake.base_url,
        telegram_mode="webhook",
        operator_chat_id=STAFF_CHAT,
    )


async def _started(fake: FakeTelegram, users: tuple[int, ...]) -> None:
    """Wait until the bot answered each user's /start, sent before it ran (the fake pushes it
    once the webhook is set): seeding the same resident meanwhile would race with it."""
    for user in users:
        await fake.wait_for_messages(user, 1, timeout=30)


async def _resident_with_ticket(sessionmaker: Maker, user_id: int) -> int:
    """A resident writing to their open ticket ("my tickets" → write); returns the ticket id."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        # The resident the pushed /start made (``_started``), or a new one.
        found = await session.scalar(
            select(Resident).where(
                Resident.channel == "telegram", Resident.external_id == str(user_id)
            )
        )
        if found is not None:
            await session.execute(
                delete(ConversationState).where(ConversationState.resident_id == found.id)
            )
            await session.delete(found)
            await session.flush()
        resident, ticket = await add_resident_with_ticket(
            session, external_id=str(user_id), name="Оксана", number=f"ВД-2026-{user_id}", now=now
        )
        session.add(following_up(resident.id, ticket.id, ticket.number, now))
        return ticket.id


def _message(update_id: int, user_id: int, text: str) -> bytes:
    chat = {"id": user_id, "type": "private", "first_name": "Оксана"}
    sender = {"id": user_id, "is_bot": False, "first_name": "Оксана"}
    body = {"message_id": update_id, "date": 1_780_000_000, "chat": chat, "from": sender}
    return json.dumps({"update_id": update_id, "message": {**body, "text": text}}).encode()


async def _post(port: int, body: bytes) -> int:
    headers = {"Content-Type": "application/json", SECRET_HEADER: WEBHOOK_SECRET}
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as got:
        return got.status


async def _count(sessionmaker: Maker, model: type, *where: Any) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int(await session.scalar(query) or 0)


def _copies(fake: FakeTelegram, text: str) -> int:
    return sum(1 for call in fake.calls_to("sendMessage") if text in str(call.get("text")))


async def test_a_follow_up_delivered_twice_at_once_is_stored_and_answered_once(
    pg_url: str,
) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        fake.user(USERS[0], first_name="Оксана")
        fake.add_group(STAFF_CHAT, "Оператори")
        await fake.send_text(USERS[0], "/start")  # the private chat exists
        settings = _settings(pg_url, fake)
        async with running_bot(settings) as runtime:
            await _started(fake, USERS[:1])
            ticket_id = await _resident_with_ticket(runtime.sessionmaker, USERS[0])
            body = _message(777, USERS[0], "Доповнення: вода досі тече")
            first, second = await asyncio.gather(
                _post(settings.http_port, body), _post(settings.http_port, body)
            )
            assert (first, second) == (200, 200)
            # And once more after both committed.
            assert await _post(settings.http_port, body) == 200
            await runtime.outbox.drain()
            stored = TicketMessage.ticket_id == ticket_id
            assert await _count(runtime.sessionmaker, TicketMessage, stored) == 1
            assert runtime.telegram is not None
            key = telegram_update_key(runtime.telegram.bot.id, 777)
            claimed = ProcessedUpdate.update_key == key
            assert await _count(runtime.sessionmaker, ProcessedUpdate, claimed) == 1
            replies = [m for m in fake.messages(USERS[0]) if "ВД-2026" in str(m.get("text"))]
            assert len(replies) == 1
            # The staff copy, once, in the ticket's thread under its card.
            assert _copies(fake, "вода досі тече") == 1


async def test_a_follow_up_is_copied_once_the_short_way_and_a_copy_made_twice_is_deleted(
    pg_url: str,
) -> None:
    """Once the ticket has its card, a follow-up is copied without the ticket's row lock
    (``Desk.post_written``) and recorded. When the record finds the copy recorded already (here
    a trigger makes the UPDATE find nothing, as if another process's catch-up had copied it
    meanwhile), the second copy is deleted: staff keep one."""
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        fake.user(USERS[0], first_name="Оксана")
        fake.add_group(STAFF_CHAT, "Оператори")
        await fake.send_text(USERS[0], "/start")
        settings = _settings(pg_url, fake)
        async with running_bot(settings) as runtime:
            await _started(fake, USERS[:1])
            maker = runtime.sessionmaker
            ticket_id = await _resident_with_ticket(maker, USERS[0])
            # The first follow-up posts the card, then its copy.
            assert await _post(settings.http_port, _message(781, USERS[0], "Перше")) == 200
            await runtime.outbox.drain()
            assert _copies(fake, "Перше") == 1
            await _writing_to(maker, USERS[0], ticket_id)
            assert await _post(settings.http_port, _message(782, USERS[0], "Друге")) == 200
            await runtime.outbox.drain()
            assert _copies(fake, "Друге") == 1
            copied = (TicketMessage.ticket_id == ticket_id) & TicketMessage.staff_message_id.is_not(
                None
            )
            assert await _count(maker, TicketMessage, copied) == 2
            await _unrecordable_copies(pg_url, on=True)
            await _writing_to(maker, USERS[0], ticket_id)
            try:
                assert await _post(settings.http_port, _message(783, USERS[0], "Третє")) == 200
                await runtime.outbox.drain()
            finally:
                await _unrecordable_copies(pg_url, on=False)
            third = [c for c in fake.calls_to("sendMessage") if "Третє" in str(c.get("text"))]
            assert len(third) == 1
            deleted = fake.calls_to("deleteMessage")
            assert len(deleted) == 1 and deleted[0]["chat_id"] == STAFF_CHAT
            assert fake.message(STAFF_CHAT, int(deleted[0]["message_id"])) is None
            assert await _count(maker, TicketMessage, copied) == 2


async def _writing_to(maker: Maker, user_id: int, ticket_id: int) -> None:
    """The resident back in their ticket's follow-up step (a follow-up ends it)."""
    async with maker() as session, session.begin():
        resident_id = await session.scalar(
            select(Resident.id).where(Resident.external_id == str(user_id))
        )
        assert resident_id is not None
        await session.execute(
            delete(ConversationState).where(ConversationState.resident_id == resident_id)
        )
        session.add(following_up(resident_id, ticket_id, f"ВД-2026-{user_id}", datetime.now(UTC)))


async def _unrecordable_copies(url: str, *, on: bool) -> None:
    """A trigger that skips every UPDATE recording a copy (as if recorded already)."""
    await _trigger(
        url,
        on=on,
        function="skip_copy() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$",
        trigger="TRIGGER skip_copy BEFORE UPDATE ON ticket_messages FOR EACH ROW "
        "WHEN (NEW.staff_message_id IS NOT NULL) EXECUTE FUNCTION skip_copy()",
        drop=("TRIGGER skip_copy ON ticket_messages", "FUNCTION skip_copy()"),
    )


async def _trigger(
    url: str, *, on: bool, function: str, trigger: str, drop: tuple[str, str]
) -> None:
    """Create the trigger and its function (``on``), or drop both."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    connection = await asyncpg.connect(dsn)
    try:
        if on:
            await connection.execute(f"CREATE FUNCTION {function}")
            await connection.execute(f"CREATE {trigger}")
        else:
            for what in drop:
                await connection.execute(f"DROP {what}")
    finally:
        await connection.close()


async def test_a_webhook_whose_commit_fails_is_not_acknowledged(pg_url: str) -> None:
    """The transaction fails at COMMIT (a deferred check, here a serialization failure): the
    webhook is not answered 200, nothing is stored or sent; Telegram's redelivery then is."""
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        fake.user(USERS[0], first_name="Оксана")
        fake.add_group(STAFF_CHAT, "Оператори")
        await fake.send_text(USERS[0], "/start")
        settings = _settings(pg_url, fake)
        async with running_bot(settings) as runtime:
            await _started(fake, USERS[:1])
            ticket_id = await _resident_with_ticket(runtime.sessionmaker, USERS[0])
            await _failing_commits(pg_url, on=True)
            body = _message(901, USERS[0], "Фото додам пізніше")
            assert await _post(settings.http_port, body) >= 500
            await runtime.outbox.drain()
            stored = TicketMessage.ticket_id == ticket_id
            assert await _count(runtime.sessionmaker, TicketMessage, stored) == 0
            # This update's claim only: the /start above may have been pushed and claimed.
            assert runtime.telegram is not None
            key = telegram_update_key(runtime.telegram.bot.id, 901)
            claimed = ProcessedUpdate.update_key == key
            assert await _count(runtime.sessionmaker, ProcessedUpdate, claimed) == 0
            assert _copies(fake, "Фото додам пізніше") == 0
            await _failing_commits(pg_url, on=False)
            assert await _post(settings.http_port, body) == 200
            await runtime.outbox.drain()
            assert await _count(runtime.sessionmaker, TicketMessage, stored) == 1
            assert _copies(fake, "Фото додам пізніше") == 1


async def _failing_commits(url: str, *, on: bool) -> None:
    """A constraint trigger checked at COMMIT that fails every claim (SQLSTATE 40001)."""
    await _trigger(
        url,
        on=on,
        function="fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'test: commit refused' USING ERRCODE = '40001'; END $$",
        trigger="CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON processed_updates "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()",
        drop=("TRIGGER fail_at_commit ON processed_updates", "FUNCTION fail_at_commit()"),
    )


async def _poll_in_chats(
    fake: FakeTelegram, sessionmaker: Maker, users: tuple[int, ...]
) -> tuple[int, dict[int, int]]:
    """A poll sent to ``users`` (as the broadcast engine records it): its id and each user's
    poll message."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        poll = await polls.create_poll(
            session,
            question="Де потрібне нове освітлення?",
            options=["Парк", "Сквер"],
            closes_at=now + timedelta(days=1),
            now=now,
        )
        markup = {
            "inline_keyboard": [
                [{"text": b.label, "callback_data": b.action} for b in row]
                for row in poll_keyboard(poll)
            ]
        }
        messages: dict[int, int] = {}
        async with aiohttp.ClientSession() as http:
            for user in users:
                payload = {"chat_id": user, "text": poll.question, "reply_markup": markup}
                url = f"{fake.base_url}/bot{TELEGRAM_TOKEN}/sendMessage"
                async with http.post(url, json=payload) as got:
                    messages[user] = int((await got.json())["result"]["message_id"])
        for user in users:
            resident = await session.scalar(
                select(Resident.id).where(Resident.external_id == str(user))
            )
            session.add(
                Delivery(
                    broadcast_id=poll.broadcast_id,
                    resident_id=resident,
                    channel="telegram",
                    external_id=str(user),
                    state="sent",
                    next_attempt_at=now,
                    message_id=str(messages[user]),
                )
            )
        return poll.id, messages


async def test_votes_are_counted_once_and_a_late_one_is_refused(pg_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        for user in USERS:
            fake.user(user, first_name="Оксана")
            await fake.send_text(user, "/start")
        settings = _settings(pg_url, fake)
        async with running_bot(settings) as runtime:
            await _started(fake, USERS)
            maker = runtime.sessionmaker
            for user in USERS:
                await _resident_with_ticket(maker, user)
            poll_id, messages = await _poll_in_chats(fake, maker, USERS)
            first = await fake.press_button(USERS[0], messages[USERS[0]], vote_action(poll_id, 0))
            assert first.status == 200
            # The same press delivered again: one vote.
            assert (await fake.push_update(dict(first))).status == 200
            second = await fake.press_button(USERS[1], messages[USERS[1]], vote_action(poll_id, 0))
            assert second.status == 200
            mine = PollVote.poll_id == poll_id
            assert await _count(maker, PollVote, mine) == 2
            # The second voter's copy of the poll, edited in place, counts both voters.
            edited = fake.message(USERS[1], messages[USERS[1]])
            assert edited is not None and "✅ Сквер" not in str(edited.get("reply_markup"))
            assert "✅ Парк" in json.dumps(edited.get("reply_markup"), ensure_ascii=False)
            assert "2" in str(edited.get("text"))
            # Every press stopped its button's spinner.
            assert len(fake.calls_to("answerCallbackQuery")) >= 3
            async with maker() as session, session.begin():
                await session.execute(
                    update(Poll).where(Poll.id == poll_id).values(status="closed")
                )
            late = await fake.press_button(USERS[1], messages[USERS[1]], vote_action(poll_id, 1))
            assert late.status == 200
            assert await _count(maker, PollVote, mine, PollVote.option == 1) == 0
            # A new message says the poll is closed; the poll message is left as it was.
            answer = fake.last_message(USERS[1])
            assert answer is not None and answer["message_id"] != messages[USERS[1]]
            assert "Де потрібне нове освітлення?" in str(answer.get("text"))
            assert fake.message(USERS[1], messages[USERS[1]]) == edited


async def test_an_update_of_the_wrong_shape_is_refused(pg_url: str) -> None:
    async with FakeTelegram(TELEGRAM_TOKEN) as fake:
        settings = _settings(pg_url, fake)
        async with running_bot(settings) as runtime:
            wrong = {
                "update_id": 5,
                "message": {"message_id": 1, "chat": {"id": 7, "type": "private"}, "from": 7},
            }
            assert await _post(settings.http_port, json.dumps(wrong).encode()) == 400
            assert await _post(settings.http_port, b"[1, 2]") == 400
            assert await _count(runtime.sessionmaker, ProcessedUpdate) == 0
