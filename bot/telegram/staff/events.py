"""The Telegram desk's follow-ups after a staff action is stored (``DeskEvents`` of the staff
core): edit the card, post the ticket to its new queue's chat, show a failed delivery in the
thread, and show in the ticket's topic what colleagues wrote in another desk (the web desk)."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError

from bot.telegram.staff import resident_files
from bot.telegram.staff.card import CAPTION_LIMIT, TEXT_LIMIT, shorten
from bot.telegram.staff.desk import Desk
from bot.telegram.staff.place import place_of
from messaging.contract import ChannelError
from messaging.text import markup_to_plain, utf16_len
from storage import staff_desk
from storage.models import Staff, TicketMessage
from storage.tickets import get_ticket
from storage.vocabulary import MessageDirection

log = logging.getLogger(__name__)

# Room the header ("Марія (веб): ") takes in a mirrored message.
HEADER_ROOM = 300


class TelegramDeskEvents:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    async def refresh_card(self, ticket_id: int) -> None:
        await self._desk.refresh_card(ticket_id)

    async def repost(self, ticket_id: int) -> None:
        try:
            await self._desk.post_ticket(ticket_id)
        except (TelegramAPIError, ChannelError) as error:
            # The catch-up job posts it later.
            log.warning("handed-over ticket %s not posted yet: %s", ticket_id, error)

    async def delivery_failed(self, ticket_id: int, reason: str, *, reply_to: int | None) -> None:
        await self._desk.post_to_thread(
            ticket_id, self._desk.t("staff.delivery_failed", reason=reason), reply_to=reply_to
        )

    async def staff_wrote(self, ticket_id: int, message_id: int) -> None:
        """An answer or note given outside this chat (it has no Telegram message of its own)
        is posted into the ticket's topic with its author, so colleagues in Telegram see the
        whole conversation; then the card shows the ticket as it is now."""
        desk = self._desk
        async with desk.sessionmaker() as session:
            message = await session.get(TicketMessage, message_id)
            if message is None or message.staff_message_id is not None:
                return  # written in this chat: it is there already
            author = await session.get(Staff, message.author_id) if message.author_id else None
            ticket = await get_ticket(session, ticket_id=ticket_id)
            place = place_of(ticket) if ticket is not None else None
        if place is None:
            return  # not in any staff chat (yet): the card, when posted, shows the state
        name = author.display_name if author is not None else "—"
        key = (
            "staff.mirror.note"
            if message.direction == MessageDirection.NOTE
            else "staff.mirror.answer"
        )
        text, _cut = shorten(message.text or "", TEXT_LIMIT - HEADER_ROOM)
        kind, ref = message.attachment_kind, message.attachment_ref
        if kind in resident_files.KINDS and ref:
            caption = desk.t(key, name=name, text=text)
            fits = utf16_len(markup_to_plain(caption)) <= CAPTION_LIMIT
            try:
                sent = await desk.files.send(
                    place.chat_id,
                    kind,
                    ref,
                    caption if fits else desk.t(key, name=name, text=""),
                    **place.kwargs(),
                )
            except (TelegramAPIError, resident_files.FileGone) as error:
                log.warning("staff file of ticket %s not mirrored: %s", ticket_id, error)
            else:
                async with desk.sessionmaker() as session, session.begin():
                    staff_desk.remember_post(
                        session,
                        chat_id=place.chat_id,
                        message_id=sent.message_id,
                        ticket_id=ticket_id,
                        purpose=staff_desk.PURPOSE_NOTICE,
                        now=desk.clock(),
                    )
                if fits:
                    await desk.refresh_card(ticket_id)
                    return
        await desk.post_to_thread(ticket_id, desk.t(key, name=name, text=text))
        await desk.refresh_card(ticket_id)
