"""How a resident's message is copied into their ticket's thread in the staff chat: a text in
parts at Telegram's limit, a file with the resident's caption, a location as a pin."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import Message

from bot.telegram.lean import BotApi
from bot.telegram.staff import resident_files
from bot.telegram.staff.card import CAPTION_LIMIT, TEXT_LIMIT, CardRenderer
from bot.telegram.staff.place import Place
from messaging.i18n import labels
from messaging.text import markup_to_plain, split_text, utf16_len
from storage.models import Ticket, TicketMessage

log = logging.getLogger(__name__)

# Room for the header of a resident's message or of a continuation part.
HEADER_ROOM = 200


class ResidentCopies:
    def __init__(
        self, *, bot: Bot, api: BotApi, cards: CardRenderer, files: resident_files.ResidentFiles
    ) -> None:
        self.bot = bot
        self.api = api
        self.cards = cards
        self.files = files

    async def send(self, place: Place, ticket: Ticket, name: str, message: TicketMessage) -> int:
        text = message.text or ""
        kind = message.attachment_kind
        ref = message.attachment_ref or ""
        if kind in resident_files.KINDS:
            # The resident's caption goes with the file (or after it when too long).
            caption = self.cards.t(
                "staff.from_resident.caption", name=name, number=ticket.number, text=text
            )
            fits = utf16_len(markup_to_plain(caption)) <= CAPTION_LIMIT
            if not fits:
                caption = self.cards.t(
                    "staff.from_resident.caption", name=name, number=ticket.number, text=""
                )
            try:
                sent_id = (await self._file(place, kind, ref, caption)).message_id
            except (TelegramBadRequest, resident_files.FileGone) as error:
                # A file Telegram cannot take (an expired Viber link in a ticket from before
                # Viber files were kept, a type it will not fetch by URL), or a kept copy
                # erased meanwhile: staff get a line saying so instead of losing the message.
                log.info("attachment of %s not shown: %s", ticket.number, error)
                sent_id = await self._text(
                    place,
                    self.cards.t(
                        "staff.attachment_failed",
                        name=name,
                        kind=self.cards.label(labels.STAFF_ATTACHMENT, kind),
                        file=message.attachment_name or "",
                        ref=ref if ref.startswith("https://") else "",
                    ),
                )
            if text and not fits:
                await self._long(place, name, ticket, text)
            return sent_id
        if kind == "location":
            pin = await self._location(place, ref)
            first = (
                pin.message_id
                if pin is not None
                else await self._text(
                    place, self.cards.t("staff.location_text", name=name, ref=ref)
                )
            )
            if text:
                await self._long(place, name, ticket, text)
            return first
        if kind is not None:
            label = self.cards.label(labels.STAFF_ATTACHMENT, kind)
            text = f"{text}\n[{label}]" if text else f"[{label}]"
        return await self._long(place, name, ticket, text or "—")

    async def _long(self, place: Place, name: str, ticket: Ticket, text: str) -> int:
        """A resident's text, split at Telegram's limit; returns the first part's id."""
        first: int | None = None
        for part in split_text(text, TEXT_LIMIT - HEADER_ROOM):
            sent = await self._text(
                place,
                self.cards.t("staff.from_resident", name=name, number=ticket.number, text=part),
            )
            first = first or sent
        assert first is not None
        return first

    async def _text(self, place: Place, text: str) -> int:
        """A text copy in the ticket's thread, as plain JSON (``bot.telegram.lean``)."""
        return await self.api.send_text(place.chat_id, text, **place.json_kwargs())

    async def _file(self, place: Place, kind: str, ref: str, caption: str) -> Message:
        return await self.files.send(place.chat_id, kind, ref, caption, **place.kwargs())

    async def _location(self, place: Place, ref: str) -> Message | None:
        latitude, _, longitude = ref.partition(",")
        try:
            lat, lon = float(latitude), float(longitude)
        except ValueError:
            return None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            return None
        return await self.bot.send_location(place.chat_id, lat, lon, **place.kwargs())
