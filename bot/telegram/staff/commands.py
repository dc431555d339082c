"""The staff chat's commands: one aiogram handler per command, each calling the staff core and
replying in the chat. Commands that act on one ticket (``THREAD_COMMANDS``) work in its thread;
elsewhere they get one answer saying so."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Filter, MagicData
from aiogram.types import Message

from bot.telegram.staff import command_line as cl
from bot.telegram.staff import refusals
from bot.telegram.staff.card import shorten
from bot.telegram.staff.command_line import Command
from bot.telegram.staff.edge import FLAG, Work
from bot.telegram.staff.service import StaffService
from bot.telegram.staff.thread import attachment_of, source_of
from handlers.staff import press
from handlers.staff.core import Reason, Refused
from handlers.staff.tickets import answering, lookup, residents
from messaging import labels
from messaging.i18n import N_, Markup
from storage.classifier import CATEGORIES
from storage.media_text import TONES
from storage.models import Ticket


class IsCommand(Filter):
    """One of ``names``, as read by ``command_line.parse_command`` at the edge (which also
    drops commands addressed to other bots)."""

    def __init__(self, *names: str) -> None:
        self.names = frozenset(names)

    async def __call__(self, _message: Message, command: Command | None = None) -> bool:
        return command is not None and command.name in self.names


def _later_reply(work: Work, staff: StaffService, message: Message, text: str) -> None:
    work.later(staff.reply, message, text)


async def thread_only(message: Message, work: Work, staff: StaffService) -> None:
    _later_reply(work, staff, message, staff.t("staff.thread_only"))


async def show_help(message: Message, work: Work, staff: StaffService) -> None:
    _later_reply(work, staff, message, staff.t("staff.help"))


async def show_ticket(message: Message, command: Command, work: Work, staff: StaffService) -> None:
    words = command.args.split()
    number = words[0] if words else ""
    found = await lookup.ticket_by_number(staff.tickets, work.actor, number, within=work.within)
    if isinstance(found, Refused):
        key = "staff.ticket.usage" if found.reason is Reason.INVALID else "staff.ticket.not_found"
        return _later_reply(work, staff, message, staff.t(key, number=number))
    ticket = found.value
    text, _cut = staff.cards.card_text(await staff.desk.card_data(work.session, ticket))
    where = staff.t("staff.ticket.where", link=staff.link(ticket))
    _later_reply(work, staff, message, Markup(text + "\n\n" + where))


async def find(message: Message, command: Command, work: Work, staff: StaffService) -> None:
    query = command.args.strip()
    found = await lookup.find(staff.tickets, work.actor, query, within=work.within)
    if isinstance(found, Refused):
        return _later_reply(work, staff, message, staff.t("staff.find.usage"))
    if not found.value:
        text = staff.t("staff.find.none", text=query[: lookup.FIND_MAX])
        return _later_reply(work, staff, message, text)
    lines = [staff.t("staff.find.header", count=len(found.value))]
    for item in found.value:
        ticket = item.ticket
        lines.append(
            staff.t(
                "staff.find.line",
                number=ticket.number,
                kind=staff.cards.label(labels.STAFF_KIND, ticket.kind),
                status=staff.cards.label(labels.STAFF_STATUS, ticket.status),
                name=shorten(staff.cards.resident_name(ticket, item.resident), 60)[0],
                link=staff.link(ticket),
            )
        )
    _later_reply(work, staff, message, Markup("\n".join(lines)))


async def list_templates(message: Message, work: Work, staff: StaffService) -> None:
    found = await lookup.templates(staff.tickets, work.actor, within=work.within)
    if isinstance(found, Refused) or not found.value:
        return _later_reply(work, staff, message, staff.t("staff.templates.none"))
    lines = [staff.t("staff.templates.header")]
    for template in found.value:
        preview, _ = shorten(" ".join(template.text.split()), 80)
        lines.append(staff.t("staff.templates.line", name=template.name, preview=preview))
    _later_reply(work, staff, message, Markup("\n".join(lines)))


async def add_template(message: Message, command: Command, work: Work, staff: StaffService) -> None:
    name, _, text = command.args.partition(" ")
    saved = await lookup.save_template(staff.tickets, work.actor, name, text, within=work.within)
    if isinstance(saved, Refused):
        usage = N_("staff.template.usage_add")
        reply = refusals.on_template(staff.t, saved, usage=usage, name=name)
    else:
        reply = staff.t("staff.template.saved", name=saved.value)
    _later_reply(work, staff, message, reply)


async def delete_template(
    message: Message, command: Command, work: Work, staff: StaffService
) -> None:
    name = command.args.partition(" ")[0]
    deleted = await lookup.delete_template(staff.tickets, work.actor, name, within=work.within)
    if isinstance(deleted, Refused):
        usage = N_("staff.template.usage_del")
        reply = refusals.on_template(staff.t, deleted, usage=usage, name=name)
    else:
        reply = staff.t("staff.template.deleted", name=deleted.value)
    _later_reply(work, staff, message, reply)


async def note(
    message: Message, command: Command, ticket: Ticket, work: Work, staff: StaffService
) -> None:
    kept = await answering.note(
        staff.tickets,
        work.actor,
        ticket.id,
        command.args,
        attachment_of(message),
        source=source_of(message),
        within=work.within,
    )
    if not isinstance(kept, Refused):
        _later_reply(work, staff, message, staff.t("staff.note.saved"))


async def answer_from_template(
    message: Message, command: Command, ticket: Ticket, work: Work, staff: StaffService
) -> None:
    name = command.args.split(" ", 1)[0] if command.args else ""
    answered = await answering.answer_from_template(
        staff.tickets,
        work.actor,
        ticket.id,
        name,
        attachment_of(message),
        source=source_of(message),
        within=work.within,
    )
    if isinstance(answered, Refused):
        text = refusals.on_answer(staff.t, answered, template=command.args)
        _later_reply(work, staff, message, text)


async def ban(
    message: Message, command: Command, ticket: Ticket, work: Work, staff: StaffService
) -> None:
    banning = command.name == cl.CMD_BAN
    mark = work.mark()
    done = await residents.set_banned(
        staff.tickets,
        work.actor,
        ticket.id,
        ban=banning,
        source=source_of(message),
        within=work.within,
    )
    if isinstance(done, Refused):
        return _later_reply(work, staff, message, refusals.on_ban(staff.t, done))
    # Staff read that it is done before anything else follows up on it.
    key = "staff.ban.done" if banning else "staff.unban.done"
    work.before(mark, staff.reply, message, staff.t(key))


def media_tags(args: str) -> tuple[int, str | None, str | None] | None:
    """``/media 12 social negative`` (topic and tone codes in any order, either may be left
    out): the item and the tags; None when the line is not that."""
    words = args.lower().split()
    if not words or not words[0].isdigit() or len(words[0]) > 12:
        return None
    topic = next((w for w in words[1:] if w in CATEGORIES), None)
    tone = next((w for w in words[1:] if w in TONES), None)
    if len(words) - 1 != (topic is not None) + (tone is not None):
        return None
    return int(words[0]), topic, tone


async def correct_media(
    message: Message, command: Command, work: Work, staff: StaffService
) -> None:
    wanted = media_tags(command.args)
    if wanted is None:
        return _later_reply(work, staff, message, staff.t("staff.media.usage"))
    item_id, topic, tone = wanted
    done = await press.correct_item(
        staff.tickets.core,
        work.actor,
        item_id,
        topic=topic,
        tone=tone,
        session=work.within.session,
        after=work.within.after,
    )
    if isinstance(done, Refused):
        if done.reason is Reason.NOT_FOUND:
            reply = staff.t("staff.media.not_found", id=item_id)
        elif done.reason is Reason.INVALID:
            reply = staff.t("staff.media.usage")
        else:
            reply = refusals.denied(staff.t, done)
        return _later_reply(work, staff, message, reply)
    item = done.value
    reply = staff.t(
        "staff.media.corrected",
        id=item.id,
        category=staff.cards.label(labels.STAFF_CATEGORY, item.topic),
        tone=staff.cards.label(labels.MEDIA_TONE, item.tone),
    )
    _later_reply(work, staff, message, reply)


def register(router: Router) -> None:
    """Commands first (before answers and prompt replies), in the order they are tried."""
    flags = {FLAG: "command"}
    on = router.message.register
    on(thread_only, IsCommand(*cl.THREAD_COMMANDS), MagicData(F.ticket.is_(None)), flags=flags)
    on(show_help, IsCommand(cl.CMD_HELP), flags=flags)
    on(show_ticket, IsCommand(cl.CMD_TICKET), flags=flags)
    on(find, IsCommand(cl.CMD_FIND), flags=flags)
    on(list_templates, IsCommand(cl.CMD_TEMPLATES), flags=flags)
    on(add_template, IsCommand(cl.CMD_TEMPLATE_ADD), flags=flags)
    on(delete_template, IsCommand(cl.CMD_TEMPLATE_DEL), flags=flags)
    on(note, IsCommand(cl.CMD_NOTE), flags=flags)
    on(answer_from_template, IsCommand(cl.CMD_TEMPLATE), flags=flags)
    on(ban, IsCommand(cl.CMD_BAN, cl.CMD_UNBAN), flags=flags)
    on(correct_media, IsCommand(cl.CMD_MEDIA), flags=flags)
