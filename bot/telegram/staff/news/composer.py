"""The news composer in the staff chats (editors and administrators).

``/news`` (with the text, or a photo or document whose caption starts with ``/news``; alone, it
asks for the text), then a preview posted exactly as residents will get it (the engine's
``reply_for`` through the same Telegram sender) with buttons: targets, urgency, send now,
schedule, save, cancel. ``/drafts`` (or ``/news list``) lists what is not sent yet.

Every event is one transaction opened here: the update is claimed (a redelivered update does
nothing twice), the sender is checked (non-staff and operators are refused and audited), the
news item is changed with its row locked, and the audit entry written. Telegram is called only
after the commit. A news item is stored from the first message (status ``draft``), so nothing is
lost on a restart; the questions the composer asks (ForceReply) are stored too.

Changing a scheduled or approved item (text, targets, time) puts it back to ``draft``: what a
second editor approved, or what was scheduled, is exactly what goes out.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot
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
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff import composing, confirm, targeting
from bot.telegram.staff.news import callbacks as cb
from bot.telegram.staff.news.preview import Keyboard, Previews
from bot.telegram.staff.news.progress import ProgressReporter, is_not_modified
from bot.telegram.staff.news.text import (
    TEXT_MAX,
    TimeProblem,
    news_markup,
    parse_time,
    shorten,
)
from bot.telegram.staff.service import CLAIM_CHANNEL, STAFF_NAME_MAX, Command, Work, full_name
from broadcasts.engine import reply_for
from messaging.contract import FILE_NAME_MAX, ChannelError, Sender
from messaging.i18n import N_, Catalog, Markup, labels
from messaging.text import clean_text, clip_file_name, local_time, markup_to_plain
from storage import audit, dedup, news, polls
from storage.broadcasts import (
    BroadcastKind,
    BroadcastStatus,
    cancel_broadcast,
    create_broadcast,
)
from storage.models import Broadcast, NewsPrompt, Staff
from storage.news import OPEN_STATUSES, PromptAction
from storage.planning import audience, plan_broadcast, recipients_from
from storage.staff import get_staff
from storage.vocabulary import Clock, Role

log = logging.getLogger(__name__)

CMD_NEWS: Final = "news"
CMD_DRAFTS: Final = "drafts"
COMMANDS: Final = frozenset({CMD_NEWS, CMD_DRAFTS})
LIST_WORDS: Final = frozenset({"list", "список"})
EDITORS: Final = frozenset({Role.ADMIN.value, Role.EDITOR.value})
LIST_LIMIT: Final = 20
# What the progress message's Stop button stops.
STOPPABLE: Final = (BroadcastKind.NEWS.value, BroadcastKind.POLL.value)
# Previews edited per round (the oldest first).
PREVIEW_ROUND: Final = 20
DRAFT: Final = BroadcastStatus.DRAFT.value
PENDING: Final = BroadcastStatus.PENDING_APPROVAL.value
SCHEDULED: Final = BroadcastStatus.SCHEDULED.value
SENDING: Final = BroadcastStatus.SENDING.value


@dataclasses.dataclass(frozen=True, slots=True)
class NewsSettings:
    zone: ZoneInfo
    operator_chat_id: int | None = None
    # Where RSS drafts are posted (the operator chat when not set).
    editors_chat_id: int | None = None
    # The two-person rule: a second editor approves before anything is sent.
    two_person: bool = False
    # Sending or scheduling to more residents than this asks "Send to N residents?" first.
    confirm_above: int = 1000

    @property
    def editors_chat(self) -> int | None:
        return self.editors_chat_id if self.editors_chat_id is not None else self.operator_chat_id


@dataclasses.dataclass(frozen=True, slots=True)
class Content:
    markup: str
    media: tuple[str, str, str | None] | None  # kind, file_id, file name


def _no_wake() -> None:
    return None


def inline_markup(keyboard: Keyboard) -> InlineKeyboardMarkup | None:
    if not keyboard:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.action) for b in row]
            for row in keyboard
        ]
    )


async def count_audience(session: AsyncSession, broadcast: Broadcast) -> int:
    """How many residents the news item would reach now (the planner's own WHERE clause)."""
    result = await session.execute(
        select(func.count()).select_from(recipients_from()).where(audience(broadcast))
    )
    return int(result.scalar_one())


class NewsComposer:
    def __init__(
        self,
        *,
        bot: Bot,
        sender: Sender,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        settings: NewsSettings,
    ) -> None:
        self.bot = bot
        self.sender = sender
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.settings = settings
        self.previews = Previews(catalog, zone=settings.zone)
        self.progress = ProgressReporter(
            bot=bot, sessionmaker=sessionmaker, previews=self.previews, clock=clock
        )
        # Set by the composition root once the delivery engine exists: a planned broadcast
        # starts at once rather than at the engine's next poll.
        self.wake: Callable[[], None] = _no_wake

    def t(self, key: str, /, **params: object) -> Markup:
        return self.previews.t(key, **params)

    # -- which updates are ours -----------------------------------------------------------

    async def is_news_chat(self, chat_id: int) -> bool:
        return await composing.is_composer_chat(
            self.sessionmaker,
            chat_id,
            editors_chat_id=self.settings.editors_chat_id,
            operator_chat_id=self.settings.operator_chat_id,
        )

    async def wants(self, message: Message, bot_username: str) -> bool:
        """A composer command, or an answer to one of the composer's questions, in a staff chat."""
        return await composing.wants(
            message,
            bot_username,
            bot_id=self.bot.id,
            commands=COMMANDS,
            sessionmaker=self.sessionmaker,
            find_prompt=news.get_prompt,
            in_chat=self.is_news_chat,
        )

    # -- messages ---------------------------------------------------------------------------

    async def on_message(self, message: Message, *, update_key: str, bot_username: str) -> None:
        user = message.from_user
        if user is None:
            return
        command = composing.command_of(message, bot_username)
        if command is not None and command.name not in COMMANDS:
            return
        async with self.sessionmaker() as session, session.begin():
            work = Work(session=session, now=self.clock())
            prompt: NewsPrompt | None = None
            if command is None:
                reply = message.reply_to_message
                if reply is None:
                    return
                prompt = await news.get_prompt(
                    session, chat_id=message.chat.id, message_id=reply.message_id
                )
                if prompt is None:
                    return
            if not await dedup.claim_update(
                session, channel=CLAIM_CHANNEL, update_key=update_key, now=work.now
            ):
                return
            what = (
                f"/{command.name}" if command is not None else f"prompt:{prompt and prompt.action}"
            )
            staff = await self._editor(work, user, message.chat.id, what)
            if staff is None:
                problem = await self._refusal(session, user)
                work.later(self._reply, message, problem)
            elif command is not None:
                await self._command(work, staff, message, command)
            elif prompt is not None:
                await self._answer_prompt(work, staff, message, prompt)
        await work.run_after(log, "news")

    async def _refusal(self, session: AsyncSession, user: User) -> Markup:
        staff = await get_staff(session, telegram_id=user.id)
        return self.t("news.denied" if staff is None else "news.denied_role")

    async def _editor(self, work: Work, user: User, chat_id: int, what: str) -> Staff | None:
        """The sender if they are an editor or administrator; otherwise the refusal is audited
        and None returned."""
        staff = await get_staff(work.session, telegram_id=user.id)
        if staff is not None and staff.role in EDITORS:
            if staff.name is None:
                staff.name = full_name(user)[:STAFF_NAME_MAX]
            return staff
        composing.record_refusal(
            work, user, staff, chat_id=chat_id, what=what, feature="news", log=log
        )
        return None

    async def _command(self, work: Work, staff: Staff, message: Message, command: Command) -> None:
        if command.name == CMD_DRAFTS or command.args.strip().lower() in LIST_WORDS:
            await self._list(work, message)
            return
        content = self._content(message, command=True)
        if isinstance(content, str) and content == "empty" and not _has_media(message):
            # Just "/news": ask for the text.
            work.later(self._ask, message.chat.id, PromptAction.COMPOSE, staff.telegram_id, None)
            return
        await self._create(work, staff, message, content)

    def _content(self, message: Message, *, command: bool) -> Content | str:
        """What the editor sent as a news item, or the catalog key of what is wrong with it."""
        media: tuple[str, str, str | None] | None = None
        if message.photo:
            media = ("photo", message.photo[-1].file_id, None)
        elif message.document is not None:
            name = message.document.file_name
            if name is not None:
                name = clip_file_name(clean_text(name), FILE_NAME_MAX)
            media = ("document", message.document.file_id, name)
        elif message.text is None:
            return N_("news.unsupported")
        if message.text is not None:
            markup = news_markup(message.text, message.entities, command=command)
        else:
            markup = news_markup(message.caption or "", message.caption_entities, command=command)
        # Cleaned after the markup is built: the entities' offsets count the text as it came.
        markup = clean_text(markup)
        if not markup:
            return "empty"
        # The limit holds for the markup (tags and escapes included): the adapters split longer
        # texts, and a cut inside a tag would fail every delivery. A caption longer than
        # CAPTION_MAX is sent by the adapters as a text after the media.
        if len(markup) > TEXT_MAX:
            return N_("news.too_long")
        return Content(markup=markup, media=media)

    async def _create(
        self, work: Work, staff: Staff, message: Message, content: Content | str
    ) -> bool:
        if isinstance(content, str):
            work.later(self._reply, message, self._problem(content))
            return False
        kind, ref, name = content.media or (None, None, None)
        broadcast = await create_broadcast(
            work.session,
            text=content.markup,
            now=work.now,
            media_kind=kind,
            media_ref=ref,
            media_name=name,
            created_by=staff.telegram_id,
        )
        self._audit(work, staff, "news.draft", broadcast)
        work.later(self.post_preview, message.chat.id, broadcast.id)
        return True

    def _problem(self, key: str) -> Markup:
        if key == "empty":
            return self.t("news.empty")
        if key == "news.too_long":
            return self.t(key, limit=TEXT_MAX)
        return self.t(key)

    async def _answer_prompt(
        self, work: Work, staff: Staff, message: Message, prompt: NewsPrompt
    ) -> None:
        if prompt.done_at is not None:
            work.later(self._reply, message, self.t("news.prompt.done"))
            return
        action = prompt.action
        chat_id, prompt_id = prompt.chat_id, prompt.message_id
        if action == PromptAction.COMPOSE.value:
            if await self._create(work, staff, message, self._content(message, command=False)):
                await news.close_prompt(
                    work.session, chat_id=chat_id, message_id=prompt_id, now=work.now
                )
            return
        broadcast = (
            await news.lock_news(work.session, broadcast_id=prompt.broadcast_id)
            if prompt.broadcast_id is not None
            else None
        )
        if broadcast is None or broadcast.status not in OPEN_STATUSES:
            await news.close_prompt(
                work.session, chat_id=chat_id, message_id=prompt_id, now=work.now
            )
            work.later(self._reply, message, self._not_open(broadcast, prompt.broadcast_id))
            return
        if action == PromptAction.TEXT.value:
            content = self._content(message, command=False)
            if isinstance(content, str):
                work.later(self._reply, message, self._problem(content))
                return
            self._reopen(broadcast)
            broadcast.text = content.markup
            broadcast.media_kind, broadcast.media_ref, broadcast.media_name = content.media or (
                None,
                None,
                None,
            )
            await news.close_prompt(
                work.session, chat_id=chat_id, message_id=prompt_id, now=work.now
            )
            self._audit(work, staff, "news.text", broadcast)
            work.later(self.post_preview, message.chat.id, broadcast.id)
            return
        # PromptAction.TIME
        when = parse_time(message.text or "", now=work.now, zone=self.settings.zone)
        if isinstance(when, TimeProblem):
            # The question stays open: the editor answers it again.
            work.later(self._reply, message, self.t(labels.NEWS_TIME[when.value]))
            return
        await news.close_prompt(work.session, chat_id=chat_id, message_id=prompt_id, now=work.now)
        self._reopen(broadcast)
        count = await count_audience(work.session, broadcast)
        if confirm.needed(count, self.settings.confirm_above):
            # Nothing is scheduled until "Yes" under the new preview.
            local = local_time(when, self.settings.zone)
            question = confirm.question(self.previews.catalog, count, local)
            work.later(self._reply, message, Markup(question + "\n" + self.t("news.confirm.hint")))
            work.later(self.post_preview, message.chat.id, broadcast.id, cb.PAGE_CONFIRM, when)
            return
        notice = await self._submit(work, staff, broadcast, message.chat.id, when)
        work.later(self._reply, message, notice)
        work.later(self.post_preview, message.chat.id, broadcast.id)

    def _not_open(self, broadcast: Broadcast | None, broadcast_id: int | None) -> Markup:
        if broadcast is None:
            return self.t("news.not_found", id=broadcast_id or 0)
        return self.t("news.not_open", id=broadcast.id, status=self.previews.status(broadcast))

    @staticmethod
    def _reopen(broadcast: Broadcast) -> None:
        """Back to draft: approval and schedule are for the content they were given for."""
        broadcast.status = DRAFT
        broadcast.scheduled_at = None
        broadcast.approved_by = None
        broadcast.approved_at = None

    # -- listing ----------------------------------------------------------------------------

    async def _list(self, work: Work, message: Message) -> None:
        items = await news.list_open_news(work.session, limit=LIST_LIMIT)
        if not items:
            work.later(self._reply, message, self.t("news.list.empty"))
            return
        lines = [self.t("news.list.header", count=len(items))]
        buttons: list[InlineKeyboardButton] = []
        for item in items:
            when = (
                self.t("news.list.when", when=local_time(item.scheduled_at, self.settings.zone))
                if item.scheduled_at is not None
                else Markup("")
            )
            lines.append(
                self.t(
                    "news.list.line",
                    id=item.id,
                    status=self.previews.status(item),
                    when=when,
                    preview=shorten(markup_to_plain(item.text), 70),
                )
            )
            buttons.append(
                InlineKeyboardButton(
                    text=self.t("news.btn.open", id=item.id),
                    callback_data=cb.pack(cb.OPEN, item.id),
                )
            )
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        work.later(
            self._send,
            message.chat.id,
            Markup("\n".join(lines)),
            InlineKeyboardMarkup(inline_keyboard=rows),
        )

    # -- buttons ----------------------------------------------------------------------------

    async def on_button(self, query: CallbackQuery, *, update_key: str) -> None:
        action = cb.unpack(query.data or "")
        message = query.message
        if action is None or message is None:
            await composing.answer_query(log, query, None)
            return
        chat_id, message_id = message.chat.id, message.message_id
        async with self.sessionmaker() as session, session.begin():
            work = Work(session=session, now=self.clock())
            if not await dedup.claim_update(
                session, channel=CLAIM_CHANNEL, update_key=update_key, now=work.now
            ):
                return
            staff = await self._editor(work, query.from_user, chat_id, f"button:{query.data}")
            # The progress message's Stop serves polls too (the same progress message).
            kinds = STOPPABLE if action.verb == cb.STOP else (BroadcastKind.NEWS.value,)
            broadcast = await news.lock_news(session, broadcast_id=action.broadcast_id, kinds=kinds)
            preview = await news.get_preview(session, chat_id=chat_id, message_id=message_id)
            if staff is None:
                work.answer, work.alert = await self._refusal(session, query.from_user), True
            elif preview is not None and preview.replaced_at is not None:
                # A newer preview replaced this one: its buttons do nothing.
                work.answer = self.t("news.outdated", id=preview.broadcast_id)
                work.alert = True
            elif broadcast is None:
                work.answer = self.t("news.not_found", id=action.broadcast_id)
                work.alert = True
            else:
                await self._button(work, staff, broadcast, action, chat_id, message_id)
        await composing.answer_query(log, query, work.answer, alert=work.alert)
        await work.run_after(log, "news")

    async def _button(
        self,
        work: Work,
        staff: Staff,
        broadcast: Broadcast,
        action: cb.NewsAction,
        chat_id: int,
        message_id: int,
    ) -> None:
        verb, status = action.verb, broadcast.status
        if verb == cb.OPEN:
            if status not in OPEN_STATUSES:
                work.answer, work.alert = self._not_open(broadcast, broadcast.id), True
                return
            work.later(self.post_preview, chat_id, broadcast.id)
            return
        if verb == cb.STOP:
            await self._stop(work, staff, broadcast)
            return
        if verb in (cb.AUDIENCE, cb.PAGE):
            page = action.argument if action.argument in cb.PAGES else cb.PAGE_MAIN
            count = await count_audience(work.session, broadcast)
            work.answer = self.t("news.audience", count=count)
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, page)
            return
        if verb == cb.CANCEL:
            await self._cancel(work, staff, broadcast, chat_id, message_id)
            return
        if verb == cb.EDIT:
            if status not in OPEN_STATUSES:
                work.answer, work.alert = self._not_open(broadcast, broadcast.id), True
                return
            if status != DRAFT:
                self._reopen(broadcast)
                self._audit(work, staff, "news.reopened", broadcast, was=status)
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
            return
        if verb == cb.APPROVE:
            await self._approve(work, staff, broadcast, chat_id, message_id)
            return
        if status != DRAFT:
            # Targets, text, sending and scheduling change drafts only ("Change" first).
            work.answer, work.alert = self._not_open(broadcast, broadcast.id), True
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
            return
        if verb in (cb.TOPIC, cb.DISTRICT, cb.CHANNEL, cb.URGENT):
            problem = self._toggle(broadcast, verb, action.argument)
            if problem is not None:
                work.answer, work.alert = problem, True
                return
            page = {cb.TOPIC: cb.PAGE_TOPICS, cb.DISTRICT: cb.PAGE_DISTRICTS}.get(
                verb, cb.PAGE_MAIN
            )
            await work.session.flush()
            work.answer = self.t(
                "news.audience", count=await count_audience(work.session, broadcast)
            )
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, page)
        elif verb == cb.TEXT:
            work.later(self._ask, chat_id, PromptAction.TEXT, staff.telegram_id, broadcast.id)
        elif verb == cb.SCHEDULE:
            work.later(self._ask, chat_id, PromptAction.TIME, staff.telegram_id, broadcast.id)
        elif verb == cb.SAVE:
            self._audit(work, staff, "news.saved", broadcast)
            work.answer = self.t("news.saved", id=broadcast.id)
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_COMPACT)
        elif verb == cb.DECLINE:
            work.answer = self.t("news.confirm.declined", id=broadcast.id)
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
        elif verb in (cb.SEND, cb.CONFIRM):
            count = await count_audience(work.session, broadcast)
            if not count:
                work.answer, work.alert = self.t("news.nobody"), True
                return
            when: datetime | None = None
            if verb == cb.CONFIRM:
                confirmed = confirm.unpack(action.argument)
                if confirmed is None or confirmed.count != count:
                    # The targets changed since the question: ask again with the new number.
                    work.answer, work.alert = self.t("news.confirm.changed"), True
                    work.later(
                        self._set_keyboard,
                        chat_id,
                        message_id,
                        broadcast.id,
                        cb.PAGE_CONFIRM,
                        confirmed.when if confirmed is not None else None,
                    )
                    return
                when = confirmed.when
                if when is not None and when <= work.now:
                    work.answer, work.alert = self.t("news.time.past"), True
                    work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
                    return
            elif confirm.needed(count, self.settings.confirm_above):
                question = confirm.question(self.previews.catalog, count, None)
                work.answer = Markup(question + "\n" + self.t("news.confirm.hint"))
                work.alert = True
                work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_CONFIRM)
                return
            notice = await self._submit(work, staff, broadcast, chat_id, when)
            work.answer = notice
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
            if broadcast.status == PENDING:
                work.later(self._send, chat_id, notice, None)

    def _toggle(self, broadcast: Broadcast, verb: str, argument: str) -> Markup | None:
        if verb == cb.URGENT:
            broadcast.urgent = not broadcast.urgent
            return None
        if verb == cb.CHANNEL:
            problem = targeting.toggle_channel(broadcast, argument)
        else:
            problem = targeting.toggle_code(broadcast, argument, topics=verb == cb.TOPIC)
        return None if problem is None else self.t(problem)

    # -- send, schedule, approve, cancel, stop ---------------------------------------------

    async def _submit(
        self,
        work: Work,
        staff: Staff,
        broadcast: Broadcast,
        chat_id: int,
        when: datetime | None,
    ) -> Markup:
        """Send now (``when`` None) or schedule a draft; under the two-person rule it waits for
        a second editor instead. Returns the notice for the editor."""
        broadcast.progress_chat_id = chat_id
        if self.settings.two_person:
            broadcast.status = PENDING
            broadcast.scheduled_at = when
            self._audit(work, staff, "news.submitted", broadcast, at=_iso(when))
            return self.t("news.pending", id=broadcast.id)
        if when is not None:
            broadcast.status = SCHEDULED
            broadcast.scheduled_at = when
            self._audit(work, staff, "news.scheduled", broadcast, at=_iso(when))
            return self.t(
                "news.scheduled", id=broadcast.id, when=local_time(when, self.settings.zone)
            )
        return await self._start(work, staff, broadcast, (DRAFT,), "news.sent")

    async def _start(
        self,
        work: Work,
        staff: Staff,
        broadcast: Broadcast,
        statuses: tuple[str, ...],
        action: str,
    ) -> Markup:
        await work.session.flush()
        count = await plan_broadcast(
            work.session, broadcast_id=broadcast.id, now=work.now, statuses=statuses
        )
        self._audit(work, staff, action, broadcast, recipients=count)
        work.later(self._started, broadcast.id)
        return self.t("news.sending", id=broadcast.id, count=count or 0)

    async def _started(self, broadcast_id: int) -> None:
        self.wake()
        await self.progress.post(broadcast_id)

    async def _approve(
        self, work: Work, staff: Staff, broadcast: Broadcast, chat_id: int, message_id: int
    ) -> None:
        if broadcast.status != PENDING:
            work.answer, work.alert = self._not_open(broadcast, broadcast.id), True
            return
        if broadcast.created_by == staff.telegram_id:
            audit.record(
                work.session,
                actor=f"staff:{staff.telegram_id}",
                action="news.approve_refused",
                now=work.now,
                subject=f"broadcast:{broadcast.id}",
                details={"reason": "author"},
            )
            work.answer, work.alert = self.t("news.approve.own"), True
            return
        broadcast.approved_by = staff.telegram_id
        broadcast.approved_at = work.now
        broadcast.progress_chat_id = broadcast.progress_chat_id or chat_id
        name = staff.name or str(staff.telegram_id)
        if broadcast.scheduled_at is not None and broadcast.scheduled_at > work.now:
            broadcast.status = SCHEDULED
            self._audit(work, staff, "news.approved", broadcast, at=_iso(broadcast.scheduled_at))
            when = local_time(broadcast.scheduled_at, self.settings.zone)
            notice = self.t("news.approved_scheduled", id=broadcast.id, name=name, when=when)
        else:
            self._audit(work, staff, "news.approved", broadcast)
            sending = await self._start(work, staff, broadcast, (PENDING,), "news.sent")
            notice = Markup(self.t("news.approved", id=broadcast.id, name=name) + "\n" + sending)
        work.answer = notice
        work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
        work.later(self._send, chat_id, notice, None)

    async def _cancel(
        self, work: Work, staff: Staff, broadcast: Broadcast, chat_id: int, message_id: int
    ) -> None:
        if broadcast.status == SENDING:
            await self._stop(work, staff, broadcast)
            return
        if broadcast.status not in OPEN_STATUSES:
            work.answer, work.alert = self._not_open(broadcast, broadcast.id), True
            work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)
            return
        was = broadcast.status
        broadcast.status = BroadcastStatus.CANCELLED.value
        broadcast.cancelled_at = work.now
        self._audit(work, staff, "news.cancelled", broadcast, was=was)
        work.answer = self.t("news.cancelled", id=broadcast.id)
        work.later(self._set_keyboard, chat_id, message_id, broadcast.id, cb.PAGE_MAIN)

    async def _stop(self, work: Work, staff: Staff, broadcast: Broadcast) -> None:
        if broadcast.status != SENDING:
            work.answer, work.alert = self.t("news.stop.not_sending", id=broadcast.id), True
            return
        stopped = await cancel_broadcast(work.session, broadcast_id=broadcast.id, now=work.now)
        if broadcast.kind == BroadcastKind.POLL.value:
            poll_id = await polls.poll_id_of(work.session, broadcast_id=broadcast.id)
            self._audit(work, staff, "poll.stopped", broadcast, cancelled=stopped, poll=poll_id)
            work.answer = self.t("poll.stopped", id=poll_id or broadcast.id, count=stopped)
            return
        self._audit(work, staff, "news.stopped", broadcast, cancelled=stopped)
        work.answer = self.t("news.stopped", id=broadcast.id, count=stopped)

    # -- Telegram ---------------------------------------------------------------------------

    async def post_preview(
        self,
        chat_id: int,
        broadcast_id: int,
        page: str = cb.PAGE_MAIN,
        when: datetime | None = None,
    ) -> None:
        """The news item exactly as residents get it, then the preview's own message under it:
        the item's number and state, and the composer's buttons. Earlier previews of the item
        become outdated (their text says so, their buttons do nothing)."""
        async with self.sessionmaker() as session:
            broadcast = await news.get_news(session, broadcast_id=broadcast_id)
            if broadcast is None:
                return
            count = await count_audience(session, broadcast)
            keyboard = self.previews.keyboard(broadcast, page, count, when)
            head, status, body = (
                self.previews.head(broadcast),
                broadcast.status,
                reply_for(broadcast),
            )
        try:
            await self.sender.send(str(chat_id), body)
        except ChannelError as error:
            # Stored already: /drafts shows it again.
            log.warning("news %d: preview not posted: %s", broadcast_id, error)
            await self._send(
                chat_id, self.t("news.preview_failed", id=broadcast_id, error=str(error)), None
            )
            return
        sent = await self.bot.send_message(
            chat_id, head, parse_mode=ParseMode.HTML, reply_markup=inline_markup(keyboard)
        )
        async with self.sessionmaker() as session, session.begin():
            await news.add_preview(
                session,
                chat_id=chat_id,
                message_id=sent.message_id,
                broadcast_id=broadcast_id,
                shown=status,
                now=self.clock(),
            )
        await self.sync_previews(broadcast_id)

    async def sync_previews(self, broadcast_id: int | None = None) -> int:
        """Edit the previews whose text lags behind their item's state (sent, cancelled, …) or
        that a newer preview replaced; each once, whichever process gets it. Returns how many."""
        edits: list[tuple[int, int, Markup, Keyboard]] = []
        async with self.sessionmaker() as session, session.begin():
            for preview, broadcast in await news.stale_previews(
                session, broadcast_id=broadcast_id, limit=PREVIEW_ROUND
            ):
                outdated = preview.replaced_at is not None
                shown = news.OUTDATED if outdated else broadcast.status
                if not await news.claim_shown(
                    session,
                    chat_id=preview.chat_id,
                    message_id=preview.message_id,
                    was=preview.shown,
                    shown=shown,
                ):
                    continue
                keyboard: Keyboard = ()
                if outdated:
                    head = self.t("news.head.outdated", id=broadcast.id)
                else:
                    count = await count_audience(session, broadcast)
                    head = self.previews.head(broadcast)
                    keyboard = self.previews.keyboard(broadcast, cb.PAGE_MAIN, count)
                edits.append((preview.chat_id, preview.message_id, head, keyboard))
        for chat_id, message_id, head, keyboard in edits:
            await self._edit_preview(chat_id, message_id, head, keyboard)
        return len(edits)

    async def _edit_preview(
        self, chat_id: int, message_id: int, head: Markup, keyboard: Keyboard
    ) -> None:
        try:
            await self.bot.edit_message_text(
                text=head,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=inline_markup(keyboard),
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                # Deleted, too old to edit: its buttons are refused anyway.
                log.warning("preview %d/%d not edited: %s", chat_id, message_id, error)

    async def _set_keyboard(
        self,
        chat_id: int,
        message_id: int,
        broadcast_id: int,
        page: str,
        when: datetime | None = None,
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            broadcast = await news.get_news(session, broadcast_id=broadcast_id)
            if broadcast is None:
                return
            count = await count_audience(session, broadcast)
            keyboard = self.previews.keyboard(broadcast, page, count, when)
            preview = await news.get_preview(session, chat_id=chat_id, message_id=message_id)
            head: Markup | None = None
            if preview is not None and preview.replaced_at is None:
                # The preview's line follows the item's state (sent, scheduled, …).
                head = self.previews.head(broadcast)
                preview.shown = broadcast.status
        if head is not None:
            await self._edit_preview(chat_id, message_id, head, keyboard)
            return
        try:
            await self.bot.edit_message_reply_markup(
                chat_id=chat_id, message_id=message_id, reply_markup=inline_markup(keyboard)
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                raise

    async def _ask(
        self, chat_id: int, action: PromptAction, staff_id: int, broadcast_id: int | None
    ) -> None:
        key = labels.NEWS_PROMPT[action.value]
        text = self.t(key, id=broadcast_id) if broadcast_id is not None else self.t(key)
        sent = await self.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=ForceReply(selective=True, input_field_placeholder=None),
        )
        async with self.sessionmaker() as session, session.begin():
            news.add_prompt(
                session,
                chat_id=chat_id,
                message_id=sent.message_id,
                action=action,
                staff_id=staff_id,
                broadcast_id=broadcast_id,
                now=self.clock(),
            )

    async def _reply(self, message: Message, text: str) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML)

    async def _send(self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> None:
        await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)

    def _audit(
        self, work: Work, staff: Staff, action: str, broadcast: Broadcast, **details: object
    ) -> None:
        audit.record(
            work.session,
            actor=f"staff:{staff.telegram_id}",
            action=action,
            now=work.now,
            subject=f"broadcast:{broadcast.id}",
            details={key: value for key, value in details.items() if value is not None},
        )


def _has_media(message: Message) -> bool:
    return bool(message.photo) or message.document is not None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
