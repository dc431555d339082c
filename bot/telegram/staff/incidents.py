"""Incidents in the operator chat (issue 17), over the staff core's incident operations
(``handlers.staff.incidents``): the spike alert's "open an incident" button (its tickets
linked at once), ``/incident`` (the open ones) and ``/incident N`` (the card, with buttons to
set the status, send an update or resolve), and ``/link N`` in a ticket's thread.

The update's text and the resolving answer are asked with a ForceReply; the question carries
its incident and action as a tag (``#incident12_update``), so the reply is understood without a
table of its own (and after a restart): only the bot writes its own messages. A second reply to
the same question sends a second update (resolving twice is refused by the core).

A Feature of the staff chats' ``FeatureEdge``: one transaction per event, the update claimed,
the after-commit steps (Telegram calls, the core's own) run once it committed.
"""

from __future__ import annotations

import contextlib
import re
from enum import StrEnum
from typing import Final

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.telegram.staff.button_data import StaffButton
from bot.telegram.staff.chat_router import GROUP_CHATS
from bot.telegram.staff.command_line import parse_command
from bot.telegram.staff.composing import is_composer_chat
from bot.telegram.staff.edge import EVENT_FLAG, Edge, install_feature_edge
from bot.telegram.staff.identity import actor_of
from bot.telegram.staff.news.progress import edit_html
from bot.telegram.staff.service import StaffService
from broadcasts import spikes
from broadcasts.stats_text import StatsTexts
from handlers.staff import incidents as ops
from handlers.staff.core import Actor, Reason, Refused
from handlers.staff.incidents import Change, Draft, IncidentCard, IncidentCore
from handlers.staff.incidents.context import TITLE_MAX
from handlers.staff.tickets.context import Within
from messaging import labels
from messaging.i18n import N_, Markup
from messaging.text import local_time, markup_to_plain
from storage import incidents
from storage.incidents import IncidentStatus

KEY: Final = "incidents"
PREFIX: Final = "inc"
CMD_INCIDENT: Final = "incident"
CMD_LINK: Final = "link"
COMMANDS: Final = frozenset({CMD_INCIDENT, CMD_LINK})
ACTION_UPDATE: Final = "update"
ACTION_RESOLVE: Final = "resolve"
# The question of each action, answered with a reply.
ASK: Final = {
    ACTION_UPDATE: N_("staff.incident.ask.update"),
    ACTION_RESOLVE: N_("staff.incident.ask.resolve"),
}
TAG: Final = re.compile(r"#incident(\d{1,18})_(update|resolve)\b")
TEXT_MAX: Final = 3500

REFUSED: Final = {
    Reason.NOT_STAFF: N_("staff.denied"),
    Reason.ROLE: N_("staff.incident.refused.role"),
    Reason.NOT_FOUND: N_("staff.incident.refused.not_found"),
    Reason.DEPARTMENT: N_("staff.incident.refused.department"),
}
# The core's codes in words (the web desk's texts: the same refusals).
CODES: Final = {
    "empty_title": N_("desk.incident.error.empty_title"),
    "incident_not_open": N_("desk.incident.error.not_open"),
    "no_answer": N_("desk.incident.error.no_answer"),
    "nothing_changed": N_("desk.incident.error.nothing_changed"),
    "elsewhere": N_("desk.incident.error.elsewhere"),
    "too_long": N_("desk.error.too_long"),
}


class Verb(StrEnum):
    INVESTIGATING = "inv"
    WORKING = "work"
    UPDATE = "upd"  # ask for the update's text
    RESOLVE = "res"  # ask for the answer


STATUS_OF: Final = {
    Verb.INVESTIGATING: IncidentStatus.INVESTIGATING,
    Verb.WORKING: IncidentStatus.WORKING,
}


class IncidentButton(StaffButton, prefix=PREFIX):
    verb: Verb


class IncidentChat:
    """The Telegram side of the incident operations."""

    answer_duplicates = False

    def __init__(self, *, bot: Bot, core: IncidentCore, operator_chat_id: int | None) -> None:
        self.bot = bot
        self.core = core
        tickets = core.tickets
        self.sessionmaker = tickets.sessionmaker
        self.clock = tickets.clock
        self.zone = tickets.zone
        self.texts = StatsTexts(core.catalog, zone=tickets.zone)
        self.operator_chat_id = operator_chat_id

    def t(self, key: str, /, **params: object) -> Markup:
        return self.texts.t(key, **params)

    async def is_staff_chat(self, chat_id: int) -> bool:
        return await is_composer_chat(
            self.sessionmaker, chat_id, editors_chat_id=None, operator_chat_id=self.operator_chat_id
        )

    async def wants(self, message: Message, bot_username: str) -> bool:
        """``/incident``, ``/link``, or a reply to one of our questions, in a staff chat."""
        text = message.text or ""
        command = parse_command(text, bot_username) if text.startswith("/") else None
        if command is not None:
            if command.name not in COMMANDS:
                return False
        elif _question_of(message, self.bot.id) is None:
            return False
        return await self.is_staff_chat(message.chat.id)

    def refusal(self, refused: Refused) -> Markup:
        code = str(refused.details.get("code", ""))
        if code in CODES:
            return self.t(CODES[code])
        return self.t(REFUSED.get(refused.reason, N_("staff.incident.refused.other")))

    # -- rendering ------------------------------------------------------------------------

    def card_text(self, card: IncidentCard) -> Markup:
        incident = card.incident
        districts = ", ".join(self.texts.district(code) for code in incident.districts)
        expected = local_time(incident.expected_at, self.zone) if incident.expected_at else "—"
        lines = [
            self.t("staff.incident.card", id=incident.id, title=incident.title),
            self.t("staff.incident.status", status=self.t(labels.INCIDENT_STATUS[incident.status])),
            self.t(
                "staff.incident.districts",
                districts=districts or self.t("desk.incident.whole_city"),
            ),
            self.t("staff.incident.expected", expected=expected),
            self.t("staff.incident.tickets", total=card.tickets),
            self.t("staff.incident.followers", total=card.followers),
        ]
        if incident.description:
            lines.append(self.t("staff.incident.description", text=incident.description))
        return Markup("\n".join(lines))

    def keyboard(self, card: IncidentCard) -> InlineKeyboardMarkup | None:
        incident = card.incident
        if not incidents.is_open(incident):
            return None

        def button(key: str, verb: Verb) -> InlineKeyboardButton:
            data = IncidentButton(verb=verb, id=incident.id).pack()
            return InlineKeyboardButton(text=markup_to_plain(self.t(key)), callback_data=data)

        status_row = [
            button("staff.incident.btn.investigating", Verb.INVESTIGATING)
            if incident.status != IncidentStatus.INVESTIGATING
            else button("staff.incident.btn.working", Verb.WORKING)
        ]
        return InlineKeyboardMarkup(
            inline_keyboard=[
                status_row,
                [
                    button("staff.incident.btn.update", Verb.UPDATE),
                    button("staff.incident.btn.resolve", Verb.RESOLVE),
                ],
            ]
        )

    # -- events ---------------------------------------------------------------------------

    async def on_message(
        self, message: Message, bot: Bot, staff_edge: Edge, staff: StaffService
    ) -> None:
        assert message.from_user is not None
        me = await bot.me()
        text = message.text or ""
        command = parse_command(text, me.username or "") if text.startswith("/") else None
        actor, _ = await actor_of(staff_edge.session, message.from_user.id)
        within = Within(session=staff_edge.session, after=staff_edge.after)
        if command is None:
            question = _question_of(message, self.bot.id)
            assert question is not None  # ``wants``
            reply = await self._answer(actor, within, *question, text.strip())
        elif command.name == CMD_LINK:
            reply = await self._link(actor, within, message, command.args, staff)
        else:
            await self._show(actor, within, staff_edge, message, command.args)
            return
        staff_edge.later(self.reply, message, reply)

    async def _answer(
        self, actor: Actor, within: Within, incident_id: int, action: str, text: str
    ) -> Markup:
        if not text:
            return self.t("staff.prompt.empty")
        if action == ACTION_RESOLVE:
            resolved = await ops.resolve(self.core, actor, incident_id, text, within=within)
            if isinstance(resolved, Refused):
                return self.refusal(resolved)
            value = resolved.value
            return self.t(
                "staff.incident.resolved",
                total=value.delivered.recipients,
                closed=len(value.closed_tickets),
            )
        updated = await ops.update(
            self.core, actor, incident_id, Change(text=text[:TEXT_MAX]), within=within
        )
        if isinstance(updated, Refused):
            return self.refusal(updated)
        return self.t("staff.incident.sent", total=updated.value.recipients)

    async def _link(
        self, actor: Actor, within: Within, message: Message, args: str, staff: StaffService
    ) -> Markup:
        number = args.split()[0].lstrip("#") if args.split() else ""
        if not (number.isascii() and number.isdigit() and len(number) < 19):
            return self.t("staff.incident.link_usage")
        ticket = await staff.ticket_of(within.session, message)
        if ticket is None:
            return self.t("staff.incident.link_usage")
        linked = await ops.link(self.core, actor, int(number), ticket.id, within=within)
        if isinstance(linked, Refused):
            return self.refusal(linked)
        return self.t("staff.incident.linked", number=ticket.number, id=int(number))

    async def _show(
        self, actor: Actor, within: Within, edge: Edge, message: Message, args: str
    ) -> None:
        number = args.split()[0].lstrip("#") if args.split() else ""
        if not number:
            listed = await ops.listing(self.core, actor, within=within)
            if isinstance(listed, Refused):
                return edge.later(self.reply, message, self.refusal(listed))
            lines = [self.t("staff.incident.open_header")] + [
                self.t(
                    "staff.incident.line",
                    id=item.id,
                    title=item.title,
                    status=self.t(labels.INCIDENT_STATUS[item.status]),
                )
                for item in listed.value
            ]
            if not listed.value:
                lines = [self.t("desk.incident.none_open")]
            return edge.later(self.reply, message, Markup("\n".join(lines)))
        if not (number.isascii() and number.isdigit() and len(number) < 19):
            return edge.later(self.reply, message, self.t("staff.incident.usage"))
        shown = await ops.card(self.core, actor, int(number), within=within)
        if isinstance(shown, Refused):
            return edge.later(self.reply, message, self.refusal(shown))
        edge.later(self.reply, message, self.card_text(shown.value), self.keyboard(shown.value))
        return None

    async def on_press(
        self, query: CallbackQuery, callback_data: IncidentButton, staff_edge: Edge
    ) -> None:
        message = query.message
        assert message is not None  # ``FeatureEdge``
        actor, staff = await actor_of(staff_edge.session, query.from_user.id)
        within = Within(session=staff_edge.session, after=staff_edge.after)
        incident_id, verb = callback_data.id, callback_data.verb
        if staff is None:
            staff_edge.answer, staff_edge.alert = markup_to_plain(self.t("staff.denied")), True
            return
        if verb in (Verb.UPDATE, Verb.RESOLVE):
            action = ACTION_UPDATE if verb is Verb.UPDATE else ACTION_RESOLVE
            staff_edge.later(self.ask, message.chat.id, incident_id, action, ASK[action])
            return
        updated = await ops.update(
            self.core, actor, incident_id, Change(status=STATUS_OF[verb]), within=within
        )
        if isinstance(updated, Refused):
            staff_edge.answer = markup_to_plain(self.refusal(updated))
            staff_edge.alert = True
            return
        staff_edge.answer = markup_to_plain(
            self.t("staff.incident.sent", total=updated.value.recipients)
        )
        shown = await ops.card(self.core, actor, incident_id, within=within)
        if not isinstance(shown, Refused):
            text, keyboard = self.card_text(shown.value), self.keyboard(shown.value)
            staff_edge.later(self.edit, message.chat.id, message.message_id, text, keyboard)

    async def on_spike(self, query: CallbackQuery, staff_edge: Edge) -> None:
        """The spike alert's "open an incident": opened at once with the spike's tickets."""
        message = query.message
        assert message is not None  # ``FeatureEdge``
        parsed = spikes.parse_incident_action(query.data or "")
        if parsed is None:
            return
        dimension, key, at = parsed
        actor, _ = await actor_of(staff_edge.session, query.from_user.id)
        within = Within(session=staff_edge.session, after=staff_edge.after)
        prefill = await spikes.prefill_for(staff_edge.session, dimension, key, at)
        name = self.texts.category(key) if dimension == "category" else self.texts.district(key)
        title = markup_to_plain(self.t(labels.SPIKE_WHAT[dimension], name=name))
        draft = Draft(
            title=title[:TITLE_MAX],
            category=prefill.category,
            districts=prefill.districts,
            ticket_ids=prefill.ticket_ids,
        )
        opened = await ops.open_incident(self.core, actor, draft, within=within)
        if isinstance(opened, Refused):
            staff_edge.answer = markup_to_plain(self.refusal(opened))
            staff_edge.alert = True
            return
        incident = opened.value.incident
        staff_edge.answer = markup_to_plain(self.t("staff.incident.opened", id=incident.id))
        shown = await ops.card(self.core, actor, incident.id, within=within)
        # The alert's button is spent: one incident per alert.
        staff_edge.later(self.drop_button, message.chat.id, message.message_id)
        if not isinstance(shown, Refused):
            staff_edge.later(
                self.reply, message, self.card_text(shown.value), self.keyboard(shown.value)
            )

    # -- Telegram, after the commit -------------------------------------------------------

    async def reply(
        self, message: Message, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML, reply_markup=markup)

    async def ask(self, chat_id: int, incident_id: int, action: str, key: str) -> None:
        text = self.t(key, id=incident_id) + f"\n#incident{incident_id}_{action}"
        await self.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True)
        )

    async def edit(
        self, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        # Too old or deleted: the button's answer said what happened.
        with contextlib.suppress(TelegramAPIError):
            await edit_html(self.bot, chat_id, message_id, text, markup)

    async def drop_button(self, chat_id: int, message_id: int) -> None:
        with contextlib.suppress(TelegramAPIError):
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=None
            )


def _question_of(message: Message, bot_id: int) -> tuple[int, str] | None:
    """(incident id, action) of the bot's question this message replies to, if it is one."""
    reply = message.reply_to_message
    if reply is None or reply.from_user is None or reply.from_user.id != bot_id:
        return None
    found = TAG.search(reply.text or "")
    return (int(found.group(1)), found.group(2)) if found else None


def install_incidents(
    dispatcher: Dispatcher, *, bot: Bot, core: IncidentCore, operator_chat_id: int | None
) -> IncidentChat:
    """Build the incident commands and buttons and register them (the composition root's
    one call)."""
    chat = IncidentChat(bot=bot, core=core, operator_chat_id=operator_chat_id)
    install_feature_edge(dispatcher)
    dispatcher[KEY] = chat
    flags = {EVENT_FLAG: KEY}

    async def is_ours(message: Message, bot: Bot) -> bool:
        me = await bot.me()
        return await chat.wants(message, me.username or "")

    in_group = F.message.chat.type.in_(GROUP_CHATS)
    dispatcher.message.register(chat.on_message, F.chat.type.in_(GROUP_CHATS), is_ours, flags=flags)
    on_press = dispatcher.callback_query.register
    on_press(chat.on_press, IncidentButton.filter(), in_group, flags=flags)
    on_press(chat.on_spike, F.data.startswith(spikes.INCIDENT_ACTION + ":"), in_group, flags=flags)
    return chat
