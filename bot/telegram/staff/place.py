"""Where a ticket's thread is in a staff chat: a forum topic, or replies to the card in an
ordinary group (stored on the ticket as ``staff_chat_id``, ``thread_id``, ``card_message_id``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram.types import ReplyParameters

from storage.models import Ticket


@dataclass(frozen=True, slots=True)
class Place:
    """Where a ticket's thread is: a forum topic, or replies to the card in an ordinary group."""

    chat_id: int
    thread_id: int | None = None
    root_id: int | None = None

    def kwargs(self, *, reply_to: int | None = None) -> dict[str, Any]:
        """Arguments that put a message into the thread (and reply to ``reply_to``)."""
        out: dict[str, Any] = {}
        if self.thread_id is not None:
            out["message_thread_id"] = self.thread_id
        target = (
            reply_to if reply_to is not None else (self.root_id if self.thread_id is None else None)
        )
        if target is not None:
            out["reply_parameters"] = ReplyParameters(
                message_id=target, allow_sending_without_reply=True
            )
        return out

    def json_kwargs(self) -> dict[str, Any]:
        """``kwargs`` as the Bot API's JSON fields (``bot.telegram.lean``)."""
        out = self.kwargs()
        reply = out.get("reply_parameters")
        if isinstance(reply, ReplyParameters):
            out["reply_parameters"] = {
                "message_id": reply.message_id,
                "allow_sending_without_reply": True,
            }
        return out


@dataclass(frozen=True, slots=True)
class Step:
    """One attempt to copy a resident's message: where the ticket lives (None: no card yet),
    whether a message was posted, and whether more are waiting."""

    place: Place | None
    posted: bool = False
    more: bool = False


def place_of(ticket: Ticket) -> Place | None:
    if ticket.staff_chat_id is None or (
        ticket.thread_id is None and ticket.card_message_id is None
    ):
        return None
    root = ticket.card_message_id if ticket.thread_id is None else None
    return Place(chat_id=ticket.staff_chat_id, thread_id=ticket.thread_id, root_id=root)
