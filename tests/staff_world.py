"""Helpers of the staff-side tests: the bot running against the fake Telegram (and Viber)
servers, a staff chat with registered staff, and tickets written straight into the database
(the resident flows are tested on their own; the staff side must not depend on them)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from bot.app import Runtime
from bot.sandbox.fakes.telegram import FakeTelegram, SimUpdate
from bot.sandbox.fakes.viber import FakeViber
from bot.telegram.staff.desk import Desk
from messaging.contract import TicketFiled
from storage.calendar_store import load_calendar
from storage.deadlines import initial_deadline
from storage.models import AuditEntry, Resident, Ticket, TicketMessage
from storage.residents import get_or_create_resident
from storage.tickets import add_message, get_ticket, next_number, upsert_queue
from storage.vocabulary import MessageDirection, Role, TicketStatus
from tests.harness import TELEGRAM_TOKEN, VIBER_TOKEN, bot_settings, running_bot
from tests.staff_accounts import add_staff

FORUM_CHAT = -1001500000001
GROUP_CHAT = -4500001  # an ordinary (basic) group
OTHER_GROUP = -4500099  # a group that is neither the operator chat nor a queue's
ADMIN = 7001
OPERATOR = 7002
OUTSIDER = 7003  # a member of the staff group who is not registered staff
TG_RESIDENT = 5550001
VIBER_RESIDENT = "Vb3rRes1dent0000000000=="


class Clock:
    """A clock the test moves by hand (starts at the real now, so Telegram's view agrees)."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class World:
    telegram: FakeTelegram
    runtime: Runtime
    chat_id: int
    clock: Clock
    viber: FakeViber | None = None
    # The last callback answer (text, show_alert) the bot gave.
    last_answer: dict[str, Any] = field(default_factory=dict)

    @property
    def desk(self) -> Desk:
        assert self.runtime.desk is not None
        return self.runtime.desk

    # -- staff in the chat ------------------------------------------------------------------

    async def say(
        self,
        user_id: int,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
        chat_id: int | None = None,
    ) -> SimUpdate:
        update = await self.telegram.send_text(
            user_id, text, chat_id=chat_id or self.chat_id, thread_id=thread_id, reply_to=reply_to
        )
        assert update.status == 200, update.status
        return update

    async def press(
        self,
        user_id: int,
        message_id: int,
        label: str,
        *,
        chat_id: int | None = None,
    ) -> str | None:
        """Press the button labelled ``label`` of a bot message in a staff chat; returns the
        callback answer's text."""
        data = self.buttons(message_id, chat_id)[label]
        return await self.press_data(user_id, message_id, data, chat_id=chat_id)

    async def press_data(
        self,
        user_id: int,
        message_id: int,
        data: str,
        *,
        chat_id: int | None = None,
        strict: bool = True,
    ) -> str | None:
        update = await self.telegram.press_button(
            user_id, message_id, data, chat_id=chat_id or self.chat_id, strict=strict
        )
        assert update.status == 200, update.status
        answer = self.last_answer = self.telegram.callback_answers.get(
            update["callback_query"]["id"], {}
        )
        return answer.get("text")

    def chat(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return self.telegram.messages(chat_id or self.chat_id)

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.chat(chat_id)]

    def message(self, message_id: int, chat_id: int | None = None) -> dict[str, Any]:
        found = self.telegram.message(chat_id or self.chat_id, message_id)
        assert found is not None, message_id
        return found

    def buttons(self, message_id: int, chat_id: int | None = None) -> dict[str, str]:
        """Label -> callback data of a message's inline keyboard."""
        markup = self.message(message_id, chat_id).get("reply_markup") or {}
        return {
            button["text"]: button["callback_data"]
            for row in markup.get("inline_keyboard", [])
            for button in row
        }

    # -- the resident -----------------------------------------------------------------------

    def resident_texts(self, user_id: int = TG_RESIDENT) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.telegram.messages(user_id)]

    # -- database ---------------------------------------------------------------------------

    async def ticket(self, ticket_id: int) -> Ticket:
        async with self.runtime.sessionmaker() as session:
            found = await get_ticket(session, ticket_id=ticket_id)
            assert found is not None
            return found

    async def resident(self, resident_id: int) -> Resident:
        async with self.runtime.sessionmaker() as session:
            found = await session.get(Resident, resident_id)
            assert found is not None
            return found

    async def thread(self, ticket_id: int) -> list[TicketMessage]:
        async with self.runtime.sessionmaker() as session:
            query = (
                select(TicketMessage)
                .where(TicketMessage.ticket_id == ticket_id)
                .order_by(TicketMessage.id)
            )
            return list((await session.scalars(query)).all())

    async def audit(self, action: str) -> list[AuditEntry]:
        async with self.runtime.sessionmaker() as session:
            query = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            return list((await session.scalars(query)).all())

    async def file(self, **fields: Any) -> int:
        """A ticket straight into the database, then posted to staff; returns its id."""
        ticket_id = await create_ticket(self.runtime, clock=self.clock, **fields)
        await self.desk.apply(TicketFiled(ticket_id))
        return ticket_id

    async def set_queue_chat(self, code: str, chat_id: int | None) -> None:
        async with self.runtime.sessionmaker() as session, session.begin():
            await upsert_queue(session, code=code, chat_id=chat_id, clear_chat=chat_id is None)


async def create_ticket(
    runtime: Runtime,
    *,
    clock: Clock,
    channel: str = "telegram",
    external_id: str = str(TG_RESIDENT),
    name: str = "Оксана Петренко",
    language: str = "uk",
    kind: str = "appeal",
    queue: str = "housing",
    category: str | None = "housing",
    body: str = "Не працює ліфт у під'їзді № 3 <b>вже тиждень</b> & ніхто не реагує",
    urgent: bool = False,
    urgent_reason: str | None = None,
    received_at: datetime | None = None,
    attachments: tuple[tuple[str, str, str | None], ...] = (),
    contact: str | None = "oksana@example.com",
) -> int:
    """What the resident side stores when a resident files a ticket."""
    received = received_at or clock()
    async with runtime.sessionmaker() as session, session.begin():
        resident, _created = await get_or_create_resident(
            session,
            channel=channel,
            external_id=external_id,
            name=name,
            language="uk",
            now=received,
        )
        resident.language = language
        calendar = await load_calendar(session)
        deadline = initial_deadline(
            kind, received, calendar=calendar, zone=runtime.settings.zone, urgent=urgent
        )
        number = await next_number(session, kind=kind, year=received.year)
        ticket = Ticket(
            number=number,
            kind=kind,
            status=TicketStatus.NEW.value,
            resident_id=resident.id,
            channel=channel,
            queue_code=queue,
            category=category,
            appeal_type="complaint" if kind == "appeal" else None,
            appeal_term="standard" if kind == "appeal" else None,
            urgent=urgent,
            urgent_reason=urgent_reason,
            anonymous=False,
            full_name=name,
            address="вул. Соборності, 1, кв. 2",
            contact=contact,
            body=body,
            received_at=received,
            deadline_at=deadline,
            created_at=received,
            updated_at=received,
        )
        session.add(ticket)
        await session.flush()
        for attachment in attachments:
            add_message(
                session,
                ticket,
                direction=MessageDirection.RESIDENT,
                now=received,
                attachment=attachment,
            )
        return ticket.id


async def add_resident_message(runtime: Runtime, ticket_id: int, text: str) -> int:
    async with runtime.sessionmaker() as session, session.begin():
        ticket = await get_ticket(session, ticket_id=ticket_id)
        assert ticket is not None
        message = add_message(
            session, ticket, direction=MessageDirection.RESIDENT, now=datetime.now(UTC), text=text
        )
        await session.flush()
        return message.id


@contextlib.asynccontextmanager
async def staff_world(
    database_url: str,
    *,
    forum: bool = True,
    viber: bool = False,
    operator_chat: bool = True,
    **extra: Any,
) -> AsyncIterator[World]:
    """The bot (webhook mode: an update returns once handled) with a staff chat, an admin and an
    operator, a non-staff member of the chat, and a Telegram resident who has started the bot.
    ``extra``: more settings (``bot_settings``' overrides)."""
    clock = Clock()
    chat_id = FORUM_CHAT if forum else GROUP_CHAT
    async with contextlib.AsyncExitStack() as stack:
        telegram = await stack.enter_async_context(FakeTelegram(TELEGRAM_TOKEN))
        overrides: dict[str, Any] = {
            "telegram_token": TELEGRAM_TOKEN,
            "telegram_api_url": telegram.base_url,
            "telegram_mode": "webhook",
        }
        if operator_chat:
            overrides["operator_chat_id"] = chat_id
        else:
            # Only the departments' own chats: the chat desk is asked for by name.
            overrides["staff_desks"] = "web,telegram"
        fake_viber: FakeViber | None = None
        if viber:
            fake_viber = await stack.enter_async_context(FakeViber(VIBER_TOKEN))
            overrides.update(viber_token=VIBER_TOKEN, viber_api_url=fake_viber.base_url)
        settings = bot_settings(database_url, **overrides, **extra)
        runtime = await stack.enter_async_context(running_bot(settings, clock=clock))
        for user_id, first, last in (
            (ADMIN, "Ірина", "Адмін"),
            (OPERATOR, "Петро", "Оператор"),
            (OUTSIDER, "Сторонній", None),
        ):
            telegram.user(user_id, first_name=first, last_name=last)
        telegram.add_group(
            chat_id,
            "Оператори" if not forum else "Звернення",
            is_forum=forum,
            members=(ADMIN, OPERATOR, OUTSIDER, TG_RESIDENT),
            admins=(ADMIN,),
        )
        telegram.add_group(OTHER_GROUP, "Інша група", members=(ADMIN, OPERATOR))
        async with runtime.sessionmaker() as session, session.begin():
            await add_staff(session, ADMIN, Role.ADMIN, now=clock())
            await add_staff(session, OPERATOR, Role.OPERATOR, now=clock())
        # The resident has a private chat with the bot (as after /start).
        telegram.user(TG_RESIDENT, first_name="Оксана", last_name="Петренко")
        started = await telegram.send_text(TG_RESIDENT, "/start")
        assert started.status == 200
        yield World(
            telegram=telegram, runtime=runtime, chat_id=chat_id, clock=clock, viber=fake_viber
        )


def card_of(world: World, ticket: Ticket) -> dict[str, Any]:
    assert ticket.card_message_id is not None and ticket.staff_chat_id is not None
    return world.message(ticket.card_message_id, ticket.staff_chat_id)
