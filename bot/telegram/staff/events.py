"""The Telegram desk's follow-ups after a staff action is stored (``DeskEvents`` of the staff
core): edit the card, post the ticket to its new queue's chat, show a failed delivery in the
thread."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError

from bot.telegram.staff.desk import Desk

log = logging.getLogger(__name__)


class TelegramDeskEvents:
    def __init__(self, desk: Desk) -> None:
        self._desk = desk

    async def refresh_card(self, ticket_id: int) -> None:
        await self._desk.refresh_card(ticket_id)

    async def repost(self, ticket_id: int) -> None:
        try:
            await self._desk.post_ticket(ticket_id)
        except TelegramAPIError as error:
            # The catch-up job posts it later.
            log.warning("handed-over ticket %s not posted yet: %s", ticket_id, error)

    async def delivery_failed(self, ticket_id: int, reason: str, *, reply_to: int | None) -> None:
        await self._desk.post_to_thread(
            ticket_id, self._desk.t("staff.delivery_failed", reason=reason), reply_to=reply_to
        )
