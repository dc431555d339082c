"""Every desk hears every staff action: the events of one action go to each desk in turn (the
web desk's live pages, the Telegram chat's card and topic), so an answer given in one desk shows
in the other."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from handlers.staff.tickets.context import DeskEvents

log = logging.getLogger(__name__)


class AllDesks:
    """``DeskEvents`` that tell each desk in order; one desk failing does not keep the news
    from the others (the action is stored already)."""

    def __init__(self, desks: Sequence[DeskEvents]) -> None:
        self._desks = tuple(desks)

    async def refresh_card(self, ticket_id: int) -> None:
        for desk in self._desks:
            try:
                await desk.refresh_card(ticket_id)
            except Exception:  # logged; the other desks still hear of it
                log.exception("desk %r: refreshing ticket %d failed", desk, ticket_id)

    async def repost(self, ticket_id: int) -> None:
        for desk in self._desks:
            try:
                await desk.repost(ticket_id)
            except Exception:  # logged; the other desks still hear of it
                log.exception("desk %r: reposting ticket %d failed", desk, ticket_id)

    async def delivery_failed(self, ticket_id: int, reason: str, *, reply_to: int | None) -> None:
        for desk in self._desks:
            try:
                await desk.delivery_failed(ticket_id, reason, reply_to=reply_to)
            except Exception:  # logged; the other desks still hear of it
                log.exception("desk %r: failure notice of ticket %d failed", desk, ticket_id)

    async def staff_wrote(self, ticket_id: int, message_id: int) -> None:
        for desk in self._desks:
            try:
                await desk.staff_wrote(ticket_id, message_id)
            except Exception:  # logged; the other desks still hear of it
                log.exception("desk %r: staff message of ticket %d not shown", desk, ticket_id)
