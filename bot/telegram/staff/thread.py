"""Messages in a ticket's thread that are no command: a staff answer (relayed to the resident),
an internal note (``!`` first), and the reason or comment typed in reply to a prompt (extend,
refuse). Everything else in a staff chat is ordinary conversation and is left alone."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import MagicData
from aiogram.types import Message

from bot.telegram.staff import refusals
from bot.telegram.staff.edge import FLAG, Work
from bot.telegram.staff.service import ACTION_EXTEND, ACTION_REFUSE, REASON_MAX, StaffService
from handlers.staff.core import Refused
from handlers.staff.tickets import answering, terms
from handlers.staff.tickets.context import Attachment, Source
from messaging.contract import FILE_NAME_MAX
from messaging.text import clean_text, clip_file_name
from storage import staff_desk
from storage.models import DeskPost, Ticket

NOTE_PREFIX = "!"
# A refusal's comment typed as this means "no comment".
NO_COMMENT = "-"


def attachment_of(message: Message) -> Attachment | None:
    if message.photo:
        return Attachment("photo", message.photo[-1].file_id, None)
    if message.document is not None:
        name = message.document.file_name
        if name is not None:
            name = clip_file_name(clean_text(name), FILE_NAME_MAX)
        return Attachment("document", message.document.file_id, name)
    return None


def source_of(message: Message) -> Source:
    return Source(chat_id=message.chat.id, message_id=message.message_id)


async def in_thread(
    message: Message, text: str, ticket: Ticket, work: Work, staff: StaffService
) -> None:
    """An answer to the resident, or a note when it starts with ``!``."""
    if text.startswith(NOTE_PREFIX):
        kept = await answering.note(
            staff.tickets,
            work.actor,
            ticket.id,
            text[len(NOTE_PREFIX) :],
            attachment_of(message),
            source=source_of(message),
            within=work.within,
        )
        if not isinstance(kept, Refused):
            work.later(staff.reply, message, staff.t("staff.note.saved"))
        return
    answered = await answering.answer(
        staff.tickets,
        work.actor,
        ticket.id,
        text,
        attachment_of(message),
        source=source_of(message),
        within=work.within,
    )
    if isinstance(answered, Refused):
        work.later(staff.reply, message, refusals.on_answer(staff.t, answered))


async def prompt_reply(
    message: Message, text: str, prompt: DeskPost, work: Work, staff: StaffService
) -> None:
    """The reason of an extension or the comment of a refusal, typed in reply to the prompt."""
    if prompt.done_at is not None:
        return work.later(staff.reply, message, staff.t("staff.prompt.done"))
    reason = text.strip()
    if not reason:
        return work.later(staff.reply, message, staff.t("staff.prompt.empty"))
    if await staff_desk.lock_ticket(work.session, ticket_id=prompt.ticket_id) is None:
        return None
    prompt.done_at = work.edge.now
    reason = reason[:REASON_MAX]
    core, actor, within = staff.tickets, work.actor, work.within
    if prompt.action == ACTION_EXTEND:
        extended = await terms.extend(core, actor, prompt.ticket_id, reason, within=within)
        if isinstance(extended, Refused):
            done = refusals.on_card(staff.t, extended)
        else:
            done = staff.t("staff.event.extended", date=staff.cards.when(extended.value))
    elif prompt.action == ACTION_REFUSE:
        ground = str(prompt.data.get("ground", ""))
        comment = "" if reason == NO_COMMENT else reason
        refused = await terms.refuse(core, actor, prompt.ticket_id, ground, comment, within=within)
        if isinstance(refused, Refused):
            done = refusals.on_card(staff.t, refused)
        else:
            done = staff.t("staff.event.refused")
    else:
        return None
    work.later(staff.reply, message, done)
    return None


async def conversation(message: Message) -> None:
    """Ordinary conversation in a staff chat, outside any ticket: not ours to act on."""


def register(router: Router) -> None:
    router.message.register(prompt_reply, MagicData(F.prompt.is_not(None)), flags={FLAG: "prompt"})
    router.message.register(in_thread, MagicData(F.ticket.is_not(None)), flags={FLAG: "answer"})
    router.message.register(conversation)
