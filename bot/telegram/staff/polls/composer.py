"""The poll composer in the staff chats (editors and administrators) and ``/pollresults``: the
Telegram adapter over the staff core's poll operations (``handlers.staff.broadcasts.polls``).

``/poll`` with the question on its first line and one option per following line (2-10; list
markers like ``-``, ``•``, ``1.`` are dropped), or ``/poll`` alone, which asks for that text.
The preview shows the poll message as residents will get it and the composer's buttons:
audience, topics, districts and channels (the news targeting rules: ``storage.planning``),
single or multiple choice, whether residents see results after voting and after closing,
publication of the results to the voters, the closing time, send now, schedule, cancel.

A poll can be changed while its broadcast is a draft; what was sent or scheduled is what
residents get. ``/pollresults ID`` (any staff) posts the results and chart; ``/pollclose ID``
(editors, administrators) closes a poll before its time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Unpack

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile, Message, User

from bot.telegram.staff import composing, confirm
from bot.telegram.staff.command_line import Command
from bot.telegram.staff.composer_parts import ComposerSettings, Parts
from bot.telegram.staff.composing import ComposerBase, PromptTable
from bot.telegram.staff.edge import Edge
from bot.telegram.staff.identity import telegram_id_of
from bot.telegram.staff.polls import callbacks as cb
from bot.telegram.staff.polls.callbacks import PollData, Verb
from bot.telegram.staff.polls.preview import PollKeyboards
from bot.telegram.staff.polls.text import Draft, parse_poll
from bot.telegram.staff.targeting import Keyboard
from broadcasts.polls import PollCloser
from handlers.polls import OPTION_MAX, QUESTION_MAX, poll_text
from handlers.staff.broadcasts.common import Wake
from handlers.staff.broadcasts.news import Target
from handlers.staff.broadcasts.polls import CLOSES_FIRST, PollOps, Setting
from handlers.staff.broadcasts.targets import count_audience
from handlers.staff.core import EVERY_ROLE, Outcome, Reason, Refused, StaffCall
from messaging import labels
from messaging.i18n import N_, Catalog, Markup
from messaging.text import clean_text, local_time, split_text
from storage import polls
from storage.broadcasts import BroadcastStatus
from storage.models import Broadcast, Poll, PollPrompt
from storage.polls import PollPromptAction

__all__ = ["Draft", "PollComposer", "PollSettings", "parse_poll"]

log = logging.getLogger(__name__)

CMD_POLL: Final = "poll"
CMD_RESULTS: Final = "pollresults"
CMD_CLOSE: Final = "pollclose"
COMMANDS: Final = frozenset({CMD_POLL, CMD_RESULTS, CMD_CLOSE})
DRAFT: Final = BroadcastStatus.DRAFT.value
SCHEDULED: Final = BroadcastStatus.SCHEDULED.value
TEXT_LIMIT: Final = 4096
TARGETS: Final[Mapping[str, tuple[Target, str]]] = {
    Verb.TOPIC: (Target.TOPIC, cb.PAGE_TOPICS),
    Verb.DISTRICT: (Target.DISTRICT, cb.PAGE_DISTRICTS),
    Verb.CHANNEL: (Target.CHANNEL, cb.PAGE_MAIN),
}
SETTINGS: Final = {
    Verb.MULTIPLE: Setting.MULTIPLE,
    Verb.AFTER_VOTE: Setting.AFTER_VOTE,
    Verb.AFTER_CLOSE: Setting.AFTER_CLOSE,
    Verb.PUBLISH: Setting.PUBLISH,
}

PollSettings = ComposerSettings


class TelegramResultsPoster:
    """``ResultsPoster`` on aiogram: the results text, then the chart as a photo."""

    def __init__(self, bot: Bot, catalog: Catalog) -> None:
        self.bot = bot
        self.catalog = catalog

    async def post_results(self, chat_id: int, text: str, chart: bytes, file_name: str) -> None:
        for part in split_text(text, TEXT_LIMIT):
            await self.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)
        await self.bot.send_photo(chat_id, BufferedInputFile(chart, filename=file_name))


@dataclass(frozen=True, slots=True)
class Press(composing.Press[PollData]):
    """A pressed button of a poll: the poll too (``subject_id`` is its number)."""

    poll: Poll


PressHandler = Callable[[Press], Awaitable[None]]


class PollComposer(ComposerBase[PollData]):
    feature = "poll"
    prompt_texts = labels.POLL_PROMPT
    denied = N_("poll.denied")
    denied_role = N_("poll.denied_role")
    commands = COMMANDS
    data = PollData
    bad_button = N_("news.bad_button")
    prompts = PromptTable(polls.get_prompt, polls.add_prompt, polls.close_prompt, "poll_id")
    targets = TARGETS
    pages = cb.PAGES
    answer_duplicates = True

    def __init__(self, *, wake: Wake, **parts: Unpack[Parts]) -> None:
        super().__init__(**parts)
        catalog, zone = self.catalog, self.settings.zone
        self.ops = PollOps(catalog=catalog, zone=zone, wake=wake)
        # At closing time: the results and chart to the staff chat, publication if asked.
        self.closer = PollCloser(
            sessionmaker=self.sessionmaker,
            catalog=catalog,
            zone=zone,
            clock=self.clock,
            poster=TelegramResultsPoster(self.bot, catalog),
            operator_chat_id=self.settings.operator_chat_id,
            wake=wake,
        )
        self.keyboards = PollKeyboards(self.previews)
        self._handlers = self._table()

    def button_what(
        self,
        pressed: PollData,
        raw: str,  # noqa: ARG002 - the base names the raw data; a poll names its verb
    ) -> str:
        return f"button:{pressed.verb.value}"

    # -- messages ---------------------------------------------------------------------------

    async def message(
        self, work: Edge, message: Message, user: User, command: Command | None, prompt: Any
    ) -> None:
        if command is not None and command.name == CMD_RESULTS:
            await self._results_command(work, user, message, command)
            return
        if command is not None and command.name == CMD_CLOSE:
            await self._close_command(work, user, message, command)
            return
        what = f"/{command.name}" if command else f"prompt:{prompt and prompt.action}"
        call = await self.open_call(work, user, message.chat.id, what)
        if isinstance(call, Refused):
            work.later(self.reply, message, self.denial(call))
        elif command is not None:
            await self._compose(work, call, message, command.args)
        elif prompt is not None:
            await self._answer_prompt(work, call, message, prompt)

    async def _close_command(
        self, work: Edge, user: User, message: Message, command: Command
    ) -> None:
        """``/pollclose ID``: close an open poll now; what was not sent yet is cancelled. As at
        its closing time, the final results and chart follow, and publication if asked."""
        call = await self.open_call(work, user, message.chat.id, "/pollclose")
        if isinstance(call, Refused):
            work.later(self.reply, message, self.denial(call))
            return
        argument = _poll_id(command)
        if argument is None:
            work.later(self.reply, message, self.t("poll.close.usage"))
            return
        outcome = await self.ops.close(call, int(argument))
        if isinstance(outcome, Refused):
            if outcome.reason is Reason.NOT_FOUND:
                notice = self.t("poll.not_found", id=argument)
            else:
                notice = self.t("poll.close.already", id=outcome.details["id"])
            work.later(self.reply, message, notice)
            return
        work.later(self.reply, message, self.t("poll.close.done", id=outcome.value))
        work.later(self.closer.after_close, outcome.value)

    async def _results_command(
        self, work: Edge, user: User, message: Message, command: Command
    ) -> None:
        """``/pollresults ID`` (any staff): the results and chart, after the commit."""
        call = await self.open_call(work, user, message.chat.id, "/pollresults", EVERY_ROLE)
        if isinstance(call, Refused):
            work.later(self.reply, message, self.t("poll.denied_results"))
            return
        argument = _poll_id(command)
        if argument is None:
            work.later(self.reply, message, self.t("poll.results.usage"))
            return
        poll = await polls.get_poll(work.session, poll_id=int(argument))
        if poll is None:
            work.later(self.reply, message, self.t("poll.not_found", id=argument))
            return
        work.later(self._post_results, message.chat.id, poll.id)

    async def _post_results(self, chat_id: int, poll_id: int) -> None:
        try:
            await self.closer.post(poll_id, chat_id=chat_id)
        except TelegramAPIError as error:
            log.warning("poll %d: results not posted: %s", poll_id, error)

    async def _compose(self, work: Edge, call: StaffCall, message: Message, text: str) -> bool:
        if message.text is None:
            work.later(self.reply, message, self.t("poll.compose.text_only"))
            return False
        text = clean_text(text)
        if not text.strip():
            staff_id = telegram_id_of(call.staff)
            work.later(self.ask, message.chat.id, PollPromptAction.COMPOSE, staff_id, None)
            return False
        draft = parse_poll(text)
        if isinstance(draft, str):
            work.later(self.reply, message, self._problem(draft))
            return False
        poll = await self.ops.create(
            call, question=draft.question, options=draft.options, chat_id=message.chat.id
        )
        work.later(self.post_preview, message.chat.id, poll.id)
        return True

    def _problem(self, key: str) -> Markup:
        return self.t(
            key,
            min=polls.OPTIONS_MIN,
            max=polls.OPTIONS_MAX,
            question_max=QUESTION_MAX,
            option_max=OPTION_MAX,
        )

    async def _answer_prompt(
        self, work: Edge, call: StaffCall, message: Message, prompt: PollPrompt
    ) -> None:
        if self.answered(work, message, prompt):
            return
        session = work.session
        if prompt.action == PollPromptAction.COMPOSE.value:
            if await self._compose(work, call, message, message.text or ""):
                await self.close_prompt(work, prompt)
            return
        poll = (
            await polls.lock_poll(session, poll_id=prompt.poll_id)
            if prompt.poll_id is not None
            else None
        )
        broadcast = await polls.poll_broadcast(session, poll) if poll is not None else None
        if poll is None or broadcast is None or broadcast.status != DRAFT:
            await self.close_prompt(work, prompt)
            work.later(self.reply, message, self.t("poll.not_draft", id=prompt.poll_id))
            return
        when = self.parse_when(work, message)
        if when is None:
            return
        if prompt.action == PollPromptAction.CLOSES.value:
            self.ops.set_closes(call, poll, broadcast, when)
            local = local_time(when, self.settings.zone)
            notice = self.t("poll.closes_set", id=poll.id, when=local)
        elif poll.closes_at <= when:
            work.later(self.reply, message, self.t("poll.closes_before_start"))
            return
        elif self.confirm_needed(count := await count_audience(session, broadcast)):
            # Nothing is scheduled until "Yes" under the new preview.
            await self.close_prompt(work, prompt)
            work.later(self.reply, message, self.question(count, when))
            work.later(self.post_preview, message.chat.id, poll.id, cb.PAGE_CONFIRM, when)
            return
        else:
            notice = self._schedule(call, poll, broadcast, when, message.chat.id)
        await self.close_prompt(work, prompt)
        work.later(self.reply, message, notice)
        work.later(self.post_preview, message.chat.id, poll.id)

    def _schedule(
        self, call: StaffCall, poll: Poll, broadcast: Broadcast, when: datetime, chat_id: int
    ) -> Markup:
        self.ops.schedule(call, poll, broadcast, when=when, report_to=chat_id)
        return self.t("poll.scheduled", id=poll.id, when=local_time(when, self.settings.zone))

    # -- buttons: one handler per verb ------------------------------------------------------

    def handlers(self) -> Mapping[str, PressHandler]:
        return self._handlers

    def _table(self) -> dict[str, PressHandler]:
        return {
            Verb.CANCEL: self._cancel,
            # Everything else changes or sends a draft only.
            Verb.AUDIENCE: self.draft(self.page),
            Verb.PAGE: self.draft(self.page),
            **{verb: self.draft(self.target) for verb in TARGETS},
            **{verb: self.draft(self._toggle) for verb in SETTINGS},
            Verb.CLOSES: self.draft(self.asker(PollPromptAction.CLOSES)),
            Verb.SCHEDULE: self.draft(self.asker(PollPromptAction.TIME)),
            Verb.DECLINE: self.draft(self.decline),
            Verb.CONFIRM: self.draft(self._confirmed),
            Verb.SEND: self.draft(self._send_asked),
        }

    async def item(
        self,
        handler: PressHandler,
        work: Edge,
        call: StaffCall,
        pressed: PollData,
        chat_id: int,
        message_id: int,
    ) -> None:
        poll = await polls.lock_poll(work.session, poll_id=pressed.id)
        if poll is None:
            self.alert(work, self.t("poll.not_found", id=pressed.id))
            return
        broadcast = await polls.poll_broadcast(work.session, poll)
        await handler(Press(work, call, broadcast, pressed, chat_id, message_id, poll.id, poll))

    def not_draft(self, press: Press) -> None:
        self.alert(press.work, self.t("poll.not_draft", id=press.poll.id))
        press.later(self.main, press)

    def retarget(self, broadcast: Broadcast, what: Target, code: str) -> Outcome[None]:
        return self.ops.target(broadcast, what, code)

    async def _cancel(self, press: Press) -> None:
        outcome = await self.ops.cancel(press.call, press.poll, press.broadcast)
        if isinstance(outcome, Refused):
            self.alert(press.work, self.t("poll.not_draft", id=press.poll.id))
            return
        press.work.answer = self.t("poll.cancelled", id=press.poll.id)
        press.later(self.main, press)

    async def _toggle(self, press: Press) -> None:
        self.ops.toggle(press.poll, press.broadcast, SETTINGS[Verb(press.pressed.verb)])
        press.later(self.set_keyboard, press.chat_id, press.message_id, press.poll.id)

    async def _send_asked(self, press: Press) -> None:
        count = await count_audience(press.work.session, press.broadcast)
        if count and self.confirm_needed(count):
            self.alert(press.work, self.question(count, None))
            pid = press.poll.id
            press.later(self.set_keyboard, press.chat_id, press.message_id, pid, cb.PAGE_CONFIRM)
            return
        await self._send_now(press)

    async def _confirmed(self, press: Press) -> None:
        """ "Yes" under "Send to N residents?": sent (scheduled) if N is still the audience."""
        confirmed = confirm.unpack(press.pressed.arg)
        count = await count_audience(press.work.session, press.broadcast)
        pid, now = press.poll.id, press.work.now
        if confirmed is None or confirmed.count != count:
            self.alert(press.work, self.t("news.confirm.changed"))
            when = confirmed.when if confirmed is not None else None
            page = cb.PAGE_CONFIRM
            press.later(self.set_keyboard, press.chat_id, press.message_id, pid, page, when)
        elif confirmed.when is None:
            await self._send_now(press)
        elif confirmed.when <= now or press.poll.closes_at <= confirmed.when:
            problem = "news.time.past" if confirmed.when <= now else "poll.closes_before_start"
            self.alert(press.work, self.t(problem))
            press.later(self.main, press)
        else:
            when = confirmed.when
            press.work.answer = self._schedule(
                press.call, press.poll, press.broadcast, when, press.chat_id
            )
            press.later(self.main, press)

    async def _send_now(self, press: Press) -> None:
        outcome = await self.ops.send(
            press.call, press.poll, press.broadcast, report_to=press.chat_id
        )
        if isinstance(outcome, Refused):
            first = outcome.details.get("problem") == CLOSES_FIRST
            self.alert(press.work, self.t("poll.closes_before_start" if first else "poll.nobody"))
            return
        notice = self.t("poll.sending", id=press.poll.id, count=outcome.value.recipients)
        press.work.answer = notice
        press.later(self.main, press)
        press.later(self.send, press.chat_id, notice)
        press.later(self.progress.post, press.broadcast.id)

    # -- preview ----------------------------------------------------------------------------

    async def _preview(
        self, poll_id: int, page: str, when: datetime | None = None
    ) -> tuple[Markup, Keyboard] | None:
        async with self.sessionmaker() as session:
            poll = await polls.get_poll(session, poll_id=poll_id)
            if poll is None:
                return None
            broadcast = await polls.poll_broadcast(session, poll)
            count = await count_audience(session, broadcast)
            options = "\n".join(
                self.t("poll.preview.option", number=index + 1, label=label)
                for index, label in enumerate(poll.options)
            )
            text = self.t(
                "poll.preview",
                id=poll.id,
                state=self.keyboards.state(broadcast),
                message=poll_text(self.catalog, self.catalog.default, poll, self.settings.zone),
                options=Markup(options),
            )
            return text, self.keyboards.keyboard(poll, broadcast, page, count, when)

    async def post_preview(
        self,
        chat_id: int,
        poll_id: int,
        page: str = cb.PAGE_MAIN,
        when: datetime | None = None,
    ) -> None:
        found = await self._preview(poll_id, page, when)
        if found is None:
            return
        text, keyboard = found
        await self.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=composing.inline_markup(keyboard)
        )

    async def set_keyboard(
        self,
        chat_id: int,
        message_id: int,
        subject_id: int,
        page: str = cb.PAGE_MAIN,
        when: datetime | None = None,
    ) -> None:
        """The preview's keyboard, and its text: the state line follows the poll (scheduled,
        sending, …) and the settings show in it."""
        found = await self._preview(subject_id, page, when)
        if found is not None:
            await self.edit(chat_id, message_id, *found, quiet=False)


def _poll_id(command: Command) -> str | None:
    argument = command.args.strip().lstrip("№#")
    return argument if argument.isdigit() and len(argument) <= 18 else None
