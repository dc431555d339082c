"""The staff desk: puts tickets and residents' messages into the staff Telegram chats.

Each ticket lives in its queue's chat (``Department.chat_id``, else the operator chat). In a
forum supergroup it gets its own topic; in an ordinary group its card is the root and everything
after it is a reply to the card. Where it lives is stored on the ticket (``staff_chat_id``,
``thread_id``, ``card_message_id``) and on each copied message (``staff_message_id``), so a staff
reply finds its ticket, and what did not reach Telegram is found and posted by ``post_pending``.

Posting one ticket is serialised twice: an ``asyncio.Lock`` per ticket inside this process, and
the ticket's row lock (``SELECT … FOR UPDATE``) across processes on PostgreSQL. So two effects of
the same ticket arriving together create one topic and one card. A follow-up to a ticket with
its card takes a shorter way without the row lock (``post_written``): a message copied twice
across processes is then deleted again, so staff keep one copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import ForceReply, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.lean import BotApi
from bot.telegram.staff import resident_files
from bot.telegram.staff.card import (
    TEXT_LIMIT,
    CardData,
    CardRenderer,
    shorten,
)
from bot.telegram.staff.copies import HEADER_ROOM, ResidentCopies
from bot.telegram.staff.place import Place, Step, place_of
from messaging.contract import (
    ChannelError,
    Effect,
    ResidentAnswered,
    ResidentWrote,
    TicketFiled,
    TicketRated,
    TransientChannelError,
)
from messaging.i18n import Catalog, Markup, labels
from messaging.text import split_text
from storage import linking, staff_desk
from storage.models import Department, Resident, Staff, Ticket
from storage.raw import outside_transaction
from storage.tickets import get_ticket
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

# One catch-up run posts at most this many tickets: a group takes about 20 messages a minute,
# and the job runs every minute.
PENDING_TICKETS = 10
# Messages of one ticket copied in one go; the rest waits for the next run.
MESSAGES_PER_TICKET = 20
# A ticket whose posting failed for a reason retrying will not fix soon (a wrong chat id, the
# bot removed from the group) is skipped by the catch-up job for a while, so it cannot starve
# the others.
FAILED_BACKOFF = timedelta(minutes=15)
MAX_FAILED_TRACKED = 1000

Markup_ = InlineKeyboardMarkup | ForceReply


def _is_not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


TRANSIENT_ERRORS = (
    TelegramNetworkError,
    TelegramServerError,
    TelegramRetryAfter,
    TransientChannelError,
)


class Desk:
    """Implements ``messaging.contract.EffectSink`` for the staff side."""

    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        zone: ZoneInfo,
        operator_chat_id: int | None,
        api: BotApi | None = None,
    ) -> None:
        self.bot = bot
        self.api = api or BotApi.for_bot(bot)
        self.sessionmaker = sessionmaker
        self.catalog = catalog
        self.clock = clock
        self.zone = zone
        self.operator_chat_id = operator_chat_id
        self.cards = CardRenderer(catalog, zone=zone)
        self.files = resident_files.ResidentFiles(bot=bot, sessionmaker=sessionmaker)
        self.copies = ResidentCopies(bot=bot, api=self.api, cards=self.cards, files=self.files)
        # Locks live as long as someone holds or waits for them: no unbounded growth.
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._forums: dict[int, bool] = {}
        self._failed: dict[int, datetime] = {}
        self._warned_queues: set[str] = set()

    def t(self, key: str, /, **params: object) -> Markup:
        return self.cards.t(key, **params)

    @contextlib.asynccontextmanager
    async def locked(self, ticket_id: int) -> AsyncIterator[None]:
        lock = self._locks.get(ticket_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[ticket_id] = lock
        async with lock:
            yield

    # -- EffectSink -------------------------------------------------------------------------

    async def apply(self, effect: Effect) -> None:
        if isinstance(effect, ResidentWrote) and await self.post_written(effect):
            return
        if isinstance(effect, TicketFiled | ResidentWrote):
            await self.post_ticket(effect.ticket_id)
        elif isinstance(effect, TicketRated):
            await self.post_rating(effect.ticket_id)
        elif isinstance(effect, ResidentAnswered):
            await self.post_resident_answer(effect)

    # -- where tickets go -------------------------------------------------------------------

    async def is_forum(self, chat_id: int) -> bool:
        """Whether the chat is a forum supergroup (asked once per chat and process)."""
        known = self._forums.get(chat_id)
        if known is None:
            chat = await self.bot.get_chat(chat_id)
            known = bool(chat.is_forum)
            self._forums[chat_id] = known
        return known

    async def _target_chat(self, session: AsyncSession, ticket: Ticket) -> int | None:
        queue = await session.get(Department, ticket.queue_code)
        if queue is not None and queue.chat_id is not None:
            return queue.chat_id
        if self.operator_chat_id is None and ticket.queue_code not in self._warned_queues:
            # Warn once per queue and process, not every minute from the catch-up job.
            self._warned_queues.add(ticket.queue_code)
            log.warning(
                "queue %s has no chat and CITYBOT_OPERATOR_CHAT_ID is not set: its tickets are "
                "not posted to staff",
                ticket.queue_code,
            )
        return self.operator_chat_id

    async def card_data(self, session: AsyncSession, ticket: Ticket) -> CardData:
        resident = await session.get(Resident, ticket.resident_id) if ticket.resident_id else None
        queue = await session.get(Department, ticket.queue_code)
        assignee: str | None = None
        if ticket.assignee_id is not None:
            staff = await session.get(Staff, ticket.assignee_id)
            assignee = (
                staff.name if staff is not None and staff.name else f"id {ticket.assignee_id}"
            )
        attachments = await staff_desk.resident_attachments(session, ticket_id=ticket.id, limit=20)
        parent = await session.get(Ticket, ticket.parent_id) if ticket.parent_id else None
        linked: list[str] = []
        if resident is not None:
            accounts = await linking.identities(session, resident)
            if len(accounts) > 1:
                chosen = linking.preferred(resident)
                linked = [chosen, *(a.channel for a in accounts if a.channel != chosen)]
        return CardData(
            ticket=ticket,
            resident=resident,
            queue=queue,
            assignee=assignee,
            attachments=attachments,
            parent_number=parent.number if parent is not None else None,
            linked_channels=linked,
        )

    # -- posting a ticket -------------------------------------------------------------------

    async def post_ticket(self, ticket_id: int) -> Place | None:
        """Make sure the ticket's card is in its chat, then copy the resident's messages that are
        not there yet. Safe to call any number of times, also concurrently. Returns where the
        ticket lives, or None when it has nowhere to go. Telegram errors propagate (the
        catch-up job tries again)."""
        async with self.locked(ticket_id):
            # The common case (the card exists, a message waits) starts with the message's own
            # transaction: no separate read of the ticket first.
            step = await self._post_next_message(ticket_id)
            if step is None:
                return None
            if step.place is None:
                place = await self._ensure_card(ticket_id)
                if place is None:
                    return None
                posted, more = 0, True
            else:
                place, posted, more = step.place, int(step.posted), step.more
            while more and posted < MESSAGES_PER_TICKET:
                step = await self._post_next_message(ticket_id)
                if step is None or step.place is None:
                    break
                posted, more = posted + int(step.posted), step.more
        self._failed.pop(ticket_id, None)
        return place

    async def post_written(self, effect: ResidentWrote) -> bool:
        """Copy a resident's message to their ticket's thread the short way, when the ticket
        has its card and this is the only message waiting (a follow-up, nearly always): one
        read and one write, each committing on its own, instead of a transaction holding the
        ticket's row lock. Returns False when it does not apply (``post_ticket`` then does the
        whole round), or on SQLite.

        Without the row lock, another process's catch-up can copy the same message at the same
        time: the copy that finds the other recorded (``mark_posted_once``) deletes itself, so
        staff keep one. Telegram errors propagate, as in ``post_ticket``."""
        async with self.locked(effect.ticket_id), outside_transaction(self.sessionmaker) as pg:
            if pg is None:
                return False
            found = await staff_desk.lone_unposted(pg, message_id=effect.message_id)
            place = place_of(found[0]) if found is not None else None
            if found is None or place is None or found[0].card_message_id is None:
                return False
            ticket, stored_name, message = found
            name = self.cards.author_name(ticket, stored_name)
            sent_id = await self.copies.send(place, ticket, name, message)
            marked = await staff_desk.mark_posted_once(
                pg, message_id=message.id, chat_id=place.chat_id, sent_id=sent_id
            )
        if not marked:
            await self._delete_copy(place.chat_id, sent_id)
        self._failed.pop(effect.ticket_id, None)
        return True

    async def _delete_copy(self, chat_id: int, message_id: int) -> None:
        """A copy made twice (two processes at once): staff keep the one recorded."""
        try:
            await self.bot.delete_message(chat_id, message_id)
        except TelegramAPIError as error:
            log.warning("could not delete a second copy in %s: %s", chat_id, error)

    async def _ensure_card(self, ticket_id: int) -> Place | None:
        failure: TelegramAPIError | None = None
        async with self.sessionmaker() as session, session.begin():
            ticket = await get_ticket(session, ticket_id=ticket_id, for_update=True)
            if ticket is None:
                return None
            if ticket.card_message_id is not None:
                return place_of(ticket)
            chat_id = ticket.staff_chat_id or await self._target_chat(session, ticket)
            if chat_id is None:
                return None
            if ticket.thread_id is None and await self.is_forum(chat_id):
                try:
                    topic = await self.bot.create_forum_topic(
                        chat_id, self.cards.topic_name(ticket)
                    )
                except TelegramBadRequest as error:
                    # Typically the bot lacks the "manage topics" right. The ticket must still
                    # reach staff: its card goes to the General topic and the thread is the
                    # replies to it, as in an ordinary group.
                    log.warning("no topic for %s in %s: %s", ticket.number, chat_id, error)
                else:
                    ticket.staff_chat_id = chat_id
                    ticket.thread_id = topic.message_thread_id
            data = await self.card_data(session, ticket)
            text, cut = self.cards.card_text(data)
            place = Place(chat_id=chat_id, thread_id=ticket.thread_id)
            try:
                card = await self.bot.send_message(
                    chat_id,
                    text,
                    parse_mode=ParseMode.HTML,
                    reply_markup=self.cards.card_buttons(ticket),
                    **place.kwargs(),
                )
            except TelegramAPIError as error:
                # The topic (if one was just made) is kept: the next attempt posts into it
                # instead of creating a second one.
                failure = error
            else:
                ticket.staff_chat_id = chat_id
                ticket.card_message_id = card.message_id
                if cut and ticket.body:
                    await self._post_full_text(session, ticket, place_of(ticket))
        if failure is not None:
            raise failure
        return place_of(ticket)

    async def _post_full_text(
        self, session: AsyncSession, ticket: Ticket, place: Place | None
    ) -> None:
        """The whole text of a ticket too long for its card, in parts after the card."""
        if place is None or not ticket.body:
            return
        parts = split_text(ticket.body, TEXT_LIMIT - HEADER_ROOM)
        for index, part in enumerate(parts, start=1):
            text = self.t(
                "staff.full_text", number=ticket.number, part=index, total=len(parts), text=part
            )
            try:
                sent = await self.bot.send_message(
                    place.chat_id, text, parse_mode=ParseMode.HTML, **place.kwargs()
                )
            except TelegramAPIError as error:
                # The card (with the beginning) is posted; the rest stays readable in
                # /ticket and the resident's data, so this is not worth failing the card for.
                log.warning("could not post the full text of %s: %s", ticket.number, error)
                return
            staff_desk.remember_post(
                session,
                chat_id=place.chat_id,
                message_id=sent.message_id,
                ticket_id=ticket.id,
                purpose=staff_desk.PURPOSE_TEXT,
                now=self.clock(),
            )

    async def _post_next_message(self, ticket_id: int) -> Step | None:
        """Copy the oldest resident message not yet in the staff chat. Returns None when the
        ticket is gone; else where the ticket lives (None while it has no card: nothing is
        posted before the card) and whether more messages are waiting. One transaction per
        message, so a failure never re-posts the ones before it."""
        async with self.sessionmaker() as session, session.begin():
            # Two: the one to post now, and whether another is waiting (saves a transaction
            # that would only find nothing); with the ticket, in one round trip.
            found = await staff_desk.lock_ticket_with_unposted(
                session, ticket_id=ticket_id, limit=2
            )
            if found is None:
                return None
            ticket, stored_name, pending = found
            place = place_of(ticket)
            if ticket.card_message_id is None or place is None:
                return Step(place=None)
            if not pending:
                return Step(place=place)
            message = pending[0]
            name = self.cards.author_name(ticket, stored_name)
            sent_id = await self.copies.send(place, ticket, name, message)
            marked = await staff_desk.mark_posted(
                session, message, chat_id=place.chat_id, message_id=sent_id
            )
        if not marked:
            await self._delete_copy(place.chat_id, sent_id)
        return Step(place=place, posted=True, more=len(pending) > 1)

    # -- the card and the thread, after staff actions -----------------------------------------

    async def refresh_card(self, ticket_id: int) -> None:
        """Edit the card in place to show the ticket as it is now."""
        async with self.locked(ticket_id):
            async with self.sessionmaker() as session:
                ticket = await get_ticket(session, ticket_id=ticket_id)
                if ticket is None or ticket.card_message_id is None or ticket.staff_chat_id is None:
                    return
                text, _cut = self.cards.card_text(await self.card_data(session, ticket))
                markup = self.cards.card_buttons(ticket)
                chat_id, card_id = ticket.staff_chat_id, ticket.card_message_id
            await self.edit_text(chat_id, card_id, text, markup)

    async def edit_text(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        except TelegramBadRequest as error:
            if not _is_not_modified(error):
                log.warning("could not edit card %s in %s: %s", message_id, chat_id, error)
        except TelegramAPIError as error:
            log.warning("could not edit card %s in %s: %s", message_id, chat_id, error)

    async def set_buttons(
        self, chat_id: int, message_id: int, markup: InlineKeyboardMarkup | None
    ) -> None:
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=markup
            )
        except TelegramBadRequest as error:
            if not _is_not_modified(error):
                log.warning("could not change buttons of %s in %s: %s", message_id, chat_id, error)
        except TelegramAPIError as error:
            log.warning("could not change buttons of %s in %s: %s", message_id, chat_id, error)

    async def post_to_thread(
        self,
        ticket_id: int,
        text: str,
        *,
        purpose: str = staff_desk.PURPOSE_NOTICE,
        reply_to: int | None = None,
        markup: Markup_ | None = None,
        action: str | None = None,
        staff_id: int | None = None,
        data: dict[str, Any] | None = None,
    ) -> int | None:
        """Post a staff-facing message into the ticket's thread and remember it, so a reply to
        it finds the ticket (and a prompt's answer finds its action). None when the ticket is not
        in any staff chat or Telegram refused."""
        async with self.sessionmaker() as session:
            ticket = await get_ticket(session, ticket_id=ticket_id)
            place = place_of(ticket) if ticket is not None else None
        if place is None:
            return None
        try:
            sent = await self.bot.send_message(
                place.chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                **place.kwargs(reply_to=reply_to),
            )
        except TelegramAPIError as error:
            log.warning("could not post to the thread of ticket %s: %s", ticket_id, error)
            return None
        async with self.sessionmaker() as session, session.begin():
            staff_desk.remember_post(
                session,
                chat_id=place.chat_id,
                message_id=sent.message_id,
                ticket_id=ticket_id,
                purpose=purpose,
                now=self.clock(),
                action=action,
                staff_id=staff_id,
                data=data,
            )
        return sent.message_id

    async def post_rating(self, ticket_id: int) -> None:
        """Show the resident's rating in the thread (once per rating and comment) and on the
        card."""
        async with self.sessionmaker() as session:
            ticket = await get_ticket(session, ticket_id=ticket_id)
            if ticket is None or ticket.rating is None:
                return
            shown = {"rating": ticket.rating, "comment": ticket.rating_comment or ""}
            last = await staff_desk.last_post(
                session, ticket_id=ticket_id, purpose=staff_desk.PURPOSE_RATING
            )
            if last is not None and last.data == shown:
                return
        text = self.t("staff.rated", stars="⭐" * ticket.rating, n=ticket.rating)
        if ticket.rating_comment:
            comment, _ = shorten(ticket.rating_comment, 3000)
            text = Markup(text + "\n" + self.t("staff.rated_comment", text=comment))
        await self.post_to_thread(ticket_id, text, purpose=staff_desk.PURPOSE_RATING, data=shown)
        await self.refresh_card(ticket_id)

    async def post_resident_answer(self, effect: ResidentAnswered) -> None:
        """The resident's "resolved?" answer (and what followed it) in the ticket's thread, and
        on the card (a reopened ticket gets its buttons back). The resident's comment reaches
        the thread on its own, as their message."""
        what = effect.what
        if what == "refiled":
            async with self.sessionmaker() as session:
                other = (
                    await get_ticket(session, ticket_id=effect.other_ticket_id)
                    if effect.other_ticket_id is not None
                    else None
                )
            if other is None:
                return
            link = self.t(labels.CLOSURE_LINK[other.parent_link or "repeated"])
            text = self.t("closure.staff.refiled", link=link, number=other.number)
        elif what == "not_resolved":
            async with self.sessionmaker() as session:
                ticket = await get_ticket(session, ticket_id=effect.ticket_id)
            if ticket is None:
                return
            offer = self.t(labels.CLOSURE_STAFF_OFFER[ticket.kind])
            text = self.t("closure.staff.not_resolved", offer=offer)
        else:
            text = self.t(labels.CLOSURE_STAFF[what])
        await self.post_to_thread(effect.ticket_id, text)
        await self.refresh_card(effect.ticket_id)

    # -- catch-up ---------------------------------------------------------------------------

    async def post_pending(self, *, limit: int = PENDING_TICKETS) -> int:
        """Post what did not reach the staff chats (cards, residents' messages); run every
        minute. Stops at the first sign that Telegram is down. Returns the tickets handled."""
        now = self.clock()
        for ticket_id, retry_at in list(self._failed.items()):
            if retry_at <= now:
                del self._failed[ticket_id]
        async with self.sessionmaker() as session:
            fetch = limit + len(self._failed)
            without_card = await staff_desk.tickets_without_card(
                session, limit=fetch, with_chat_only=self.operator_chat_id is None
            )
            with_messages = await staff_desk.tickets_with_unposted_messages(
                session, limit=fetch, with_chat_only=self.operator_chat_id is None
            )
        candidates = [ticket.id for ticket in without_card] + with_messages
        queue = [tid for tid in dict.fromkeys(candidates) if tid not in self._failed][:limit]
        handled = 0
        for ticket_id in queue:
            try:
                await self.post_ticket(ticket_id)
            except TRANSIENT_ERRORS as error:
                log.warning("catch-up stopped, Telegram unavailable: %s", error)
                break
            except (TelegramAPIError, ChannelError) as error:
                log.warning("catch-up: ticket %s not posted: %s", ticket_id, error)
                if len(self._failed) < MAX_FAILED_TRACKED:
                    self._failed[ticket_id] = now + FAILED_BACKOFF
                continue
            handled += 1
        return handled
