"""The news composer in the staff chats (editors and administrators): the Telegram adapter over
the staff core's news operations (``handlers.staff.broadcasts.news``).

``/news`` (with the text, or a photo or document whose caption starts with ``/news``; alone, it
asks for the text), then a preview posted exactly as residents will get it (the engine's
``reply_for`` through the same Telegram sender) with buttons: targets, urgency, send now,
schedule, save, cancel. ``/drafts`` (or ``/news list``) lists what is not sent yet.

A news item is stored from the first message (status ``draft``), so nothing is lost on a
restart; the questions the composer asks (ForceReply) are stored too. Changing a scheduled or
approved item (text, targets, time) puts it back to ``draft``: what a second editor approved, or
what was scheduled, is exactly what goes out (``storage.broadcast_lifecycle``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final, Unpack

from aiogram.enums import ParseMode
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, User

from bot.telegram.staff import composing, confirm
from bot.telegram.staff.command_line import Command
from bot.telegram.staff.composer_parts import ComposerSettings, Parts
from bot.telegram.staff.composing import ComposerBase, PromptTable
from bot.telegram.staff.edge import Edge
from bot.telegram.staff.identity import telegram_id_of
from bot.telegram.staff.news import callbacks as cb
from bot.telegram.staff.news.callbacks import NewsData, Verb
from bot.telegram.staff.news.text import EMPTY, TEXT_MAX, content_of, has_media, shorten
from bot.telegram.staff.service import STAFF_NAME_MAX, full_name
from bot.telegram.staff.targeting import Keyboard
from broadcasts.engine import reply_for
from handlers.staff.broadcasts.common import Wake
from handlers.staff.broadcasts.news import STOPPABLE, Content, NewsOps, Submission, Target
from handlers.staff.broadcasts.targets import count_audience
from handlers.staff.core import Done, Outcome, Reason, Refused, StaffCall
from messaging import labels
from messaging.contract import ChannelError, Sender
from messaging.i18n import N_, Markup
from messaging.text import local_time, markup_to_plain
from storage import broadcast_lifecycle as lifecycle
from storage import news
from storage.broadcasts import BroadcastKind
from storage.models import Broadcast, NewsPrompt
from storage.news import PromptAction

__all__ = ["NewsComposer", "NewsSettings", "count_audience"]

log = logging.getLogger(__name__)

CMD_NEWS: Final = "news"
CMD_DRAFTS: Final = "drafts"
COMMANDS: Final = frozenset({CMD_NEWS, CMD_DRAFTS})
LIST_WORDS: Final = frozenset({"list", "список"})
LIST_LIMIT: Final = 20
# Previews edited per round (the oldest first).
PREVIEW_ROUND: Final = 20
TARGETS: Final[Mapping[str, tuple[Target, str]]] = {
    Verb.TOPIC: (Target.TOPIC, cb.PAGE_TOPICS),
    Verb.DISTRICT: (Target.DISTRICT, cb.PAGE_DISTRICTS),
    Verb.CHANNEL: (Target.CHANNEL, cb.PAGE_MAIN),
    Verb.URGENT: (Target.URGENT, cb.PAGE_MAIN),
}

NewsSettings = ComposerSettings


Press = composing.Press[NewsData]
PressHandler = Callable[[Press], Awaitable[None]]


class NewsComposer(ComposerBase[NewsData]):
    feature = "news"
    prompt_texts = labels.NEWS_PROMPT
    denied = N_("news.denied")
    denied_role = N_("news.denied_role")
    commands = COMMANDS
    data = NewsData
    prompts = PromptTable(news.get_prompt, news.add_prompt, news.close_prompt, "broadcast_id")
    targets = TARGETS
    pages = cb.PAGES

    def __init__(self, *, sender: Sender, wake: Wake, **parts: Unpack[Parts]) -> None:
        super().__init__(**parts)
        self.sender = sender
        # ``wake``: the delivery engine's nudge, so a planned broadcast starts at once.
        self.ops = NewsOps(two_person=self.settings.two_person, wake=wake)
        self._handlers = self._table()

    # -- messages ---------------------------------------------------------------------------

    async def message(
        self, work: Edge, message: Message, user: User, command: Command | None, prompt: Any
    ) -> None:
        what = f"/{command.name}" if command is not None else f"prompt:{prompt and prompt.action}"
        call = await self.open_call(work, user, message.chat.id, what)
        if isinstance(call, Refused):
            work.later(self.reply, message, self.denial(call))
            return
        if call.staff.name is None:
            call.staff.name = full_name(user)[:STAFF_NAME_MAX]
        if command is not None:
            await self._command(work, call, message, command)
        elif prompt is not None:
            await self._answer_prompt(work, call, message, prompt)

    async def _command(
        self, work: Edge, call: StaffCall, message: Message, command: Command
    ) -> None:
        if command.name == CMD_DRAFTS or command.args.strip().lower() in LIST_WORDS:
            await self._list(work, message)
            return
        content = content_of(message, command=True)
        if content == EMPTY and not has_media(message):
            # Just "/news": ask for the text.
            work.later(
                self.ask, message.chat.id, PromptAction.COMPOSE, telegram_id_of(call.staff), None
            )
            return
        await self._create(work, call, message, content)

    async def _create(
        self, work: Edge, call: StaffCall, message: Message, content: Content | str
    ) -> bool:
        if isinstance(content, str):
            work.later(self.reply, message, self._problem(content))
            return False
        broadcast = await self.ops.create(call, content)
        work.later(self.post_preview, message.chat.id, broadcast.id)
        return True

    def _problem(self, key: str) -> Markup:
        return self.t("news.empty") if key == EMPTY else self.t(key, limit=TEXT_MAX)

    async def _answer_prompt(
        self, work: Edge, call: StaffCall, message: Message, prompt: NewsPrompt
    ) -> None:
        if self.answered(work, message, prompt):
            return
        session = work.session
        if prompt.action == PromptAction.COMPOSE.value:
            if await self._create(work, call, message, content_of(message, command=False)):
                await self.close_prompt(work, prompt)
            return
        broadcast = (
            await news.lock_news(session, broadcast_id=prompt.broadcast_id)
            if prompt.broadcast_id is not None
            else None
        )
        if broadcast is None or not lifecycle.is_open(broadcast):
            await self.close_prompt(work, prompt)
            work.later(self.reply, message, self._not_open(broadcast, prompt.broadcast_id))
            return
        if prompt.action == PromptAction.TEXT.value:
            content = content_of(message, command=False)
            if isinstance(content, str):
                work.later(self.reply, message, self._problem(content))
                return
            self.ops.set_text(call, broadcast, content)
            await self.close_prompt(work, prompt)
            work.later(self.post_preview, message.chat.id, broadcast.id)
            return
        await self._answer_time(work, call, message, prompt, broadcast)

    async def _answer_time(
        self, work: Edge, call: StaffCall, message: Message, prompt: NewsPrompt, item: Broadcast
    ) -> None:
        when = self.parse_when(work, message)
        if when is None:
            return
        await self.close_prompt(work, prompt)
        lifecycle.reopen(item)
        count = await count_audience(work.session, item)
        if self.confirm_needed(count):
            # Nothing is scheduled until "Yes" under the new preview.
            work.later(self.reply, message, self.question(count, when))
            work.later(self.post_preview, message.chat.id, item.id, cb.PAGE_CONFIRM, when)
            return
        outcome = await self.ops.submit(call, item, when=when, report_to=message.chat.id)
        work.later(self.reply, message, self._submitted(work, item, outcome))
        work.later(self.post_preview, message.chat.id, item.id)

    def _submitted(self, work: Edge, item: Broadcast, outcome: Outcome[Any]) -> Markup:
        """The notice of a submitted (sent, scheduled, approved) item; a started one's progress
        message is posted after the commit."""
        if isinstance(outcome, Refused):
            if outcome.reason is Reason.TOO_LATE:
                return self.t("news.time.past")
            return self._not_open(item, item.id)
        done = outcome.value
        if done.became is Submission.PENDING:
            return self.t("news.pending", id=item.id)
        if done.became is Submission.SCHEDULED and done.when is not None:
            when = local_time(done.when, self.settings.zone)
            return self.t("news.scheduled", id=item.id, when=when)
        work.later(self.progress.post, item.id)
        return self.t("news.sending", id=item.id, count=done.recipients)

    def _not_open(self, broadcast: Broadcast | None, broadcast_id: int | None) -> Markup:
        if broadcast is None:
            return self.t("news.not_found", id=broadcast_id or 0)
        return self.t("news.not_open", id=broadcast.id, status=self.previews.status(broadcast))

    async def _list(self, work: Edge, message: Message) -> None:
        items = await news.list_open_news(work.session, limit=LIST_LIMIT)
        if not items:
            work.later(self.reply, message, self.t("news.list.empty"))
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
        markup = InlineKeyboardMarkup(inline_keyboard=rows)
        work.later(self.send, message.chat.id, Markup("\n".join(lines)), markup)

    # -- buttons: one handler per verb ------------------------------------------------------

    def handlers(self) -> Mapping[str, PressHandler]:
        return self._handlers

    def _table(self) -> dict[str, PressHandler]:
        return {
            Verb.OPEN: self._open,
            Verb.STOP: self._stop,
            Verb.AUDIENCE: self.page,
            Verb.PAGE: self.page,
            Verb.CANCEL: self._cancel,
            Verb.EDIT: self._edit,
            Verb.APPROVE: self._approve,
            # Targets, text, sending and scheduling change drafts only ("Change" first).
            **{verb: self.draft(self.target) for verb in TARGETS},
            Verb.TEXT: self.draft(self.asker(PromptAction.TEXT)),
            Verb.SCHEDULE: self.draft(self.asker(PromptAction.TIME)),
            Verb.SAVE: self.draft(self._save),
            Verb.DECLINE: self.draft(self.decline),
            Verb.SEND: self.draft(self._send_now),
            Verb.CONFIRM: self.draft(self._confirmed),
        }

    async def item(
        self,
        handler: PressHandler,
        work: Edge,
        call: StaffCall,
        pressed: NewsData,
        chat_id: int,
        message_id: int,
    ) -> None:
        """Lock the pressed button's item, and refuse a button of an outdated preview."""
        # The progress message's Stop serves polls too (the same progress message).
        kinds = STOPPABLE if pressed.verb is Verb.STOP else (BroadcastKind.NEWS.value,)
        broadcast = await news.lock_news(work.session, broadcast_id=pressed.id, kinds=kinds)
        preview = await news.get_preview(work.session, chat_id=chat_id, message_id=message_id)
        if preview is not None and preview.replaced_at is not None:
            # A newer preview replaced this one: its buttons do nothing.
            self.alert(work, self.t("news.outdated", id=preview.broadcast_id))
        elif broadcast is None:
            self.alert(work, self.t("news.not_found", id=pressed.id))
        else:
            press = composing.Press(
                work, call, broadcast, pressed, chat_id, message_id, broadcast.id
            )
            await handler(press)

    def not_draft(self, press: Press) -> None:
        self._refuse(press)

    def retarget(self, broadcast: Broadcast, what: Target, code: str) -> Outcome[None]:
        return self.ops.target(broadcast, what, code)

    def _refuse(self, press: Press, *, keyboard: bool = True) -> None:
        self.alert(press.work, self._not_open(press.broadcast, press.broadcast.id))
        if keyboard:
            press.later(self.main, press)

    async def _open(self, press: Press) -> None:
        if not lifecycle.is_open(press.broadcast):
            self._refuse(press, keyboard=False)
            return
        press.later(self.post_preview, press.chat_id, press.broadcast.id)

    async def _stop(self, press: Press) -> None:
        outcome = await self.ops.stop(press.call, press.broadcast)
        bid = press.broadcast.id
        if isinstance(outcome, Refused):
            self.alert(press.work, self.t("news.stop.not_sending", id=bid))
        elif press.broadcast.kind == BroadcastKind.POLL.value:
            stopped = outcome.value
            press.work.answer = self.t(
                "poll.stopped", id=stopped.poll_id or bid, count=stopped.cancelled
            )
        else:
            press.work.answer = self.t("news.stopped", id=bid, count=outcome.value.cancelled)

    async def _cancel(self, press: Press) -> None:
        if press.broadcast.status == lifecycle.SENDING:
            await self._stop(press)
            return
        outcome = self.ops.cancel(press.call, press.broadcast)
        if isinstance(outcome, Refused):
            self._refuse(press)
            return
        press.work.answer = self.t("news.cancelled", id=press.broadcast.id)
        press.later(self.main, press)

    async def _edit(self, press: Press) -> None:
        if isinstance(self.ops.reopen(press.call, press.broadcast), Refused):
            self._refuse(press, keyboard=False)
            return
        press.later(self.main, press)

    async def _approve(self, press: Press) -> None:
        item, work = press.broadcast, press.work
        outcome = await self.ops.approve(press.call, item, report_to=press.chat_id)
        if isinstance(outcome, Refused):
            own = outcome.reason is Reason.TWO_PERSON
            self.alert(work, self.t("news.approve.own") if own else self._not_open(item, item.id))
            return
        staff = press.call.staff
        name = staff.display_name
        if outcome.value.became is Submission.SCHEDULED and outcome.value.when is not None:
            when = local_time(outcome.value.when, self.settings.zone)
            notice = self.t("news.approved_scheduled", id=item.id, name=name, when=when)
        else:
            approved = self.t("news.approved", id=item.id, name=name)
            notice = Markup(approved + "\n" + self._submitted(work, item, outcome))
        work.answer = notice
        press.later(self.main, press)
        press.later(self.send, press.chat_id, notice)

    async def _save(self, press: Press) -> None:
        self.ops.save(press.call, press.broadcast)
        press.work.answer = self.t("news.saved", id=press.broadcast.id)
        bid = press.broadcast.id
        press.later(self.set_keyboard, press.chat_id, press.message_id, bid, cb.PAGE_COMPACT)

    async def _send_now(self, press: Press) -> None:
        count = await count_audience(press.work.session, press.broadcast)
        if not count:
            self.alert(press.work, self.t("news.nobody"))
        elif self.confirm_needed(count):
            self.alert(press.work, self.question(count, None))
            bid = press.broadcast.id
            press.later(self.set_keyboard, press.chat_id, press.message_id, bid, cb.PAGE_CONFIRM)
        else:
            await self._submit(press, None)

    async def _confirmed(self, press: Press) -> None:
        """ "Yes" under "Send to N residents?": sent (scheduled) if N is still the audience."""
        count = await count_audience(press.work.session, press.broadcast)
        confirmed = confirm.unpack(press.pressed.arg)
        bid = press.broadcast.id
        if not count:
            self.alert(press.work, self.t("news.nobody"))
        elif confirmed is None or confirmed.count != count:
            # The targets changed since the question: ask again with the new number.
            self.alert(press.work, self.t("news.confirm.changed"))
            when = confirmed.when if confirmed is not None else None
            page = cb.PAGE_CONFIRM
            press.later(self.set_keyboard, press.chat_id, press.message_id, bid, page, when)
        elif confirmed.when is not None and confirmed.when <= press.work.now:
            self.alert(press.work, self.t("news.time.past"))
            press.later(self.main, press)
        else:
            await self._submit(press, confirmed.when)

    async def _submit(self, press: Press, when: datetime | None) -> None:
        outcome = await self.ops.submit(
            press.call, press.broadcast, when=when, report_to=press.chat_id
        )
        notice = self._submitted(press.work, press.broadcast, outcome)
        press.work.answer = notice
        press.later(self.main, press)
        if isinstance(outcome, Done) and outcome.value.became is Submission.PENDING:
            press.later(self.send, press.chat_id, notice)

    # -- previews ---------------------------------------------------------------------------

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
            failed = self.t("news.preview_failed", id=broadcast_id, error=str(error))
            await self.send(chat_id, failed)
            return
        sent = await self.bot.send_message(
            chat_id, head, parse_mode=ParseMode.HTML, reply_markup=composing.inline_markup(keyboard)
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
            await self.edit(chat_id, message_id, head, keyboard, quiet=True)
        return len(edits)

    async def set_keyboard(
        self,
        chat_id: int,
        message_id: int,
        subject_id: int,
        page: str,
        when: datetime | None = None,
    ) -> None:
        async with self.sessionmaker() as session, session.begin():
            broadcast = await news.get_news(session, broadcast_id=subject_id)
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
            await self.edit(chat_id, message_id, head, keyboard, quiet=True)
            return
        await self.edit_keyboard(chat_id, message_id, keyboard)
