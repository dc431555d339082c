"""The Telegram operator chat's side of the staff core: what the chat handlers share.

The ticket operations themselves (answer, note, take, hand over, extend, refuse, close, ban,
templates, look-ups) are the channel-neutral core's (``handlers.staff.tickets``); this service
holds the parts the chat adapter needs around them: the core's parts, the desk that shows
tickets in Telegram, the card renderer, and how a message in a staff chat finds its ticket.

The aiogram handlers are in ``buttons.py`` (one per card verb), ``commands.py`` (one per
command) and ``thread.py`` (answers, notes, prompt replies); claiming the update, loading the
staff member and running the after-commit steps happen once for all of them in ``edge.py``.
"""

from __future__ import annotations

import html

from aiogram.enums import ParseMode
from aiogram.types import ForceReply, Message, User
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.staff.card import CardRenderer
from bot.telegram.staff.desk import Desk
from bot.telegram.staff.identity import telegram_id_of
from handlers.staff.tickets.context import TicketCore
from messaging.i18n import Catalog, Markup
from messaging.text import clean_text
from storage import staff_desk
from storage.models import DeskPost, Staff, Ticket
from storage.tickets import ticket_by_thread
from storage.vocabulary import Channel

# Updates of the staff chats are claimed in the same namespace as residents' Telegram updates:
# ``<bot id>:<update_id>`` is unique per bot whatever the chat.
CLAIM_CHANNEL = Channel.TELEGRAM.value

ACTION_EXTEND = "extend"
ACTION_REFUSE = "refuse"

REASON_MAX = 1000
# staff.name (a Telegram first and last name are 64 characters each).
STAFF_NAME_MAX = 256


def full_name(user: User) -> str:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return clean_text(name) or str(user.id)


class StaffService:
    def __init__(
        self,
        *,
        desk: Desk,
        tickets: TicketCore,
        catalog: Catalog,
        operator_chat_id: int | None,
    ) -> None:
        """``tickets``: the channel-neutral ticket core, shared with the web desk (its events
        reach both desks)."""
        self.desk = desk
        self.tickets = tickets
        self.notices = tickets.notices
        self.sessionmaker = tickets.sessionmaker
        self.clock = tickets.clock
        self.zone = tickets.zone
        self.cards = CardRenderer(catalog, zone=tickets.zone)
        self.operator_chat_id = operator_chat_id

    def t(self, key: str, /, **params: object) -> Markup:
        return self.cards.t(key, **params)

    async def is_staff_chat(self, chat_id: int) -> bool:
        async with self.sessionmaker() as session:
            return await staff_desk.is_staff_chat(
                session, chat_id=chat_id, operator_chat_id=self.operator_chat_id
            )

    @staticmethod
    async def reply(message: Message, text: str) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML)

    # -- finding the ticket of a message ------------------------------------------------------

    async def ticket_of(self, session: AsyncSession, message: Message) -> Ticket | None:
        chat_id = message.chat.id
        if message.is_topic_message and message.message_thread_id is not None:
            found = await ticket_by_thread(
                session, chat_id=chat_id, thread_id=message.message_thread_id
            )
            if found is not None:
                return found
        reply = message.reply_to_message
        if reply is not None and reply.forum_topic_created is None:
            found = await staff_desk.ticket_for_message(
                session, chat_id=chat_id, message_id=reply.message_id
            )
            if found is not None:
                return found
        if not message.is_topic_message and message.message_thread_id is not None:
            # Outside forums a supergroup reply chain carries its root (the card) as the thread.
            return await staff_desk.ticket_for_message(
                session, chat_id=chat_id, message_id=message.message_thread_id
            )
        return None

    async def prompt_of(self, session: AsyncSession, message: Message) -> DeskPost | None:
        reply = message.reply_to_message
        if reply is None:
            return None
        post = await staff_desk.get_post(
            session, chat_id=message.chat.id, message_id=reply.message_id
        )
        return post if post is not None and post.purpose == staff_desk.PURPOSE_PROMPT else None

    # -- what the chat shows ------------------------------------------------------------------

    def link(self, ticket: Ticket) -> Markup:
        """Where the card is: a t.me link in supergroups, the message number elsewhere."""
        if ticket.staff_chat_id is None or ticket.card_message_id is None:
            return self.t("staff.ticket.not_posted")
        chat = str(ticket.staff_chat_id)
        if chat.startswith("-100"):
            url = f"https://t.me/c/{chat[4:]}/{ticket.card_message_id}"
            return Markup(
                f'<a href="{html.escape(url, quote=True)}">{self.t("staff.ticket.open")}</a>'
            )
        return self.t("staff.ticket.message", id=ticket.card_message_id)

    async def prompt(
        self, ticket: Ticket, staff: Staff, action: str, key: str, **data: str
    ) -> None:
        """Ask the staff member for a reason or comment in the ticket's thread (ForceReply);
        their reply completes ``action`` (``thread.py``)."""
        # A mention makes the selective ForceReply open the reply box for this staff member.
        name = html.escape(staff.display_name)
        who = Markup(f'<a href="tg://user?id={telegram_id_of(staff)}">{name}</a>')
        await self.desk.post_to_thread(
            ticket.id,
            self.t(key, who=who, number=ticket.number),
            purpose=staff_desk.PURPOSE_PROMPT,
            markup=ForceReply(force_reply=True, selective=True),
            action=action,
            staff_id=telegram_id_of(staff),
            data=dict(data),
        )
