"""The live progress message of a broadcast in the composer's chat, and its final report.

Works from the database only (``broadcasts.progress_chat_id/message_id``, ``news_reports``), so it
survives restarts and runs in any number of processes: posting the message is claimed once, each
edit is claimed (at most one per ``interval`` per message whoever edits), and the final report is
written once. Telegram's "message is not modified" is not an error here; a 429 ends the round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Final

from aiogram import Bot
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.news import callbacks as cb
from bot.telegram.staff.news.preview import Previews
from messaging import labels
from messaging.i18n import Markup
from storage import news, polls
from storage.broadcasts import BroadcastKind, BroadcastStatus, Progress, broadcast_progress
from storage.errors import TRY_AGAIN_LATER
from storage.models import Broadcast
from storage.pacing import Throttle, current_throttles
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

# At most one edit per message this often (Telegram allows about one message a second per chat
# and 20 a minute per group; several broadcasts at once share the group).
EDIT_INTERVAL: Final = timedelta(seconds=3)
BAR: Final = 20
# Broadcasts followed per round (the oldest first).
ROUND_LIMIT: Final = 20


def is_not_modified(error: TelegramBadRequest) -> bool:
    return "message is not modified" in error.message


async def edit_html(
    bot: Bot, chat_id: int, message_id: int, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Edit a message's HTML text and buttons; an edit that changes nothing is no failure
    (Telegram refuses it with "message is not modified"), any other refusal is raised."""
    try:
        await bot.edit_message_text(
            text=text,
            chat_id=chat_id,
            message_id=message_id,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
        )
    except TelegramBadRequest as error:
        if not is_not_modified(error):
            raise


def bar(share: float) -> str:
    filled = round(max(0.0, min(1.0, share)) * BAR)
    return "█" * filled + "░" * (BAR - filled)


class ProgressReporter:
    def __init__(
        self,
        *,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        previews: Previews,
        clock: Clock,
        interval: timedelta = EDIT_INTERVAL,
    ) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.previews = previews
        self.clock = clock
        self.interval = interval

    def duration(self, seconds: float) -> Markup:
        whole = max(0, round(seconds))
        hours, rest = divmod(whole, 3600)
        minutes, secs = divmod(rest, 60)
        if hours:
            return self.previews.t("news.duration.hours", h=hours, m=minutes)
        if minutes:
            return self.previews.t("news.duration.minutes", m=minutes, s=secs)
        return self.previews.t("news.duration.seconds", s=secs)

    def texts(self, broadcast: Broadcast) -> Callable[..., Markup]:
        """The catalog for this broadcast's messages: a poll's own ``poll.progress.*`` texts
        where the catalog has them, the news ones otherwise."""
        if broadcast.kind != BroadcastKind.POLL.value:
            return self.previews.t

        def t(key: str, /, **params: object) -> Markup:
            return self.previews.t(labels.POLL_PROGRESS.get(key, key), **params)

        return t

    async def number(self, session: AsyncSession, broadcast: Broadcast) -> int:
        """The number staff know the broadcast by: the poll's for a poll."""
        if broadcast.kind == BroadcastKind.POLL.value:
            poll_id = await polls.poll_id_of(session, broadcast_id=broadcast.id)
            if poll_id is not None:
                return poll_id
        return broadcast.id

    def render(
        self,
        broadcast: Broadcast,
        progress: Progress,
        number: int | None = None,
        throttles: Sequence[Throttle] = (),
    ) -> tuple[Markup, bool]:
        """The message text, and whether it is the final report. ``number``: what staff know
        the broadcast by (a poll's id); ``throttles``: the messengers slowing the engine down
        right now (a line each while the broadcast is sending)."""
        t = self.texts(broadcast)
        bid = number if number is not None else broadcast.id
        if broadcast.finished_at is not None:
            cancelled = broadcast.status == BroadcastStatus.CANCELLED.value
            elapsed = (
                (broadcast.finished_at - broadcast.started_at).total_seconds()
                if broadcast.started_at is not None
                else 0.0
            )
            key = "news.progress.final_cancelled" if cancelled else "news.progress.final"
            return (
                t(
                    key,
                    id=bid,
                    sent=progress.sent,
                    total=progress.total,
                    blocked=progress.blocked,
                    failed=progress.failed,
                    cancelled=progress.cancelled,
                    duration=self.duration(elapsed),
                ),
                True,
            )
        done = progress.sent + progress.blocked + progress.failed + progress.cancelled
        share = done / progress.total if progress.total else 1.0
        eta = (
            self.duration(progress.pending / progress.rate)
            if progress.pending and progress.rate > 0
            else t("news.progress.eta_unknown")
        )
        status_key = (
            "news.progress.stopping"
            if broadcast.status == BroadcastStatus.CANCELLED.value
            else "news.progress.sending"
        )
        text = t(
            "news.progress.live",
            id=bid,
            status=t(status_key),
            bar=bar(share),
            percent=f"{share:.0%}",
            sent=progress.sent,
            blocked=progress.blocked,
            failed=progress.failed,
            left=progress.pending,
            total=progress.total,
            rate=self.previews.catalog.decimal(self.previews.catalog.default, progress.rate),
            eta=eta,
        )
        lines = [
            t(
                "news.progress.throttled",
                channel=throttle.channel.capitalize(),
                seconds=self.previews.catalog.decimal(
                    self.previews.catalog.default, throttle.retry_after, digits=3, trim=True
                ),
            )
            for throttle in throttles
        ]
        return Markup("\n".join([text, *lines])), False

    async def throttles(self, session: AsyncSession) -> list[Throttle]:
        # A pause of a second is shown until the next edit could show it.
        return await current_throttles(session, now=self.clock(), grace=self.interval)

    def markup(self, broadcast: Broadcast, final: bool) -> InlineKeyboardMarkup | None:
        if final or broadcast.status != BroadcastStatus.SENDING.value:
            return None
        button = InlineKeyboardButton(
            text=self.previews.t("news.btn.stop"), callback_data=cb.pack(cb.STOP, broadcast.id)
        )
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    async def run_once(self) -> int:
        """Post the messages not posted yet, then edit those due; returns how many edits."""
        try:
            async with self.sessionmaker() as session:
                unposted = await news.unposted_progress(session, limit=ROUND_LIMIT)
            for broadcast_id in unposted:
                await self.post(broadcast_id)
            async with self.sessionmaker() as session:
                due = [b.id for b in await news.reports_to_update(session, limit=ROUND_LIMIT)]
            edits = 0
            for broadcast_id in due:
                try:
                    edits += await self._update(broadcast_id)
                except TelegramRetryAfter as error:
                    log.info("progress edits paused for %s s (429)", error.retry_after)
                    break
            return edits
        except TRY_AGAIN_LATER as error:
            log.warning("progress reports skipped: %s", error)
            return 0

    async def post(self, broadcast_id: int) -> None:
        """Post the progress message of a started broadcast (once, whoever calls it)."""
        async with self.sessionmaker() as session, session.begin():
            if not await news.claim_progress_post(session, broadcast_id=broadcast_id):
                return
            broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
            assert broadcast is not None and broadcast.progress_chat_id is not None
            progress = await broadcast_progress(
                session, broadcast_id=broadcast_id, now=self.clock()
            )
            assert progress is not None
            chat_id = broadcast.progress_chat_id
            text, final = self.render(
                broadcast,
                progress,
                await self.number(session, broadcast),
                await self.throttles(session),
            )
            markup = self.markup(broadcast, final)
        try:
            sent = await self.bot.send_message(
                chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup
            )
        except TelegramAPIError as error:
            log.warning("broadcast %d: progress message not posted: %s", broadcast_id, error)
            async with self.sessionmaker() as session, session.begin():
                # Tried again by the next round.
                await news.set_progress_message(session, broadcast_id=broadcast_id, message_id=None)
            return
        async with self.sessionmaker() as session, session.begin():
            await news.set_progress_message(
                session, broadcast_id=broadcast_id, message_id=sent.message_id
            )
            now = self.clock()
            await news.claim_report_edit(
                session, broadcast_id=broadcast_id, now=now, interval=self.interval, final=final
            )

    async def _update(self, broadcast_id: int) -> int:
        async with self.sessionmaker() as session, session.begin():
            now = self.clock()
            broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
            if broadcast is None or broadcast.progress_message_id is None:
                return 0
            progress = await broadcast_progress(session, broadcast_id=broadcast_id, now=now)
            assert progress is not None
            text, final = self.render(
                broadcast,
                progress,
                await self.number(session, broadcast),
                await self.throttles(session),
            )
            if not await news.claim_report_edit(
                session, broadcast_id=broadcast_id, now=now, interval=self.interval, final=final
            ):
                return 0
            chat_id, message_id = broadcast.progress_chat_id, broadcast.progress_message_id
            markup = self.markup(broadcast, final)
        assert chat_id is not None
        try:
            await edit_html(self.bot, chat_id, message_id, text, markup)
        except TelegramBadRequest as error:
            # Deleted, too old: the counts are in `citybot broadcast status` anyway.
            log.warning("broadcast %d: progress not edited: %s", broadcast_id, error)
            return 0
        except TelegramRetryAfter:
            raise
        except TelegramAPIError as error:
            log.warning("broadcast %d: progress not edited: %s", broadcast_id, error)
            return 0
        return 1
