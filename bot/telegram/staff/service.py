"""What staff do in their chats: answer, note, take, hand over, extend, refuse, close, ban, look
up tickets, use canned answers.

Every staff event is one transaction, opened here at the edge: it claims the Telegram update (so a
redelivered update does nothing twice), checks that the sender is registered staff, changes the
ticket and writes the audit entry. Only after the commit does anything leave the process (the
answer to the resident, notices, card edits): an action is never announced that was not stored,
and no Telegram call is made while a ticket row is locked by this transaction (the desk locks the
same rows in its own sessions).
"""

from __future__ import annotations

import functools
import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ForceReply, Message, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff import callbacks as cb
from bot.telegram.staff.card import CardRenderer, can_change_term, shorten
from bot.telegram.staff.desk import Desk
from handlers.staff.notices import Notices
from handlers.tickets.followups import record_delivery
from messaging.contract import FILE_NAME_MAX, Reply
from messaging.i18n import N_, Catalog, Markup, labels
from messaging.text import clean_text, clip_file_name, markup_to_plain
from storage import audit, dedup, linking, recategorize, staff_desk, ticket_events, ticket_rules
from storage.calendar import WorkCalendar
from storage.calendar_store import load_calendar
from storage.deadlines import (
    AppealTerm,
    TicketKind,
    extension_refusal,
    initial_deadline,
    maximum_extension,
)
from storage.models import DeskPost, Resident, Staff, Ticket, TicketMessage
from storage.staff import get_staff
from storage.ticket_events import Happened
from storage.ticket_rules import REFUSAL_GROUNDS, TransitionError
from storage.tickets import (
    add_message,
    get_queue,
    get_ticket_by_number,
    is_open,
    list_queues,
    ticket_by_thread,
)
from storage.vocabulary import Channel, Clock, MessageDirection, Role, TicketStatus

log = logging.getLogger(__name__)

# Updates of the staff chats are claimed in the same namespace as residents' Telegram updates:
# ``<bot id>:<update_id>`` is unique per bot whatever the chat.
CLAIM_CHANNEL = Channel.TELEGRAM.value

NOTE_PREFIX = "!"
CMD_TICKET = "ticket"
CMD_FIND = "find"
CMD_TEMPLATES = "templates"
CMD_TEMPLATE = "t"
CMD_TEMPLATE_ADD = "template_add"
CMD_TEMPLATE_DEL = "template_del"
CMD_BAN = "ban"
CMD_UNBAN = "unban"
CMD_NOTE = "note"
CMD_HELP = "help"
COMMANDS = frozenset(
    {
        CMD_TICKET,
        CMD_FIND,
        CMD_TEMPLATES,
        CMD_TEMPLATE,
        CMD_TEMPLATE_ADD,
        CMD_TEMPLATE_DEL,
        CMD_BAN,
        CMD_UNBAN,
        CMD_NOTE,
        CMD_HELP,
    }
)
# Commands that act on one ticket: used in its topic or as a reply in its thread.
THREAD_COMMANDS = frozenset({CMD_TEMPLATE, CMD_BAN, CMD_UNBAN, CMD_NOTE})
TEMPLATE_EDITORS = frozenset({Role.ADMIN.value, Role.EDITOR.value})

ACTION_EXTEND = "extend"
ACTION_REFUSE = "refuse"

FIND_LIMIT = 10
TEMPLATES_SHOWN = 50
TEMPLATE_TEXT_MAX = 3500
REASON_MAX = 1000
NOTICE_TEXT_MAX = 4000
# staff.name (a Telegram first and last name are 64 characters each).
STAFF_NAME_MAX = 256
_TEMPLATE_NAME = re.compile(r"^[\w-]{1,64}$")

After = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str


_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)


def parse_command(text: str, bot_username: str) -> Command | None:
    """``/ban@citybot extra`` -> Command("ban", "extra"); None for plain text (``/path/x`` too)
    or for a command addressed to another bot. Arguments keep their line breaks (templates)."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    name, addressee, args = match.groups()
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return Command(name=name.lower(), args=(args or "").strip())


def _is_content(message: Message) -> bool:
    """Something a person sent, as opposed to service messages (a pinned message, a topic
    renamed, members joining), which must never be taken for an answer."""
    return any(
        value is not None
        for value in (
            message.text,
            message.caption,
            message.photo,
            message.document,
            message.sticker,
            message.voice,
            message.video,
            message.video_note,
            message.audio,
            message.animation,
            message.location,
            message.contact,
            message.poll,
        )
    )


def actor_of(staff: Staff) -> str:
    return f"staff:{staff.telegram_id}"


def full_name(user: User) -> str:
    name = " ".join(part for part in (user.first_name, user.last_name) if part)
    return clean_text(name) or str(user.id)


@dataclass
class Work:
    """One staff event: its transaction's session, and what to do once it commits."""

    session: AsyncSession
    now: datetime
    after: list[After] = field(default_factory=list)
    # The text of the callback answer (buttons only).
    answer: str | None = None
    alert: bool = False

    def later(
        self, step: Callable[..., Awaitable[None]], /, *args: object, **kwargs: object
    ) -> None:
        self.after.append(functools.partial(step, *args, **kwargs))

    async def run_after(self, log: logging.Logger, what: str) -> None:
        """Run the steps queued with ``later`` once the transaction committed. The data is
        stored already: a Telegram message or edit that did not go out is logged (as ``what``'s
        follow-up) and is not worth failing the other steps for."""
        for step in self.after:
            try:
                await step()
            except TelegramAPIError as error:
                log.warning("%s follow-up step failed: %s", what, error)


class StaffService:
    def __init__(
        self,
        *,
        desk: Desk,
        notices: Notices,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        zone: ZoneInfo,
        operator_chat_id: int | None,
        feedback_days: int,
        legal_aid_days: int,
    ) -> None:
        self.desk = desk
        self.notices = notices
        self.sessionmaker = sessionmaker
        self.cards = CardRenderer(catalog, zone=zone)
        self.clock = clock
        self.zone = zone
        self.operator_chat_id = operator_chat_id
        self.feedback_days = feedback_days
        self.legal_aid_days = legal_aid_days

    def t(self, key: str, /, **params: object) -> Markup:
        return self.cards.t(key, **params)

    async def is_staff_chat(self, chat_id: int) -> bool:
        async with self.sessionmaker() as session:
            return await staff_desk.is_staff_chat(
                session, chat_id=chat_id, operator_chat_id=self.operator_chat_id
            )

    # -- finding the ticket of a message ------------------------------------------------------

    async def _ticket_of(self, session: AsyncSession, message: Message) -> Ticket | None:
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

    async def _prompt_of(self, session: AsyncSession, message: Message) -> DeskPost | None:
        reply = message.reply_to_message
        if reply is None:
            return None
        post = await staff_desk.get_post(
            session, chat_id=message.chat.id, message_id=reply.message_id
        )
        return post if post is not None and post.purpose == staff_desk.PURPOSE_PROMPT else None

    # -- messages -----------------------------------------------------------------------------

    async def on_message(self, message: Message, *, update_key: str, bot_username: str) -> None:
        user = message.from_user
        if user is None or not _is_content(message):
            return
        # Cleaned as residents' texts are (``messaging.text.clean_text``) before anything is
        # stored: answers, notes, templates and reasons come from here.
        text = clean_text(message.text if message.text is not None else (message.caption or ""))
        command = parse_command(text, bot_username)
        if command is not None and command.name not in COMMANDS:
            return  # another bot's command, or a resident command typed in the group
        async with self.sessionmaker() as session, session.begin():
            work = Work(session=session, now=self.clock())
            ticket = await self._ticket_of(session, message)
            prompt = await self._prompt_of(session, message)
            if command is None and prompt is None and ticket is None:
                return  # ordinary conversation in the chat, outside any ticket
            if not await dedup.claim_update(
                session, channel=CLAIM_CHANNEL, update_key=update_key, now=work.now
            ):
                return
            staff = await get_staff(session, telegram_id=user.id)
            if staff is None:
                what = f"/{command.name}" if command else ("prompt" if prompt else "answer")
                self._deny(work, user, message.chat.id, what, ticket)
                work.later(self._reply, message, self.t("staff.denied"))
            else:
                if staff.name is None:
                    # Cards show who took a ticket; the staff list may not have names yet.
                    staff.name = full_name(user)[:STAFF_NAME_MAX]
                if command is not None:
                    await self._command(work, staff, message, command, ticket)
                elif prompt is not None:
                    await self._complete_prompt(work, staff, message, prompt, text)
                elif ticket is not None:
                    if text.startswith(NOTE_PREFIX):
                        await self._note(work, staff, message, ticket, text[len(NOTE_PREFIX) :])
                    else:
                        await self._answer(work, staff, message, ticket, text)
        await work.run_after(log, "staff")

    def _deny(self, work: Work, user: User, chat_id: int, what: str, ticket: Ticket | None) -> None:
        audit.record(
            work.session,
            actor=f"telegram:{user.id}",
            action="staff.denied",
            now=work.now,
            subject=f"ticket:{ticket.id}" if ticket is not None else None,
            details={"chat": chat_id, "what": what, "name": full_name(user)[:128]},
        )
        log.info("staff action %s by non-staff user %s refused", what, user.id)

    async def _reply(self, message: Message, text: str) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML)

    def _audit(
        self, work: Work, staff: Staff, action: str, ticket: Ticket, **details: object
    ) -> None:
        audit.record(
            work.session,
            actor=actor_of(staff),
            action=action,
            now=work.now,
            subject=f"ticket:{ticket.id}",
            details={"number": ticket.number, **details},
        )

    async def _resident(self, session: AsyncSession, ticket: Ticket) -> Resident | None:
        """The ticket's resident; None only when the profile is gone. /forget erases personal
        data but keeps the messenger identity, so such a resident can still be answered."""
        if ticket.resident_id is None:
            return None
        return await session.get(Resident, ticket.resident_id)

    # -- answers and notes ----------------------------------------------------------------------

    @staticmethod
    def _attachment(message: Message) -> tuple[str, str, str | None] | None:
        if message.photo:
            return ("photo", message.photo[-1].file_id, None)
        if message.document is not None:
            name = message.document.file_name
            if name is not None:
                name = clip_file_name(clean_text(name), FILE_NAME_MAX)
            return ("document", message.document.file_id, name)
        return None

    async def _answer(
        self, work: Work, staff: Staff, message: Message, ticket: Ticket, text: str
    ) -> None:
        """Relay a staff message to the resident and record it."""
        attachment = self._attachment(message)
        text = text.strip()
        if not text and attachment is None:
            work.later(self._reply, message, self.t("staff.answer.unsupported"))
            return
        ticket = await self._lock(work.session, ticket)
        if not is_open(ticket):
            work.later(self._reply, message, self.t("staff.answer.closed", number=ticket.number))
            return
        resident = await self._resident(work.session, ticket)
        if resident is None:
            work.later(self._reply, message, self.t("staff.answer.no_resident"))
            return
        # Where the answer goes: a person linked in both messengers is reached through the one
        # they prefer, and a file must be sent in that messenger's form.
        channel = (await linking.delivery_identity(work.session, resident)).channel
        if attachment is not None and not self.notices.can_send_files(resident, channel=channel):
            work.later(self._reply, message, self.t("staff.answer.no_media_links"))
            return
        record = add_message(
            work.session,
            ticket,
            direction=MessageDirection.STAFF,
            now=work.now,
            text=text or None,
            author_id=staff.telegram_id,
            attachment=attachment,
            staff_chat_id=message.chat.id,
            staff_message_id=message.message_id,
        )
        await work.session.flush()
        before = (ticket.status, ticket.assignee_id)
        first = ticket_rules.record_answer(ticket, staff_id=staff.telegram_id, now=work.now)
        if first:
            # The resident's timeline shows when their ticket was answered (again after a
            # reopening).
            ticket_events.record(
                work.session, ticket, Happened.ANSWERED, now=work.now, staff_id=staff.telegram_id
            )
        self._audit(
            work,
            staff,
            "ticket.answer",
            ticket,
            message=record.id,
            attachment=attachment[0] if attachment else None,
        )
        reply = self.notices.answer(
            resident, ticket, text=text, attachment=attachment, first=first, channel=channel
        )
        work.later(
            self._deliver, resident, reply, ticket.id, record.id, message.message_id, answer=True
        )
        if (ticket.status, ticket.assignee_id) != before:
            work.later(self.desk.refresh_card, ticket.id)

    async def _deliver(
        self,
        resident: Resident,
        reply: Reply,
        ticket_id: int,
        record_id: int | None,
        staff_message_id: int | None,
        *,
        answer: bool = False,
    ) -> None:
        """Send to the resident; a failure is stored on the message and shown in the thread.
        What was sent is recorded, so the resident's reply to it continues the ticket."""
        reason, sent = await self.notices.deliver_tracked(resident, reply)
        if reason is None:
            await record_delivery(
                self.sessionmaker,
                resident_id=resident.id,
                ticket_id=ticket_id,
                message_ids=sent,
                answer=answer,
                now=self.clock(),
            )
            return
        if record_id is not None:
            async with self.sessionmaker() as session, session.begin():
                stored = await session.get(TicketMessage, record_id)
                if stored is not None:
                    stored.delivery_error = reason[:1000]
        await self.desk.post_to_thread(
            ticket_id,
            self.t("staff.delivery_failed", reason=reason),
            reply_to=staff_message_id,
        )

    async def _note(
        self, work: Work, staff: Staff, message: Message, ticket: Ticket, text: str
    ) -> None:
        add_message(
            work.session,
            ticket,
            direction=MessageDirection.NOTE,
            now=work.now,
            text=text.strip() or None,
            author_id=staff.telegram_id,
            attachment=self._attachment(message),
            staff_chat_id=message.chat.id,
            staff_message_id=message.message_id,
        )
        self._audit(work, staff, "ticket.note", ticket)
        work.later(self._reply, message, self.t("staff.note.saved"))

    async def _lock(self, session: AsyncSession, ticket: Ticket) -> Ticket:
        """The ticket again, with its row locked for this transaction (PostgreSQL)."""
        locked = await staff_desk.lock_ticket(session, ticket_id=ticket.id)
        assert locked is not None
        return locked

    # -- commands -----------------------------------------------------------------------------

    async def _command(
        self, work: Work, staff: Staff, message: Message, command: Command, ticket: Ticket | None
    ) -> None:
        name, args = command.name, command.args
        if name in THREAD_COMMANDS and ticket is None:
            work.later(self._reply, message, self.t("staff.thread_only"))
            return
        if name == CMD_HELP:
            work.later(self._reply, message, self.t("staff.help"))
        elif name == CMD_TICKET:
            await self._show_ticket(work, message, args)
        elif name == CMD_FIND:
            await self._find(work, message, args)
        elif name == CMD_TEMPLATES:
            await self._templates(work, message)
        elif name in (CMD_TEMPLATE_ADD, CMD_TEMPLATE_DEL):
            await self._edit_template(work, staff, message, name, args)
        elif ticket is None:
            return
        elif name == CMD_NOTE:
            await self._note(work, staff, message, ticket, args)
        elif name == CMD_TEMPLATE:
            template = (
                await staff_desk.get_template(work.session, name=args.split(" ", 1)[0])
                if args
                else None
            )
            if template is None:
                work.later(self._reply, message, self.t("staff.template.not_found", name=args))
                return
            await self._answer(work, staff, message, ticket, template.text)
        elif name in (CMD_BAN, CMD_UNBAN):
            await self._ban(work, staff, message, ticket, ban=name == CMD_BAN)

    def _link(self, ticket: Ticket) -> Markup:
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

    async def _show_ticket(self, work: Work, message: Message, args: str) -> None:
        number = args.split()[0] if args.split() else ""
        if not number:
            work.later(self._reply, message, self.t("staff.ticket.usage"))
            return
        ticket = await get_ticket_by_number(work.session, number=number)
        if ticket is None:
            work.later(self._reply, message, self.t("staff.ticket.not_found", number=number))
            return
        text, _cut = self.cards.card_text(await self.desk.card_data(work.session, ticket))
        where = self.t("staff.ticket.where", link=self._link(ticket))
        work.later(self._reply, message, Markup(text + "\n\n" + where))

    async def _find(self, work: Work, message: Message, args: str) -> None:
        query = args.strip()
        if len(query) < 2:
            work.later(self._reply, message, self.t("staff.find.usage"))
            return
        found = await staff_desk.search_tickets(work.session, text=query[:100], limit=FIND_LIMIT)
        if not found:
            work.later(self._reply, message, self.t("staff.find.none", text=query[:100]))
            return
        lines = [self.t("staff.find.header", count=len(found))]
        for ticket in found:
            resident = await self._resident(work.session, ticket)
            lines.append(
                self.t(
                    "staff.find.line",
                    number=ticket.number,
                    kind=self.cards.label(labels.STAFF_KIND, ticket.kind),
                    status=self.cards.label(labels.STAFF_STATUS, ticket.status),
                    name=shorten(self.cards.resident_name(ticket, resident), 60)[0],
                    link=self._link(ticket),
                )
            )
        work.later(self._reply, message, Markup("\n".join(lines)))

    async def _templates(self, work: Work, message: Message) -> None:
        templates = await staff_desk.list_templates(work.session, limit=TEMPLATES_SHOWN)
        if not templates:
            work.later(self._reply, message, self.t("staff.templates.none"))
            return
        lines = [self.t("staff.templates.header")]
        for template in templates:
            preview, _ = shorten(" ".join(template.text.split()), 80)
            lines.append(self.t("staff.templates.line", name=template.name, preview=preview))
        work.later(self._reply, message, Markup("\n".join(lines)))

    async def _edit_template(
        self, work: Work, staff: Staff, message: Message, name: str, args: str
    ) -> None:
        if staff.role not in TEMPLATE_EDITORS:
            work.later(self._reply, message, self.t("staff.template.forbidden"))
            return
        key, _, text = args.partition(" ")
        text = text.strip()
        if name == CMD_TEMPLATE_ADD:
            if not _TEMPLATE_NAME.match(key) or not text or len(text) > TEMPLATE_TEXT_MAX:
                work.later(self._reply, message, self.t("staff.template.usage_add"))
                return
            _template, created = await staff_desk.save_template(
                work.session, name=key, text=text, now=work.now
            )
            audit.record(
                work.session,
                actor=actor_of(staff),
                action="template.save",
                now=work.now,
                subject=f"template:{key.lower()}",
                details={"created": created},
            )
            work.later(self._reply, message, self.t("staff.template.saved", name=key.lower()))
            return
        if not key:
            work.later(self._reply, message, self.t("staff.template.usage_del"))
            return
        if not await staff_desk.delete_template(work.session, name=key):
            work.later(self._reply, message, self.t("staff.template.not_found", name=key))
            return
        audit.record(
            work.session,
            actor=actor_of(staff),
            action="template.delete",
            now=work.now,
            subject=f"template:{key.lower()}",
        )
        work.later(self._reply, message, self.t("staff.template.deleted", name=key.lower()))

    async def _ban(
        self, work: Work, staff: Staff, message: Message, ticket: Ticket, *, ban: bool
    ) -> None:
        resident = await self._resident(work.session, ticket)
        if resident is None:
            work.later(self._reply, message, self.t("staff.answer.no_resident"))
            return
        if ban == (resident.banned_at is not None):
            key = "staff.ban.already" if ban else "staff.unban.not_banned"
            work.later(self._reply, message, self.t(key))
            return
        resident.banned_at = work.now if ban else None
        resident.banned_by = staff.telegram_id if ban else None
        audit.record(
            work.session,
            actor=actor_of(staff),
            action="resident.ban" if ban else "resident.unban",
            now=work.now,
            subject=f"resident:{resident.id}",
            details={"ticket": ticket.number},
        )
        notice = self.notices.banned(resident) if ban else self.notices.unbanned(resident)
        work.later(self._reply, message, self.t("staff.ban.done" if ban else "staff.unban.done"))
        work.later(self._deliver, resident, notice, ticket.id, None, message.message_id)
        work.later(self.desk.refresh_card, ticket.id)

    # -- prompts (ForceReply) -------------------------------------------------------------------

    async def _prompt(
        self, ticket: Ticket, staff: Staff, action: str, key: str, **data: str
    ) -> None:
        # A mention makes the selective ForceReply open the reply box for this staff member.
        name = html.escape(staff.name or str(staff.telegram_id))
        who = Markup(f'<a href="tg://user?id={staff.telegram_id}">{name}</a>')
        await self.desk.post_to_thread(
            ticket.id,
            self.t(key, who=who, number=ticket.number),
            purpose=staff_desk.PURPOSE_PROMPT,
            markup=ForceReply(force_reply=True, selective=True),
            action=action,
            staff_id=staff.telegram_id,
            data=dict(data),
        )

    async def _complete_prompt(
        self, work: Work, staff: Staff, message: Message, prompt: DeskPost, text: str
    ) -> None:
        if prompt.done_at is not None:
            work.later(self._reply, message, self.t("staff.prompt.done"))
            return
        reason = text.strip()
        if not reason:
            work.later(self._reply, message, self.t("staff.prompt.empty"))
            return
        ticket = await staff_desk.lock_ticket(work.session, ticket_id=prompt.ticket_id)
        if ticket is None:
            return
        prompt.done_at = work.now
        reason = reason[:REASON_MAX]
        if prompt.action == ACTION_EXTEND:
            await self._extend(work, staff, ticket, reason, message)
        elif prompt.action == ACTION_REFUSE:
            ground = str(prompt.data.get("ground", ""))
            await self._refuse(
                work, staff, ticket, ground, "" if reason == "-" else reason, message
            )

    def _extension_refusal(
        self, ticket: Ticket, calendar: WorkCalendar, now: datetime
    ) -> str | None:
        return extension_refusal(
            ticket.kind,
            ticket.received_at,
            now,
            calendar=calendar,
            zone=self.zone,
            urgent=ticket.urgent and ticket.kind == TicketKind.INFO_REQUEST,
            current_deadline=ticket.deadline_at,
        )

    async def _extend(
        self, work: Work, staff: Staff, ticket: Ticket, reason: str, message: Message
    ) -> None:
        calendar = await load_calendar(work.session)
        refusal = self._extension_refusal(ticket, calendar, work.now)
        if refusal is not None:
            work.later(self._reply, message, self.t(labels.STAFF_EXTEND_REFUSED[refusal]))
            return
        maximum = maximum_extension(
            ticket.kind, ticket.received_at, calendar=calendar, zone=self.zone
        )
        assert maximum is not None  # extension_refusal said the kind is extendable
        try:
            ticket_rules.extend(ticket, new_deadline=maximum, reason=reason, now=work.now)
        except TransitionError as error:
            work.later(self._reply, message, self.t(labels.STAFF_ERROR[error.code]))
            return
        self._audit(
            work, staff, "ticket.extend", ticket, reason=reason, deadline=maximum.isoformat()
        )
        ticket_events.record(
            work.session,
            ticket,
            Happened.EXTENDED,
            now=work.now,
            staff_id=staff.telegram_id,
            deadline_at=maximum,
        )
        await self._notify(work, ticket, self.notices.extended)
        work.later(
            self._reply,
            message,
            self.t("staff.event.extended", date=self.cards.when(ticket.deadline_at)),
        )
        work.later(self.desk.refresh_card, ticket.id)

    async def _refuse(
        self,
        work: Work,
        staff: Staff,
        ticket: Ticket,
        ground: str,
        comment: str,
        message: Message,
    ) -> None:
        try:
            ticket_rules.refuse(ticket, ground=ground, comment=comment, now=work.now)
        except TransitionError as error:
            work.later(self._reply, message, self.t(labels.STAFF_ERROR[error.code]))
            return
        self._audit(work, staff, "ticket.refuse", ticket, ground=ground, comment=comment)
        ticket_events.record(
            work.session, ticket, Happened.REFUSED, now=work.now, staff_id=staff.telegram_id
        )
        await self._notify(work, ticket, self.notices.refused)
        work.later(self._reply, message, self.t("staff.event.refused"))
        work.later(self.desk.refresh_card, ticket.id)

    async def _notify(
        self, work: Work, ticket: Ticket, build: Callable[[Resident, Ticket], Reply]
    ) -> None:
        """Tell the resident (after the commit); staff see it in the thread if it fails. The
        notice is kept in the ticket's thread as a system message: the resident's history shows
        it, and an extension notice the law requires is on record with its delivery result."""
        resident = await self._resident(work.session, ticket)
        if resident is None:
            return
        reply = build(resident, ticket)
        record = add_message(
            work.session,
            ticket,
            direction=MessageDirection.SYSTEM,
            now=work.now,
            text=markup_to_plain(reply.text)[:NOTICE_TEXT_MAX],
        )
        await work.session.flush()
        work.later(self._deliver, resident, reply, ticket.id, record.id, None)

    # -- buttons ------------------------------------------------------------------------------

    async def on_button(self, query: CallbackQuery, *, update_key: str) -> None:
        action = cb.unpack(query.data or "")
        message = query.message
        if action is None or message is None:
            await self._answer_query(query, None)
            return
        chat_id, message_id = message.chat.id, message.message_id
        async with self.sessionmaker() as session, session.begin():
            work = Work(session=session, now=self.clock())
            if not await dedup.claim_update(
                session, channel=CLAIM_CHANNEL, update_key=update_key, now=work.now
            ):
                return
            staff = await get_staff(session, telegram_id=query.from_user.id)
            ticket = await staff_desk.lock_ticket(session, ticket_id=action.ticket_id)
            if staff is None:
                self._deny(work, query.from_user, chat_id, f"button:{query.data}", ticket)
                work.answer, work.alert = self.t("staff.denied"), True
            elif ticket is None:
                work.answer, work.alert = self.t("staff.error.not_found"), True
            else:
                if staff.name is None:
                    staff.name = full_name(query.from_user)[:STAFF_NAME_MAX]
                try:
                    await self._button(work, staff, ticket, action, chat_id, message_id)
                except TransitionError as error:
                    work.answer, work.alert = self.t(labels.STAFF_ERROR[error.code]), True
                    work.after.clear()
        await self._answer_query(query, work.answer, alert=work.alert)
        await work.run_after(log, "staff")

    async def _answer_query(
        self, query: CallbackQuery, text: str | None, *, alert: bool = False
    ) -> None:
        try:
            # Stops the button's spinner; after a redelivery the query may be too old.
            await query.answer(text=text[:200] if text else None, show_alert=alert)
        except TelegramAPIError as error:
            log.debug("answerCallbackQuery failed: %s", error)

    async def _button(
        self,
        work: Work,
        staff: Staff,
        ticket: Ticket,
        action: cb.CardAction,
        chat_id: int,
        message_id: int,
    ) -> None:
        verb = action.verb
        if verb == cb.CARD:
            work.later(self.desk.set_buttons, chat_id, message_id, self.cards.card_buttons(ticket))
            return
        if not is_open(ticket):
            raise TransitionError("not_open")
        if verb == cb.TAKE:
            was_new = ticket.status == TicketStatus.NEW
            ticket_rules.take(ticket, staff_id=staff.telegram_id, now=work.now)
            self._audit(work, staff, "ticket.take", ticket)
            ticket_events.record(
                work.session, ticket, Happened.TAKEN, now=work.now, staff_id=staff.telegram_id
            )
            if was_new:
                await self._notify(work, ticket, self.notices.taken)
            work.answer = self.t("staff.cb.taken")
            work.later(self.desk.refresh_card, ticket.id)
        elif verb == cb.HAND:
            queues = await list_queues(work.session, active_only=True)
            markup = self.cards.queue_buttons(ticket, queues)
            work.later(self.desk.set_buttons, chat_id, message_id, markup)
        elif verb == cb.HAND_TO:
            await self._hand_over(work, staff, ticket, action.argument, chat_id, message_id)
        elif verb == cb.EXTEND:
            calendar = await load_calendar(work.session)
            refusal = self._extension_refusal(ticket, calendar, work.now)
            if refusal is not None:
                work.answer, work.alert = self.t(labels.STAFF_EXTEND_REFUSED[refusal]), True
                return
            work.answer = self.t("staff.cb.prompted")
            work.later(self._prompt, ticket, staff, ACTION_EXTEND, N_("staff.prompt.extend"))
        elif verb == cb.REFUSE:
            work.later(
                self.desk.set_buttons, chat_id, message_id, self.cards.ground_buttons(ticket)
            )
        elif verb == cb.GROUND:
            if action.argument not in REFUSAL_GROUNDS.get(ticket.kind, ()):
                raise TransitionError("bad_ground")
            work.answer = self.t("staff.cb.prompted")
            work.later(self.desk.set_buttons, chat_id, message_id, self.cards.card_buttons(ticket))
            work.later(
                self._prompt,
                ticket,
                staff,
                ACTION_REFUSE,
                N_("staff.prompt.refuse"),
                ground=action.argument,
            )
        elif verb == cb.CLOSE:
            work.later(self.desk.set_buttons, chat_id, message_id, self.cards.close_buttons(ticket))
        elif verb == cb.CLOSE_OK:
            ticket_rules.close(ticket, now=work.now)
            self._audit(work, staff, "ticket.close", ticket)
            ticket_events.record(
                work.session, ticket, Happened.CLOSED, now=work.now, staff_id=staff.telegram_id
            )
            await self._notify(work, ticket, self.notices.closed)
            work.answer = self.t("staff.cb.closed")
            work.later(self.desk.refresh_card, ticket.id)
        elif verb == cb.TERM:
            await self._change_term(work, staff, ticket, action.argument)
        elif verb == cb.CATEGORY:
            markup = self.cards.category_buttons(ticket)
            work.later(self.desk.set_buttons, chat_id, message_id, markup)
        elif verb == cb.CATEGORY_TO:
            await self._change_category(work, staff, ticket, action.argument, chat_id, message_id)

    async def _hand_over(
        self,
        work: Work,
        staff: Staff,
        ticket: Ticket,
        code: str,
        chat_id: int,
        message_id: int,
    ) -> None:
        queue = await get_queue(work.session, code=code)
        if queue is None or not queue.is_active:
            raise TransitionError("bad_queue")
        previous = ticket.queue_code
        chat = await self.desk.chat_of_queue(work.session, code)
        same_chat = chat is not None and chat == ticket.staff_chat_id
        ticket_rules.hand_over(ticket, queue_code=code, now=work.now, same_chat=same_chat)
        await staff_desk.forget_staff_copies(work.session, ticket_id=ticket.id)
        self._audit(work, staff, "ticket.handover", ticket, source=previous, target=code)
        ticket_events.record(
            work.session, ticket, Happened.HANDED_OVER, now=work.now, staff_id=staff.telegram_id
        )
        work.answer = self.t("staff.cb.handed_over", queue=queue.name)
        text = self.t(
            "staff.handed_over", number=ticket.number, queue=queue.name, who=staff.name or ""
        )
        work.later(self.desk.edit_text, chat_id, message_id, text, None)
        work.later(self._repost, ticket.id)

    async def _change_category(
        self,
        work: Work,
        staff: Staff,
        ticket: Ticket,
        category: str,
        chat_id: int,
        message_id: int,
    ) -> None:
        """Recorded with the old and new category and the suggestion made at filing (the
        keyword lists are improved from these); a new queue gets the ticket as a hand-over."""
        change = await recategorize.change_category(
            work.session, ticket, category=category, actor=actor_of(staff), now=work.now
        )
        label = self.cards.label
        work.answer = self.t("staff.cb.category", category=label(labels.STAFF_CATEGORY, category))
        if not change.moved:
            work.later(self.desk.refresh_card, ticket.id)
            return
        queue = await get_queue(work.session, code=change.new_queue)
        text = self.t(
            "staff.category_moved",
            number=ticket.number,
            old=label(labels.STAFF_CATEGORY, change.old),
            new=label(labels.STAFF_CATEGORY, change.new),
            queue=queue.name if queue else change.new_queue,
            who=staff.name or "",
        )
        work.later(self.desk.edit_text, chat_id, message_id, text, None)
        work.later(self._repost, ticket.id)

    async def _repost(self, ticket_id: int) -> None:
        try:
            await self.desk.post_ticket(ticket_id)
        except TelegramAPIError as error:
            log.warning("handed-over ticket %s not posted yet: %s", ticket_id, error)

    async def _change_term(self, work: Work, staff: Staff, ticket: Ticket, term: str) -> None:
        """Appeals: 15 days when no further study is needed, else one month (Law 393/96-ВР
        art. 20); staff choose, the deadline follows from the receipt date."""
        if not can_change_term(ticket) or term not in (AppealTerm.SIMPLE, AppealTerm.STANDARD):
            raise TransitionError("bad_term")
        calendar = await load_calendar(work.session)
        previous_deadline = ticket.deadline_at
        ticket.appeal_term = AppealTerm(term).value
        ticket.deadline_at = initial_deadline(
            ticket.kind,
            ticket.received_at,
            calendar=calendar,
            zone=self.zone,
            appeal_term=term,
            feedback_days=self.feedback_days,
            legal_aid_days=self.legal_aid_days,
        )
        ticket.updated_at = work.now
        self._audit(
            work, staff, "ticket.term", ticket, term=term, deadline=ticket.deadline_at.isoformat()
        )
        if ticket.deadline_at != previous_deadline:
            await self._notify(work, ticket, self.notices.term_changed)
        work.answer = self.t("staff.cb.term", date=self.cards.when(ticket.deadline_at))
        work.later(self.desk.refresh_card, ticket.id)
