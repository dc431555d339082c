"""What the news and the poll composers do alike: ``ComposerBase``, the Telegram adapter both
build on, over the channel-neutral staff core (``handlers.staff.broadcasts``).

A composer works in the editors' chat and in every staff chat, takes its own commands and the
answers to its own questions (a reply to a bot message it stored as a prompt), and audits a
refused action the same way. Every event is one transaction, opened by the staff chats' edge
(``edge.FeatureEdge``), which claims the update (a redelivered update does nothing twice),
answers the button and runs the after-commit steps once the transaction committed; here the
sender is checked by the staff core (non-staff and operators are refused and audited), the
subject changed with its row locked, the audit entry written. Telegram is called only after
the commit, as are the core's own after-commit steps (waking the delivery engine). Each button
verb is its own aiogram handler (``install``: the composer's CallbackData filtered by verb).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, Unpack

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff import confirm
from bot.telegram.staff.button_data import StaffButton
from bot.telegram.staff.chat_router import GROUP_CHATS
from bot.telegram.staff.command_line import Command, parse_command
from bot.telegram.staff.composer_parts import ComposerSettings, Parts
from bot.telegram.staff.edge import EVENT_FLAG, Edge, answer_query, install_feature_edge
from bot.telegram.staff.identity import actor_of, telegram_id_of
from bot.telegram.staff.news.preview import Previews
from bot.telegram.staff.news.progress import ProgressReporter, edit_html, is_not_modified
from bot.telegram.staff.news.text import TimeProblem, parse_time
from bot.telegram.staff.service import full_name
from bot.telegram.staff.targeting import Keyboard
from handlers.staff.broadcasts.news import Target
from handlers.staff.broadcasts.targets import BAD_BUTTON, count_audience
from handlers.staff.core import EDITORS, Outcome, Reason, Refused, StaffCall, StaffCore
from messaging import labels
from messaging.i18n import Catalog, Markup
from messaging.text import local_time, markup_to_plain
from storage import audit, staff_desk
from storage import broadcast_lifecycle as lifecycle
from storage.models import Broadcast, Staff
from storage.staff import get_staff
from storage.vocabulary import Clock, Role

log = logging.getLogger(__name__)

PAGE_MAIN = "main"

# A composer's prompt of (chat, message), or None; storage's news and polls ``get_prompt``.
FindPrompt = Callable[..., Awaitable[object | None]]


def command_of(message: Message, bot_username: str) -> Command | None:
    """The command in a message's text or media caption, if it is one for this bot."""
    text = message.text if message.text is not None else (message.caption or "")
    return parse_command(text, bot_username) if text.startswith("/") else None


async def is_composer_chat(
    sessionmaker: async_sessionmaker[AsyncSession],
    chat_id: int,
    *,
    editors_chat_id: int | None,
    operator_chat_id: int | None,
) -> bool:
    """The editors' chat, the operator chat or a queue's chat."""
    if chat_id == editors_chat_id:
        return True
    async with sessionmaker() as session:
        return await staff_desk.is_staff_chat(
            session, chat_id=chat_id, operator_chat_id=operator_chat_id
        )


async def wants(
    message: Message,
    bot_username: str,
    *,
    bot_id: int,
    commands: Collection[str],
    sessionmaker: async_sessionmaker[AsyncSession],
    find_prompt: FindPrompt,
    in_chat: Callable[[int], Awaitable[bool]],
) -> bool:
    """One of ``commands``, or an answer to one of the composer's questions, in its chat."""
    command = command_of(message, bot_username)
    if command is not None:
        if command.name not in commands:
            return False
    else:
        reply = message.reply_to_message
        if reply is None or reply.from_user is None or reply.from_user.id != bot_id:
            return False
        async with sessionmaker() as session:
            prompt = await find_prompt(
                session, chat_id=message.chat.id, message_id=reply.message_id
            )
        if prompt is None:
            return False
    return await in_chat(message.chat.id)


def record_refusal(
    work: Edge,
    user: User,
    staff: Staff | None,
    *,
    chat_id: int,
    what: str,
    feature: str,
    log: logging.Logger,
) -> None:
    """Audit (``<feature>.denied``) and log an action refused to ``user`` (``staff`` is their
    staff record, if any)."""
    audit.record(
        work.session,
        actor=f"telegram:{user.id}",
        action=f"{feature}.denied",
        now=work.now,
        details={
            "chat": chat_id,
            "what": what[:100],
            "role": staff.role if staff is not None else None,
            "name": full_name(user)[:128],
        },
    )
    log.info("%s action %s by %s refused", feature, what, user.id)


DataT = TypeVar("DataT", bound=StaffButton)
# One button verb's handler: (work, call, pressed button, chat id, message id).
VerbHandler = Callable[[Edge, StaffCall, DataT, int, int], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Press(Generic[DataT]):
    """A pressed composer button, with its subject (news item, poll) locked in the event's
    transaction and its broadcast; ``subject_id`` is the number the buttons carry."""

    work: Edge
    call: StaffCall
    broadcast: Broadcast
    pressed: DataT
    chat_id: int
    message_id: int
    subject_id: int

    def later(self, step: Callable[..., Awaitable[None]], /, *args: object) -> None:
        self.work.later(step, *args)


@dataclass(frozen=True, slots=True)
class PromptTable:
    """A composer's stored questions: ``storage.news`` or ``storage.polls`` functions, and the
    column naming the question's subject."""

    find: Callable[..., Awaitable[Any]]
    add: Callable[..., object]
    close: Callable[..., Awaitable[bool]]
    subject: str


def inline_markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.action) for b in row]
            for row in keyboard
        ]
    )


class ComposerBase(Generic[DataT]):
    """The Telegram side of a composer. A subclass names its feature (audit and catalog
    prefix), commands, callback data and prompt table, handles its commands and prompt answers
    (``message``) and maps each button verb to a handler (``verbs``)."""

    feature: ClassVar[str]
    commands: ClassVar[frozenset[str]]
    data: type[DataT]
    prompts: ClassVar[PromptTable]
    # The catalog keys of what this composer says in its own words: each prompt by action, the
    # refusal of a non-staff member and of a staff member whose role may not compose.
    prompt_texts: ClassVar[Mapping[str, str]]
    denied: ClassVar[str]
    denied_role: ClassVar[str]
    # The targeting verbs: what each toggles, and the keyboard page it shows after.
    targets: ClassVar[Mapping[str, tuple[Target, str]]]
    pages: ClassVar[frozenset[str]]
    # The preview's keyboard (and state line) at a page: (chat id, message id, subject id,
    # page[, time to confirm]); each composer's own method.
    set_keyboard: Callable[..., Awaitable[None]]
    # The alert for a button that cannot be read (None: just stop the spinner).
    bad_button: ClassVar[str | None] = None
    # Whether a redelivered press is answered (stopping a spinner the first answer missed).
    answer_duplicates: ClassVar[bool] = False

    def __init__(self, **parts: Unpack[Parts]) -> None:
        self.bot: Bot = parts["bot"]
        self.sessionmaker: async_sessionmaker[AsyncSession] = parts["sessionmaker"]
        self.catalog: Catalog = parts["catalog"]
        self.clock: Clock = parts["clock"]
        self.settings: ComposerSettings = parts["settings"]
        # The staff core: every event's role check, audit and after-commit steps.
        self.staff: StaffCore = parts["staff"]
        self.previews = Previews(self.catalog, zone=self.settings.zone)
        # The live progress message, its Stop button and final report (news and polls).
        self.progress = ProgressReporter(
            bot=self.bot, sessionmaker=self.sessionmaker, previews=self.previews, clock=self.clock
        )

    def t(self, key: str, /, **params: object) -> Markup:
        return self.previews.t(key, **params)

    # -- the subclass's part --------------------------------------------------------------

    async def find_prompt(self, session: AsyncSession, *, chat_id: int, message_id: int) -> Any:
        return await self.prompts.find(session, chat_id=chat_id, message_id=message_id)

    async def message(
        self, work: Edge, message: Message, user: User, command: Command | None, prompt: Any
    ) -> None:
        raise NotImplementedError

    def handlers(self) -> Mapping[str, Callable[[Any], Awaitable[None]]]:
        """One handler per button verb."""
        raise NotImplementedError

    async def item(
        self,
        handler: Callable[[Any], Awaitable[None]],
        work: Edge,
        call: StaffCall,
        pressed: DataT,
        chat_id: int,
        message_id: int,
    ) -> None:
        """Lock the pressed button's subject and run ``handler`` with its ``Press``."""
        raise NotImplementedError

    def not_draft(self, press: Any) -> None:
        """Refuse a press that changes drafts only."""
        raise NotImplementedError

    def retarget(self, broadcast: Broadcast, what: Target, code: str) -> Outcome[None]:
        raise NotImplementedError

    def button_what(
        self,
        pressed: DataT,  # noqa: ARG002 - the poll composer's override names the verb
        raw: str,
    ) -> str:
        """How a refused press is named in the audit."""
        return f"button:{raw}"

    # -- which updates are ours -----------------------------------------------------------

    async def is_staff_chat(self, chat_id: int) -> bool:
        return await is_composer_chat(
            self.sessionmaker,
            chat_id,
            editors_chat_id=self.settings.editors_chat_id,
            operator_chat_id=self.settings.operator_chat_id,
        )

    async def wants(self, message: Message, bot_username: str) -> bool:
        """A composer command, or an answer to one of the composer's questions, in a staff chat."""
        return await wants(
            message,
            bot_username,
            bot_id=self.bot.id,
            commands=self.commands,
            sessionmaker=self.sessionmaker,
            find_prompt=self.find_prompt,
            in_chat=self.is_staff_chat,
        )

    # -- events ---------------------------------------------------------------------------

    async def on_message(self, message: Message, bot: Bot, edge: Edge) -> None:
        """A command or an answer to a question (``wants``), in the edge's transaction."""
        user = message.from_user
        me = await bot.me()
        command = command_of(message, me.username or "")
        prompt: object | None = None
        if command is None:
            reply = message.reply_to_message
            assert reply is not None  # ``wants``
            prompt = await self.find_prompt(
                edge.session, chat_id=message.chat.id, message_id=reply.message_id
            )
            if prompt is None:
                return
        assert user is not None
        await self.message(edge, message, user, command, prompt)

    async def on_press(
        self,
        handler: Callable[[Any], Awaitable[None]],
        query: CallbackQuery,
        pressed: DataT,
        edge: Edge,
    ) -> None:
        """A press of one verb's button (``handler``), in the edge's transaction: the presser
        is checked by the staff core, then the subject locked."""
        message = query.message
        assert message is not None  # ``FeatureEdge``
        chat_id, message_id = message.chat.id, message.message_id
        what = self.button_what(pressed, query.data or "")
        call = await self.open_call(edge, query.from_user, chat_id, what)
        if isinstance(call, Refused):
            edge.answer, edge.alert = self.denial(call), True
            return
        await self.item(handler, edge, call, pressed, chat_id, message_id)

    async def on_bad_button(self, query: CallbackQuery) -> None:
        """A button of this composer that cannot be read (no transaction, nothing claimed)."""
        message = query.message
        if message is None or not await self.is_staff_chat(message.chat.id):
            await answer_query(query, None)
            return
        bad = self.bad_button
        text = markup_to_plain(self.t(bad)) if bad else None
        await answer_query(query, text, alert=bad is not None)

    async def open_call(
        self,
        work: Edge,
        user: User,
        chat_id: int,
        what: str,
        roles: Collection[Role] = EDITORS,
    ) -> StaffCall | Refused:
        """The staff core's call for ``user`` in this event's transaction, or its refusal
        (audited by the core, and here as ``<feature>.denied`` with the chat's facts)."""
        actor, staff = await actor_of(work.session, user.id)
        async with self.staff.call(actor, roles=roles, session=work.session) as opened:
            pass
        if isinstance(opened, Refused):
            record_refusal(
                work, user, staff, chat_id=chat_id, what=what, feature=self.feature, log=log
            )
            return opened
        # One list of after-commit steps for the event: the core's (waking the engine) run
        # in order with the chat's own, once the transaction committed.
        opened.after = work.after
        return opened

    def denial(self, refused: Refused) -> Markup:
        role = refused.reason is not Reason.NOT_STAFF
        return self.t(self.denied_role if role else self.denied)

    # -- what news and polls answer alike ---------------------------------------------------

    def answered(self, work: Edge, message: Message, prompt: Any) -> bool:
        """Whether the question was answered already (and the editor is told so)."""
        if prompt.done_at is None:
            return False
        work.later(self.reply, message, self.t(self.prompt_texts["done"]))
        return True

    async def close_prompt(self, work: Edge, prompt: Any) -> None:
        await self.prompts.close(
            work.session, chat_id=prompt.chat_id, message_id=prompt.message_id, now=work.now
        )

    def parse_when(self, work: Edge, message: Message) -> datetime | None:
        """The time an editor typed, or None (the problem is answered; the question stays
        open, so they answer it again)."""
        when = parse_time(message.text or "", now=work.now, zone=self.settings.zone)
        if isinstance(when, TimeProblem):
            work.later(self.reply, message, self.t(labels.NEWS_TIME[when.value]))
            return None
        return when

    def confirm_needed(self, count: int) -> bool:
        return confirm.needed(count, self.settings.confirm_above)

    def question(self, count: int, when: datetime | None) -> Markup:
        """ "Send to N residents?" with how to answer it."""
        local = local_time(when, self.settings.zone) if when is not None else None
        question = confirm.question(self.catalog, count, local)
        return Markup(question + "\n" + self.t("news.confirm.hint"))

    def audience(self, work: Edge, count: int) -> None:
        work.answer = self.t("news.audience", count=count)

    def alert(self, work: Edge, text: Markup) -> None:
        work.answer, work.alert = text, True

    def targeted(self, work: Edge, outcome: Outcome[None]) -> bool:
        """Whether a targeting toggle applied (otherwise its problem is the alert)."""
        if isinstance(outcome, Refused):
            self.alert(work, self.t(str(outcome.details.get("problem", BAD_BUTTON))))
            return False
        return True

    # -- button verbs news and polls share ---------------------------------------------------

    def draft(self, handler: Callable[[Any], Awaitable[None]]) -> Callable[[Any], Awaitable[None]]:
        """``handler`` for drafts only (targets, settings, sending, scheduling)."""

        async def draft_only(press: Press[DataT]) -> None:
            if press.broadcast.status != lifecycle.DRAFT:
                self.not_draft(press)
                return
            await handler(press)

        return draft_only

    def asker(self, action: StrEnum) -> Callable[[Any], Awaitable[None]]:
        """A button that asks the editor a question (a text, a time)."""

        async def ask(press: Press[DataT]) -> None:
            staff_id = telegram_id_of(press.call.staff)
            press.later(self.ask, press.chat_id, action, staff_id, press.subject_id)

        return ask

    async def main(self, press: Press[DataT]) -> None:
        await self.set_keyboard(press.chat_id, press.message_id, press.subject_id, PAGE_MAIN)

    async def page(self, press: Press[DataT]) -> None:
        """The audience recounted, and a page of the keyboard."""
        argument = press.pressed.arg
        page = argument if argument in self.pages else PAGE_MAIN
        self.audience(press.work, await count_audience(press.work.session, press.broadcast))
        press.later(self.set_keyboard, press.chat_id, press.message_id, press.subject_id, page)

    async def target(self, press: Press[DataT]) -> None:
        what, page = self.targets[press.pressed.verb]
        outcome = self.retarget(press.broadcast, what, press.pressed.arg)
        if not self.targeted(press.work, outcome):
            return
        await press.work.session.flush()
        self.audience(press.work, await count_audience(press.work.session, press.broadcast))
        press.later(self.set_keyboard, press.chat_id, press.message_id, press.subject_id, page)

    async def decline(self, press: Press[DataT]) -> None:
        press.work.answer = self.t("news.confirm.declined", id=press.subject_id)
        press.later(self.main, press)

    # -- Telegram, after the commit ---------------------------------------------------------

    async def ask(
        self, chat_id: int, action: StrEnum, staff_id: int, subject_id: int | None
    ) -> None:
        key = self.prompt_texts[action.value]
        text = self.t(key, id=subject_id) if subject_id is not None else self.t(key)
        if chat_id < 0:
            # In a group a selective ForceReply opens the reply box only for those it mentions.
            text = self.t("staff.prompt.addressed", who=await self._mention(staff_id), prompt=text)
        sent = await self.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True)
        )
        # Stored, so that the answer is recognised after a restart or in another process.
        subject = {self.prompts.subject: subject_id}
        async with self.sessionmaker() as session, session.begin():
            self.prompts.add(
                session,
                chat_id=chat_id,
                message_id=sent.message_id,
                action=action,
                staff_id=staff_id,
                now=self.clock(),
                **subject,
            )

    async def _mention(self, staff_id: int) -> Markup:
        async with self.sessionmaker() as session:
            staff = await get_staff(session, telegram_id=staff_id)
        name = html.escape(staff.display_name if staff is not None else str(staff_id))
        return Markup(f'<a href="tg://user?id={staff_id}">{name}</a>')

    async def reply(self, message: Message, text: str) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML)

    async def send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> None:
        await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)

    async def edit(
        self, chat_id: int, message_id: int, text: str, keyboard: Keyboard, *, quiet: bool
    ) -> None:
        """Edit a preview's text and keyboard; "not modified" is no failure. ``quiet``: any
        other refusal is logged (deleted, too old to edit: its buttons are refused anyway)."""
        try:
            await edit_html(self.bot, chat_id, message_id, text, inline_markup(keyboard))
        except TelegramBadRequest as error:
            if not quiet:
                raise
            log.warning("preview %d/%d not edited: %s", chat_id, message_id, error)

    async def edit_keyboard(self, chat_id: int, message_id: int, keyboard: Keyboard) -> None:
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=inline_markup(keyboard)
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                raise


def install(dispatcher: Dispatcher, composer: ComposerBase[Any], *, key: str) -> None:
    """Store a composer under ``key`` and register its handlers on the Dispatcher's own
    observers, which run before any included router (the staff router takes every group
    message): messages the composer ``wants``, one handler per button verb, and one for its
    buttons that cannot be read. ``FeatureEdge`` wraps the first two."""
    install_feature_edge(dispatcher)
    dispatcher[key] = composer
    flags = {EVENT_FLAG: key}

    async def is_ours(message: Message, bot: Bot) -> bool:
        me = await bot.me()
        return await composer.wants(message, me.username or "")

    async def on_message(message: Message, bot: Bot, staff_edge: Edge) -> None:
        await composer.on_message(message, bot, staff_edge)

    in_group = F.message.chat.type.in_(GROUP_CHATS)
    dispatcher.message.register(on_message, F.chat.type.in_(GROUP_CHATS), is_ours, flags=flags)
    for verb, handler in composer.handlers().items():
        dispatcher.callback_query.register(
            _verb_handler(composer, handler),
            composer.data.filter(F.verb == verb),
            in_group,
            flags=flags,
        )
    dispatcher.callback_query.register(
        composer.on_bad_button, F.data.startswith(composer.data.__prefix__ + ":"), in_group
    )


def _verb_handler(
    composer: ComposerBase[Any], handler: Callable[[Any], Awaitable[None]]
) -> Callable[..., Awaitable[None]]:
    async def on_verb(query: CallbackQuery, callback_data: StaffButton, staff_edge: Edge) -> None:
        await composer.on_press(handler, query, callback_data, staff_edge)

    return on_verb
