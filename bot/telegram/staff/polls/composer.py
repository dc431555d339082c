"""The poll composer in the staff chats (editors and administrators) and ``/pollresults``.

``/poll`` with the question on its first line and one option per following line (2-10; list
markers like ``-``, ``•``, ``1.`` are dropped), or ``/poll`` alone, which asks for that text.
The preview shows the poll message as residents will get it and the composer's buttons:
audience, topics, districts and channels (the news targeting rules: ``storage.planning``),
single or multiple choice, whether residents see results after voting and after closing,
publication of the results to the voters, the closing time, send now, schedule, cancel.

Every event is one transaction opened here, as in the news composer: the update is claimed (a
redelivered update does nothing twice), the sender is checked (non-staff and operators are
refused and audited), the poll changed with its row locked, the audit entry written; Telegram is
called after the commit. A poll can be changed while its broadcast is a draft; what was sent or
scheduled is what residents get. ``/pollresults ID`` (any staff) posts the results and chart;
``/pollclose ID`` (editors, administrators) closes a poll before its time.
"""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ForceReply,
    Message,
    User,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff import composing, confirm, targeting
from bot.telegram.staff.news.composer import count_audience, inline_markup
from bot.telegram.staff.news.preview import Previews
from bot.telegram.staff.news.progress import ProgressReporter, is_not_modified
from bot.telegram.staff.news.text import TimeProblem, parse_time
from bot.telegram.staff.polls import callbacks as cb
from bot.telegram.staff.service import CLAIM_CHANNEL, Command, Work
from bot.telegram.staff.targeting import Keyboard
from broadcasts.polls import PollCloser
from handlers.polls import (
    OPTION_MAX,
    QUESTION_MAX,
    poll_buttons_json,
    poll_text,
)
from messaging.contract import Button
from messaging.i18n import N_, Catalog, Markup, labels
from messaging.text import clean_text, local_time, split_text
from storage import audit, dedup, polls
from storage.broadcasts import BroadcastStatus
from storage.models import Broadcast, Poll, PollPrompt, Staff
from storage.planning import plan_broadcast
from storage.polls import PollPromptAction
from storage.staff import get_staff
from storage.vocabulary import Clock, Role

log = logging.getLogger(__name__)

CMD_POLL: Final = "poll"
CMD_RESULTS: Final = "pollresults"
CMD_CLOSE: Final = "pollclose"
COMMANDS: Final = frozenset({CMD_POLL, CMD_RESULTS, CMD_CLOSE})
EDITORS: Final = frozenset({Role.ADMIN.value, Role.EDITOR.value})
DRAFT: Final = BroadcastStatus.DRAFT.value
SCHEDULED: Final = BroadcastStatus.SCHEDULED.value
# A new poll closes this long after it was composed unless the editor changes it.
DEFAULT_DAYS: Final = 7
TEXT_LIMIT: Final = 4096
_MARKER = re.compile(r"^\s*(?:[-•*–—]|\d{1,2}[.)])\s*")


@dataclasses.dataclass(frozen=True, slots=True)
class PollSettings:
    zone: ZoneInfo
    operator_chat_id: int | None = None
    editors_chat_id: int | None = None
    # Sending or scheduling to more residents than this asks "Send to N residents?" first.
    confirm_above: int = 1000


@dataclasses.dataclass(frozen=True, slots=True)
class Draft:
    question: str
    options: tuple[str, ...]


def parse_poll(text: str) -> Draft | str:
    """The question (first line) and options (following lines), or the catalog key of what is
    wrong. Plain text: anything typed as HTML stays text (escaped when shown)."""
    lines = [line.strip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        return N_("poll.compose.empty")
    question, options = lines[0], [_MARKER.sub("", line).strip() for line in lines[1:]]
    options = [option for option in options if option]
    if len(question) > QUESTION_MAX:
        return N_("poll.compose.question_long")
    if len(options) < polls.OPTIONS_MIN:
        return N_("poll.compose.few")
    if len(options) > polls.OPTIONS_MAX:
        return N_("poll.compose.many")
    if any(len(option) > OPTION_MAX for option in options):
        return N_("poll.compose.option_long")
    if len({option.casefold() for option in options}) != len(options):
        return N_("poll.compose.duplicate")
    return Draft(question=question, options=tuple(options))


class TelegramResultsPoster:
    """``ResultsPoster`` on aiogram: the results text, then the chart as a photo."""

    def __init__(self, bot: Bot, catalog: Catalog) -> None:
        self.bot = bot
        self.catalog = catalog

    async def post_results(self, chat_id: int, text: str, chart: bytes, file_name: str) -> None:
        for part in split_text(text, TEXT_LIMIT):
            await self.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML)
        await self.bot.send_photo(chat_id, BufferedInputFile(chart, filename=file_name))


def _no_wake() -> None:
    return None


class PollComposer:
    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        settings: PollSettings,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.catalog = catalog
        self.clock = clock
        self.settings = settings
        self.previews = Previews(catalog, zone=settings.zone)
        # The news composer's live progress message, Stop button and final report; the news
        # progress job keeps it up to date (it follows every broadcast with a progress chat).
        self.progress = ProgressReporter(
            bot=bot, sessionmaker=sessionmaker, previews=self.previews, clock=clock
        )
        self.wake: Callable[[], None] = _no_wake
        self.closer = PollCloser(
            sessionmaker=sessionmaker,
            catalog=catalog,
            zone=settings.zone,
            clock=clock,
            poster=TelegramResultsPoster(bot, catalog),
            operator_chat_id=settings.operator_chat_id,
            wake=self._wake,
        )

    def _wake(self) -> None:
        self.wake()

    def t(self, key: str, /, **params: object) -> Markup:
        return self.catalog.text(self.catalog.default, key, **params)

    # -- which updates are ours -----------------------------------------------------------

    async def is_staff_chat(self, chat_id: int) -> bool:
        return await composing.is_composer_chat(
            self.sessionmaker,
            chat_id,
            editors_chat_id=self.settings.editors_chat_id,
            operator_chat_id=self.settings.operator_chat_id,
        )

    async def wants(self, message: Message, bot_username: str) -> bool:
        return await composing.wants(
            message,
            bot_username,
            bot_id=self.bot.id,
            commands=COMMANDS,
            sessionmaker=self.sessionmaker,
            find_prompt=polls.get_prompt,
            in_chat=self.is_staff_chat,
        )

    # -- messages ---------------------------------------------------------------------------

    async def on_message(self, message: Message, *, update_key: str, bot_username: str) -> None:
        user = message.from_user
        if user is None:
            return
        command = composing.command_of(message, bot_username)
        if command is not None and command.name not in COMMANDS:
            return
        results_for: int | None = None
        closed: int | None = None
        async with self.sessionmaker() as session, session.begin():
            work = Work(session=session, now=self.clock())
            prompt: PollPrompt | None = None
            if command is None:
                reply = message.reply_to_message
                if reply is None:
                    return
                prompt = await polls.get_prompt(
                    session, chat_id=message.chat.id, message_id=reply.message_id
                )
                if prompt is None:
                    return
            if not await dedup.claim_update(
                session, channel=CLAIM_CHANNEL, update_key=update_key, now=work.now
            ):
                return
            if command is not None and command.name == CMD_RESULTS:
                results_for = await self._results_command(work, user, message, command)
            elif command is not None and command.name == CMD_CLOSE:
                closed = await self._close_command(work, user, message, command)
            else:
                what = f"/{command.name}" if command else f"prompt:{prompt and prompt.action}"
                staff = await self._allowed(work, user, message.chat.id, what, EDITORS)
                if staff is None:
                    work.later(self._reply, message, await self._refusal(session, user))
                elif command is not None:
                    await self._compose(work, staff, message, command.args)
                elif prompt is not None:
                    await self._answer_prompt(work, staff, message, prompt)
        await work.run_after(log, "poll")
        if results_for is not None:
            await self._post_results(message.chat.id, results_for)
        if closed is not None:
            # As at its closing time: final results and chart, publication to voters if asked.
            await self.closer.after_close(closed)

    async def _close_command(
        self, work: Work, user: User, message: Message, command: Command
    ) -> int | None:
        """``/pollclose ID`` (editors, administrators): close an open poll now; what was not
        sent yet is cancelled. Returns the id if this closed it."""
        staff = await self._allowed(work, user, message.chat.id, "/pollclose", EDITORS)
        if staff is None:
            work.later(self._reply, message, await self._refusal(work.session, user))
            return None
        argument = command.args.strip().lstrip("№#")
        if not argument.isdigit() or len(argument) > 18:
            work.later(self._reply, message, self.t("poll.close.usage"))
            return None
        poll = await polls.get_poll(work.session, poll_id=int(argument))
        if poll is None:
            work.later(self._reply, message, self.t("poll.not_found", id=argument))
            return None
        if not await polls.close_poll(work.session, poll_id=poll.id, now=work.now):
            work.later(self._reply, message, self.t("poll.close.already", id=poll.id))
            return None
        self._audit(work, staff, "poll.closed_early", poll)
        work.later(self._reply, message, self.t("poll.close.done", id=poll.id))
        return poll.id

    async def _results_command(
        self, work: Work, user: User, message: Message, command: Command
    ) -> int | None:
        """``/pollresults ID`` (any staff): the poll's id if it exists."""
        staff = await self._allowed(
            work, user, message.chat.id, "/pollresults", frozenset(r.value for r in Role)
        )
        if staff is None:
            work.later(self._reply, message, self.t("poll.denied_results"))
            return None
        argument = command.args.strip().lstrip("№#")
        if not argument.isdigit() or len(argument) > 18:
            work.later(self._reply, message, self.t("poll.results.usage"))
            return None
        poll = await polls.get_poll(work.session, poll_id=int(argument))
        if poll is None:
            work.later(self._reply, message, self.t("poll.not_found", id=argument))
            return None
        return poll.id

    async def _post_results(self, chat_id: int, poll_id: int) -> None:
        try:
            await self.closer.post(poll_id, chat_id=chat_id)
        except TelegramAPIError as error:
            log.warning("poll %d: results not posted: %s", poll_id, error)

    async def _refusal(self, session: AsyncSession, user: User) -> Markup:
        staff = await get_staff(session, telegram_id=user.id)
        return self.t("poll.denied" if staff is None else "poll.denied_role")

    async def _allowed(
        self, work: Work, user: User, chat_id: int, what: str, roles: frozenset[str]
    ) -> Staff | None:
        """The sender if their role is one of ``roles``; otherwise the refusal is audited."""
        staff = await get_staff(work.session, telegram_id=user.id)
        if staff is not None and staff.role in roles:
            return staff
        composing.record_refusal(
            work, user, staff, chat_id=chat_id, what=what, feature="poll", log=log
        )
        return None

    async def _compose(self, work: Work, staff: Staff, message: Message, text: str) -> bool:
        if message.text is None:
            work.later(self._reply, message, self.t("poll.compose.text_only"))
            return False
        text = clean_text(text)
        if not text.strip():
            work.later(
                self._ask, message.chat.id, PollPromptAction.COMPOSE, staff.telegram_id, None
            )
            return False
        draft = parse_poll(text)
        if isinstance(draft, str):
            work.later(self._reply, message, self._problem(draft))
            return False
        poll = await polls.create_poll(
            work.session,
            question=draft.question,
            options=draft.options,
            closes_at=work.now + timedelta(days=DEFAULT_DAYS),
            now=work.now,
            created_by=staff.telegram_id,
            chat_id=message.chat.id,
        )
        self._audit(work, staff, "poll.draft", poll)
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
        self, work: Work, staff: Staff, message: Message, prompt: PollPrompt
    ) -> None:
        if prompt.done_at is not None:
            work.later(self._reply, message, self.t("poll.prompt.done"))
            return
        chat_id, prompt_id = prompt.chat_id, prompt.message_id
        if prompt.action == PollPromptAction.COMPOSE.value:
            if await self._compose(work, staff, message, message.text or ""):
                await polls.close_prompt(
                    work.session, chat_id=chat_id, message_id=prompt_id, now=work.now
                )
            return
        poll = (
            await polls.lock_poll(work.session, poll_id=prompt.poll_id)
            if prompt.poll_id is not None
            else None
        )
        broadcast = await polls.poll_broadcast(work.session, poll) if poll is not None else None
        if poll is None or broadcast is None or broadcast.status != DRAFT:
            await polls.close_prompt(
                work.session, chat_id=chat_id, message_id=prompt_id, now=work.now
            )
            work.later(self._reply, message, self.t("poll.not_draft", id=prompt.poll_id))
            return
        when = parse_time(message.text or "", now=work.now, zone=self.settings.zone)
        if isinstance(when, TimeProblem):
            # The question stays open: the editor answers it again.
            work.later(self._reply, message, self.t(labels.NEWS_TIME[when.value]))
            return
        if prompt.action == PollPromptAction.CLOSES.value:
            poll.closes_at = when
            self._audit(work, staff, "poll.closes", poll, at=when.isoformat())
            notice = self.t(
                "poll.closes_set", id=poll.id, when=local_time(when, self.settings.zone)
            )
        else:
            if poll.closes_at <= when:
                work.later(self._reply, message, self.t("poll.closes_before_start"))
                return
            count = await count_audience(work.session, broadcast)
            if confirm.needed(count, self.settings.confirm_above):
                # Nothing is scheduled until "Yes" under the new preview.
                await polls.close_prompt(
                    work.session, chat_id=chat_id, message_id=prompt_id, now=work.now
                )
                local = local_time(when, self.settings.zone)
                question = confirm.question(self.catalog, count, local)
                notice = Markup(question + "\n" + self.t("news.confirm.hint"))
                work.later(self._reply, message, notice)
                work.later(self.post_preview, message.chat.id, poll.id, cb.PAGE_CONFIRM, when)
                return
            notice = self._schedule(work, staff, poll, broadcast, when, message.chat.id)
        await polls.close_prompt(work.session, chat_id=chat_id, message_id=prompt_id, now=work.now)
        work.later(self._reply, message, notice)
        work.later(self.post_preview, message.chat.id, poll.id)

    def _schedule(
        self,
        work: Work,
        staff: Staff,
        poll: Poll,
        broadcast: Broadcast,
        when: datetime,
        chat_id: int,
    ) -> Markup:
        self._freeze(broadcast, poll)
        broadcast.status = SCHEDULED
        broadcast.scheduled_at = when
        # Where the progress message goes once the scheduler starts it.
        broadcast.progress_chat_id = chat_id
        self._audit(work, staff, "poll.scheduled", poll, at=when.isoformat())
        return self.t("poll.scheduled", id=poll.id, when=local_time(when, self.settings.zone))

    # -- buttons ----------------------------------------------------------------------------

    async def on_button(self, query: CallbackQuery, *, update_key: str) -> None:
        message = query.message
        action = cb.unpack(query.data or "")
        if action is None or message is None:
            await composing.answer_query(log, query, self.t("news.bad_button"), alert=True)
            return
        chat_id, message_id = message.chat.id, message.message_id
        async with self.sessionmaker() as session, session.begin():
            work = Work(session=session, now=self.clock())
            if not await dedup.claim_update(
                session, channel=CLAIM_CHANNEL, update_key=update_key, now=work.now
            ):
                await composing.answer_query(log, query, None)
                return
            staff = await self._allowed(
                work, query.from_user, chat_id, f"button:{action.verb}", EDITORS
            )
            poll = await polls.lock_poll(session, poll_id=action.poll_id)
            if staff is None:
                work.answer, work.alert = await self._refusal(session, query.from_user), True
            elif poll is None:
                work.answer, work.alert = self.t("poll.not_found", id=action.poll_id), True
            else:
                await self._button(work, staff, poll, action, chat_id, message_id)
        await composing.answer_query(log, query, work.answer, alert=work.alert)
        await work.run_after(log, "poll")

    async def _button(
        self,
        work: Work,
        staff: Staff,
        poll: Poll,
        action: cb.PollAction,
        chat_id: int,
        message_id: int,
    ) -> None:
        broadcast = await polls.poll_broadcast(work.session, poll)
        verb = action.verb
        if verb == cb.CANCEL:
            if broadcast.status not in (DRAFT, SCHEDULED):
                work.answer, work.alert = self.t("poll.not_draft", id=poll.id), True
                return
            broadcast.status = BroadcastStatus.CANCELLED.value
            broadcast.cancelled_at = work.now
            await polls.close_poll(work.session, poll_id=poll.id, now=work.now)
            self._audit(work, staff, "poll.cancelled", poll)
            work.answer = self.t("poll.cancelled", id=poll.id)
            work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_MAIN)
            return
        if broadcast.status != DRAFT:
            work.answer, work.alert = self.t("poll.not_draft", id=poll.id), True
            work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_MAIN)
            return
        if verb in (cb.AUDIENCE, cb.PAGE):
            page = action.argument if action.argument in cb.PAGES else cb.PAGE_MAIN
            work.answer = self.t(
                "news.audience", count=await count_audience(work.session, broadcast)
            )
            work.later(self._set_keyboard, chat_id, message_id, poll.id, page)
        elif verb in (cb.TOPIC, cb.DISTRICT, cb.CHANNEL):
            problem = self._target(broadcast, verb, action.argument)
            if problem is not None:
                work.answer, work.alert = problem, True
                return
            await work.session.flush()
            work.answer = self.t(
                "news.audience", count=await count_audience(work.session, broadcast)
            )
            page = {cb.TOPIC: cb.PAGE_TOPICS, cb.DISTRICT: cb.PAGE_DISTRICTS}.get(
                verb, cb.PAGE_MAIN
            )
            work.later(self._set_keyboard, chat_id, message_id, poll.id, page)
        elif verb in cb.TOGGLES:
            if verb == cb.MULTIPLE:
                poll.multiple = not poll.multiple
            elif verb == cb.AFTER_VOTE:
                poll.results_after_vote = not poll.results_after_vote
            elif verb == cb.AFTER_CLOSE:
                poll.results_after_close = not poll.results_after_close
            else:
                poll.publish_results = not poll.publish_results
            work.later(self.post_preview_edit, chat_id, message_id, poll.id)
        elif verb == cb.CLOSES:
            work.later(self._ask, chat_id, PollPromptAction.CLOSES, staff.telegram_id, poll.id)
        elif verb == cb.SCHEDULE:
            work.later(self._ask, chat_id, PollPromptAction.TIME, staff.telegram_id, poll.id)
        elif verb == cb.DECLINE:
            work.answer = self.t("news.confirm.declined", id=poll.id)
            work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_MAIN)
        elif verb == cb.CONFIRM:
            await self._confirmed(
                work, staff, poll, broadcast, action.argument, chat_id, message_id
            )
        elif verb == cb.SEND:
            count = await count_audience(work.session, broadcast)
            if count and confirm.needed(count, self.settings.confirm_above):
                question = confirm.question(self.catalog, count, None)
                work.answer = Markup(question + "\n" + self.t("news.confirm.hint"))
                work.alert = True
                work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_CONFIRM)
                return
            await self._send_now(work, staff, poll, broadcast, chat_id, message_id)

    async def _confirmed(
        self,
        work: Work,
        staff: Staff,
        poll: Poll,
        broadcast: Broadcast,
        argument: str,
        chat_id: int,
        message_id: int,
    ) -> None:
        """ "Yes" under "Send to N residents?": sent (scheduled) if N is still the audience."""
        confirmed = confirm.unpack(argument)
        count = await count_audience(work.session, broadcast)
        if confirmed is None or confirmed.count != count:
            work.answer, work.alert = self.t("news.confirm.changed"), True
            when = confirmed.when if confirmed is not None else None
            work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_CONFIRM, when)
            return
        if confirmed.when is None:
            await self._send_now(work, staff, poll, broadcast, chat_id, message_id)
            return
        if confirmed.when <= work.now or poll.closes_at <= confirmed.when:
            problem = "news.time.past" if confirmed.when <= work.now else "poll.closes_before_start"
            work.answer, work.alert = self.t(problem), True
            work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_MAIN)
            return
        work.answer = self._schedule(work, staff, poll, broadcast, confirmed.when, chat_id)
        work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_MAIN)

    def _target(self, broadcast: Broadcast, verb: str, argument: str) -> Markup | None:
        """Change the topics, districts or channels (the news composer's rules)."""
        if verb == cb.CHANNEL:
            problem = targeting.toggle_channel(broadcast, argument)
        else:
            problem = targeting.toggle_code(broadcast, argument, topics=verb == cb.TOPIC)
        return None if problem is None else self.t(problem)

    def _freeze(self, broadcast: Broadcast, poll: Poll) -> None:
        """What residents get: the poll message and its buttons, fixed when it is submitted."""
        broadcast.text = poll_text(self.catalog, self.catalog.default, poll, self.settings.zone)
        broadcast.buttons = poll_buttons_json(poll)

    async def _send_now(
        self,
        work: Work,
        staff: Staff,
        poll: Poll,
        broadcast: Broadcast,
        chat_id: int,
        message_id: int,
    ) -> None:
        if poll.closes_at <= work.now:
            work.answer, work.alert = self.t("poll.closes_before_start"), True
            return
        if not await count_audience(work.session, broadcast):
            work.answer, work.alert = self.t("poll.nobody"), True
            return
        self._freeze(broadcast, poll)
        broadcast.progress_chat_id = chat_id
        await work.session.flush()
        count = await plan_broadcast(
            work.session, broadcast_id=broadcast.id, now=work.now, statuses=(DRAFT,)
        )
        self._audit(work, staff, "poll.sent", poll, recipients=count)
        notice = self.t("poll.sending", id=poll.id, count=count or 0)
        work.answer = notice
        work.later(self._set_keyboard, chat_id, message_id, poll.id, cb.PAGE_MAIN)
        work.later(self._send, chat_id, notice)
        work.later(self._started, broadcast.id)

    async def _started(self, broadcast_id: int) -> None:
        self.wake()
        await self.progress.post(broadcast_id)

    # -- preview ----------------------------------------------------------------------------

    def _yes_no(self, on: bool) -> Markup:
        return self.t("poll.yes" if on else "poll.no")

    def keyboard(
        self,
        poll: Poll,
        broadcast: Broadcast,
        page: str,
        audience: int,
        when: datetime | None = None,
    ) -> Keyboard:
        pid = poll.id
        status = broadcast.status
        info = (Button(self.t("news.btn.audience", count=audience), cb.pack(cb.AUDIENCE, pid)),)
        if status == SCHEDULED:
            assert broadcast.scheduled_at is not None
            at = local_time(broadcast.scheduled_at, self.settings.zone)
            return (
                (Button(self.t("news.btn.when", when=at), cb.pack(cb.AUDIENCE, pid)),),
                (Button(self.t("news.btn.cancel"), cb.pack(cb.CANCEL, pid)),),
            )
        if status != DRAFT:
            return ()
        if page == cb.PAGE_CONFIRM:
            return self.previews.confirm_keyboard(
                audience,
                when,
                cb.pack(cb.AUDIENCE, pid),
                cb.pack(cb.CONFIRM, pid, confirm.pack(audience, when)),
                cb.pack(cb.DECLINE, pid),
            )
        back = Button(self.t("news.btn.back"), cb.pack(cb.PAGE, pid, cb.PAGE_MAIN))
        if page == cb.PAGE_TOPICS:
            return targeting.topics_page(
                broadcast, self.t, lambda code: cb.pack(cb.TOPIC, pid, code), back
            )
        if page == cb.PAGE_DISTRICTS:
            return targeting.districts_page(
                broadcast, self.t, lambda code: cb.pack(cb.DISTRICT, pid, code), back
            )
        topics, districts = targeting.summary(broadcast, self.t)
        channels = targeting.channels_row(
            broadcast, self.t, lambda code: cb.pack(cb.CHANNEL, pid, code)
        )
        closes = local_time(poll.closes_at, self.settings.zone)
        return (
            info,
            (
                Button(
                    self.t("news.btn.topics", value=targeting.cut(topics)),
                    cb.pack(cb.PAGE, pid, cb.PAGE_TOPICS),
                ),
            ),
            (
                Button(
                    self.t("news.btn.districts", value=targeting.cut(districts)),
                    cb.pack(cb.PAGE, pid, cb.PAGE_DISTRICTS),
                ),
            ),
            channels,
            (
                Button(
                    self.t("poll.btn.multiple" if poll.multiple else "poll.btn.single"),
                    cb.pack(cb.MULTIPLE, pid),
                ),
            ),
            (
                Button(
                    self.t("poll.btn.after_vote", value=self._yes_no(poll.results_after_vote)),
                    cb.pack(cb.AFTER_VOTE, pid),
                ),
            ),
            (
                Button(
                    self.t("poll.btn.after_close", value=self._yes_no(poll.results_after_close)),
                    cb.pack(cb.AFTER_CLOSE, pid),
                ),
            ),
            (
                Button(
                    self.t("poll.btn.publish", value=self._yes_no(poll.publish_results)),
                    cb.pack(cb.PUBLISH, pid),
                ),
            ),
            (Button(self.t("poll.btn.closes", when=closes), cb.pack(cb.CLOSES, pid)),),
            (
                Button(self.t("news.btn.send"), cb.pack(cb.SEND, pid)),
                Button(self.t("news.btn.schedule"), cb.pack(cb.SCHEDULE, pid)),
            ),
            (Button(self.t("news.btn.cancel"), cb.pack(cb.CANCEL, pid)),),
        )

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
                state=self._state(broadcast),
                message=poll_text(self.catalog, self.catalog.default, poll, self.settings.zone),
                options=Markup(options),
            )
            return text, self.keyboard(poll, broadcast, page, count, when)

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
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=inline_markup(keyboard)
        )

    def _state(self, broadcast: Broadcast) -> Markup:
        """The preview's state: draft, scheduled for …, sending, sent …, cancelled."""
        status = broadcast.status
        if status == SCHEDULED and broadcast.scheduled_at is not None:
            when = local_time(broadcast.scheduled_at, self.settings.zone)
            return self.t("poll.state.scheduled", when=when)
        if status == BroadcastStatus.FINISHED.value:
            moment = broadcast.finished_at or broadcast.started_at
            when = moment.astimezone(self.settings.zone).strftime("%d.%m %H:%M") if moment else ""
            return self.t("poll.state.finished", when=when)
        return self.t(labels.NEWS_STATUS[status])

    async def post_preview_edit(
        self,
        chat_id: int,
        message_id: int,
        poll_id: int,
        page: str = cb.PAGE_MAIN,
        when: datetime | None = None,
    ) -> None:
        """The preview's text (its state) and keyboard after a setting or its state changed."""
        found = await self._preview(poll_id, page, when)
        if found is None:
            return
        text, keyboard = found
        try:
            await self.bot.edit_message_text(
                text=text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=inline_markup(keyboard),
            )
        except TelegramBadRequest as error:
            if not is_not_modified(error):
                raise

    async def _set_keyboard(
        self,
        chat_id: int,
        message_id: int,
        poll_id: int,
        page: str,
        when: datetime | None = None,
    ) -> None:
        # The text too: the preview's state line follows the poll (scheduled, sending, …).
        await self.post_preview_edit(chat_id, message_id, poll_id, page, when)

    # -- Telegram ---------------------------------------------------------------------------

    async def _ask(
        self, chat_id: int, action: PollPromptAction, staff_id: int, poll_id: int | None
    ) -> None:
        key = labels.POLL_PROMPT[action.value]
        text = self.t(key, id=poll_id) if poll_id is not None else self.t(key)
        sent = await self.bot.send_message(
            chat_id, text, parse_mode=ParseMode.HTML, reply_markup=ForceReply(selective=True)
        )
        async with self.sessionmaker() as session, session.begin():
            polls.add_prompt(
                session,
                chat_id=chat_id,
                message_id=sent.message_id,
                action=action,
                staff_id=staff_id,
                poll_id=poll_id,
                now=self.clock(),
            )

    async def _reply(self, message: Message, text: str) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML)

    async def _send(self, chat_id: int, text: str) -> None:
        await self.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML)

    def _audit(self, work: Work, staff: Staff, action: str, poll: Poll, **details: object) -> None:
        audit.record(
            work.session,
            actor=f"staff:{staff.telegram_id}",
            action=action,
            now=work.now,
            subject=f"poll:{poll.id}",
            details={key: value for key, value in details.items() if value is not None},
        )
