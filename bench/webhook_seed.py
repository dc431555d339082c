"""The data of ``bench/ticket_webhook.py``: residents with an open ticket each, in the follow-up
step of "my tickets", and a poll sent to all of them, pressed in the fake's chats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import delete, select, update

from bot.sandbox.fakes.telegram import FakeTelegram
from handlers.polls import poll_keyboard, vote_action
from storage import polls
from storage.models import ConversationState, Delivery, Resident, ResidentTopic, Ticket
from tests.harness import TELEGRAM_TOKEN

FIRST_USER = 10_000_000
Sessionmaker = Any


async def add_resident_with_ticket(
    session: Any, *, external_id: str, name: str, number: str, now: datetime
) -> tuple[Resident, Ticket]:
    """An onboarded Telegram resident with one open ticket (flushed: both have their ids)."""
    resident = Resident(
        channel="telegram",
        external_id=external_id,
        name=name,
        language="uk",
        consent_at=now,
        policy_version="bench",
        district="city",
        digest="instant",
        subscribed=True,
        is_active=True,
        onboarded_at=now,
        created_at=now,
        last_seen_at=now,
        topics=[ResidentTopic(topic="city_news")],
    )
    session.add(resident)
    await session.flush()
    ticket = Ticket(
        number=number,
        kind="feedback",
        status="in_progress",
        resident_id=resident.id,
        channel="telegram",
        queue_code="other",
        received_at=now,
        deadline_at=now + timedelta(days=10),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    await session.flush()
    return resident, ticket


def following_up(resident_id: int, ticket_id: int, number: str, now: datetime) -> ConversationState:
    """The resident's state in the follow-up step of their ticket ("my tickets" → write)."""
    return ConversationState(
        resident_id=resident_id,
        flow="followup",
        step="text",
        data={"ticket_id": ticket_id, "number": number},
        updated_at=now,
    )


async def seed(sessionmaker: Sessionmaker, residents: int) -> int:
    """Residents with one open ticket each, in the follow-up step of "my tickets", and a poll
    sent to all of them; returns the poll's id."""
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        for index in range(residents):
            await add_resident_with_ticket(
                session,
                external_id=str(FIRST_USER + index),
                name="Bench",
                number=f"ВД-2000-{index:06d}",
                now=now,
            )
        poll = await polls.create_poll(
            session,
            question="Де потрібне нове освітлення?",
            options=["Парк", "Сквер", "Зупинка"],
            closes_at=now + timedelta(days=3),
            now=now,
        )
        for resident_id, external_id in (
            await session.execute(select(Resident.id, Resident.external_id))
        ).all():
            session.add(
                Delivery(
                    broadcast_id=poll.broadcast_id,
                    resident_id=resident_id,
                    channel="telegram",
                    external_id=external_id,
                    state="sent",
                    next_attempt_at=now,
                    sent_at=now,
                )
            )
        return poll.id


async def reset(sessionmaker: Sessionmaker) -> None:
    """Put every resident back into the follow-up step of their ticket."""
    async with sessionmaker() as session, session.begin():
        await session.execute(delete(ConversationState))
        now = datetime.now(UTC)
        for ticket in (await session.scalars(select(Ticket))).all():
            assert ticket.resident_id is not None
            session.add(following_up(ticket.resident_id, ticket.id, ticket.number, now))


async def poll_presses(
    fake: FakeTelegram, sessionmaker: Sessionmaker, poll_id: int, residents: int
) -> list[list[dict[str, Any]]]:
    """The poll message in every resident's chat (as the broadcast engine sends it), and two
    rounds of presses on it (option 0, then option 1), as the fake's users make them."""
    async with sessionmaker() as session:
        poll = await polls.get_poll(session, poll_id=poll_id)
        assert poll is not None
        markup = {
            "inline_keyboard": [
                [{"text": b.label, "callback_data": b.action} for b in row]
                for row in poll_keyboard(poll)
            ]
        }
    url = f"{fake.base_url}/bot{TELEGRAM_TOKEN}/sendMessage"
    message_ids: list[int] = []
    async with aiohttp.ClientSession() as http:
        for index in range(residents):
            payload = {"chat_id": FIRST_USER + index, "text": poll.question, "reply_markup": markup}
            async with http.post(url, json=payload) as response:
                message_ids.append(int((await response.json())["result"]["message_id"]))
    async with sessionmaker() as session, session.begin():
        for index, message_id in enumerate(message_ids):
            await session.execute(
                update(Delivery)
                .where(Delivery.external_id == str(FIRST_USER + index))
                .values(message_id=str(message_id))
            )
    rounds = []
    for option in (0, 1):
        presses = []
        for index, message_id in enumerate(message_ids):
            pressed = await fake.press_button(
                FIRST_USER + index, message_id, vote_action(poll_id, option)
            )
            presses.append(dict(pressed))
        rounds.append(presses)
    return rounds


async def drop_pending(fake: FakeTelegram) -> None:
    """Confirm the updates that opened the chats and pressed the buttons, so no server receives
    them later (the bench posts them itself)."""
    url = f"{fake.base_url}/bot{TELEGRAM_TOKEN}/getUpdates"
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"offset": -1, "timeout": 0}) as response:
            last = (await response.json())["result"]
        if last:
            offset = last[-1]["update_id"] + 1
            async with http.post(url, json={"offset": offset, "timeout": 0}) as response:
                await response.read()
    assert not fake.pending_updates()
