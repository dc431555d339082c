"""Every scheduled job of ``citybot run``, registered on one APScheduler scheduler.

Jobs that must run once per fire time across processes go through ``OnceJobs``
(broadcasts.jobs); the news composer's jobs claim their work in the database instead (each
step is atomic), so they run on plain interval triggers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

from aiogram import Dispatcher
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.metrics.core import Metrics
from bot.metrics.jobs import once_jobs
from bot.news_jobs import register_jobs as register_news_jobs
from bot.news_jobs import register_web_jobs as register_web_news_jobs
from bot.telegram.channel import TelegramChannel
from bot.telegram.sender import ChatPoster
from bot.telegram.staff.desk import Desk
from bot.telegram.staff.polls.composer import PollComposer
from bot.telegram.staff.polls.router import KEY as POLLS_KEY
from bot.telegram.staff.stats import TelegramFiles
from broadcasts.consultations import DUE_SECOND, ClosingReminder
from broadcasts.consultations import JOB_NAME as CONSULTATIONS_DUE
from broadcasts.digest import Digests
from broadcasts.digest import register_jobs as register_digest_jobs
from broadcasts.jobs import OnceJobs
from broadcasts.media_digest import MediaDigestJob
from broadcasts.media_digest import register_jobs as register_media_jobs
from broadcasts.media_monitor import MediaMonitor
from broadcasts.polls import CLOSE_SECOND, JOB_NAME, PollCloser
from broadcasts.sla import SlaJobs
from broadcasts.summary import register_analytics
from handlers.sending import ReplySender, send_owed
from messaging.contract import ChannelError, Sender
from messaging.i18n import Catalog
from storage.dedup import DEDUP_RETENTION, prune_processed
from storage.errors import TRY_AGAIN_LATER
from storage.job_runs import prune_runs
from storage.retention import erase_expired
from storage.vocabulary import Clock, system_clock

log = logging.getLogger(__name__)

# The staff desk posts what did not reach Telegram every minute, at this second.
CATCH_UP_SECOND = 30
# Replies owed by a process that died are sent every minute, at this second (handlers.owed).
OWED_SECOND = 45
# Fire times of scheduled jobs are kept this long (an administrator's record of what ran).
JOB_RUN_RETENTION = timedelta(days=30)
# The personal data of tickets past CITYBOT_RETENTION_YEARS is erased every night at this time
# (council time), a quiet hour away from the other nightly jobs.
RETENTION_AT = (3, 41)
RETENTION_JOB = "retention"


async def prune_claims(
    sessionmaker: async_sessionmaker[AsyncSession], clock: Clock = system_clock
) -> None:
    async with sessionmaker() as session, session.begin():
        removed = await prune_processed(session, older_than=DEDUP_RETENTION, now=clock())
        runs = await prune_runs(session, older_than=JOB_RUN_RETENTION, now=clock())
    log.info("pruned %d processed-update claims and %d job runs", removed, runs)


async def post_pending(desk: Desk | None) -> int:
    """The staff desk's catch-up: what did not reach the staff chats (Telegram was down).
    Returns the tickets handled (0 when the database is unavailable)."""
    if desk is None:
        return 0
    try:
        handled = await desk.post_pending()
    except TRY_AGAIN_LATER as error:
        log.warning("staff catch-up skipped, database unavailable: %s", error)
        return 0
    if handled:
        log.info("staff catch-up posted %d ticket(s)", handled)
    return handled


# Deadline reminders: every hour at :05, and a summary per queue every morning (council time).
SLA_HOURLY_MINUTE = 5
SLA_MORNING = (8, 30)


def sla_jobs(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    telegram: TelegramChannel | None,
    clock: Clock,
) -> SlaJobs | None:
    if telegram is None:
        return None
    return SlaJobs(
        sessionmaker=sessionmaker,
        poster=ChatPoster(telegram.bot),
        catalog=catalog,
        zone=settings.zone,
        language=settings.language,
        operator_chat_id=settings.operator_chat_id,
        clock=clock,
    )


async def run_sla(job: Callable[[], Awaitable[int]]) -> None:
    """A reminder job that must not take the scheduler down: failures are logged."""
    try:
        posted = await job()
    except (*TRY_AGAIN_LATER, ChannelError) as error:
        log.warning("deadline reminders skipped: %s", error)
        return
    if posted:
        log.info("posted %d deadline reminder(s)", posted)


class NoChat:
    """No staff chat to post poll results to (a council on the web desk alone): a poll composed
    in the desk has no chat, so the closer never calls this."""

    async def post_results(self, chat_id: int, text: str, chart: bytes, file_name: str) -> None:
        log.info("poll results for chat %s not posted: no staff chat (%s)", chat_id, file_name)
        del text, chart


def register_poll_jobs(jobs: OnceJobs, dispatcher: Dispatcher | None) -> PollComposer | None:
    """The closing job (every minute, once per fire time across processes); nothing without
    the Telegram side, where results are posted. The composer was given the engine's ``wake``
    when it was built."""
    composer = dispatcher.get(POLLS_KEY) if dispatcher is not None else None
    if not isinstance(composer, PollComposer):
        return None
    closer = composer.closer
    jobs.add(JOB_NAME, closer.run, second=CLOSE_SECOND)
    return composer


def register_retention(
    jobs: OnceJobs,
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    """The nightly erasure of tickets past CITYBOT_RETENTION_YEARS (none when it is 0)."""
    years = settings.retention_years
    if years <= 0:
        log.info("CITYBOT_RETENTION_YEARS=0: personal data of old tickets is kept")
        return
    jobs.add(
        RETENTION_JOB,
        lambda _at: erase_expired(sessionmaker, years=years, clock=clock),
        hour=RETENTION_AT[0],
        minute=RETENTION_AT[1],
    )


def register_media(
    jobs: OnceJobs,
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    clock: Clock,
    telegram: TelegramChannel | None,
) -> MediaMonitor:
    """Media monitoring: fetching always (its feeds are managed from the CLI), the morning
    digest to the officials' chat (default: the operator chat) when there is one."""
    monitor = MediaMonitor(
        sessionmaker=sessionmaker,
        catalog=catalog,
        clock=clock,
        max_bytes=settings.media_max_kb * 1024,
        timeout_seconds=settings.media_timeout_seconds,
    )
    chat = settings.officials_chat_id
    if chat is None:
        chat = settings.operator_chat_id
    digest = None
    if telegram is not None and chat is not None:
        digest = MediaDigestJob(
            sessionmaker=sessionmaker,
            poster=TelegramFiles(telegram.bot),
            catalog=catalog,
            zone=settings.zone,
            chat_id=chat,
        )
    elif settings.media_digest_at:
        log.info("no officials' or operator chat: the media digest is off")
    register_media_jobs(
        jobs,
        monitor=monitor,
        digest=digest,
        interval_minutes=settings.media_interval_minutes,
        digest_at=settings.media_digest_at,
    )
    return monitor


def schedule_jobs(
    scheduler: Any,
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    catalog: Catalog,
    senders: Mapping[str, Sender],
    replies: ReplySender,
    desk: Desk | None,
    telegram: TelegramChannel | None,
    clock: Clock,
    wake: Callable[[], None] | None,
    metrics: Metrics | None = None,
) -> None:
    """Register every job; ``wake`` tells the delivery engine that something was planned.
    ``replies`` sends the replies a stopped process left owed; ``metrics`` counts the runs."""
    # Every job runs once per fire time even with several processes (see broadcasts.jobs).
    jobs = once_jobs(scheduler, sessionmaker=sessionmaker, zone=settings.zone, metrics=metrics)
    jobs.add("prune-claims", lambda _at: prune_claims(sessionmaker, clock), hour=4, minute=17)
    register_retention(jobs, settings, sessionmaker=sessionmaker, clock=clock)
    jobs.add(
        "owed-replies",
        lambda _at: send_owed(sessionmaker, senders, replies, clock=clock),
        second=OWED_SECOND,
    )
    if desk is not None:
        if settings.operator_chat_id is None:
            log.warning(
                "CITYBOT_OPERATOR_CHAT_ID is not set: tickets of queues without their own chat "
                "are not posted to staff"
            )
        jobs.add("staff-catch-up", lambda _at: post_pending(desk), second=CATCH_UP_SECOND)
    sla = sla_jobs(
        settings, sessionmaker=sessionmaker, catalog=catalog, telegram=telegram, clock=clock
    )
    if sla is not None:
        hourly, morning = sla.hourly, sla.morning
        jobs.add("sla-hourly", lambda _at: run_sla(hourly), minute=SLA_HOURLY_MINUTE)
        jobs.add(
            "sla-morning", lambda _at: run_sla(morning), hour=SLA_MORNING[0], minute=SLA_MORNING[1]
        )
    # News composer jobs: scheduled news, live progress messages, RSS import.
    news_jobs = register_news_jobs(
        scheduler,
        telegram.dispatcher if telegram is not None else None,
        wake=wake,
        feeds=settings.rss_feeds,
        rss_minutes=settings.rss_interval_minutes,
    )
    if news_jobs is None:
        # The web desk alone: scheduled news and RSS drafts still need their jobs.
        register_web_news_jobs(
            scheduler,
            sessionmaker=sessionmaker,
            clock=clock,
            wake=wake,
            feeds=settings.rss_feeds,
            rss_minutes=settings.rss_interval_minutes,
        )
    # Daily and weekly digests (see broadcasts.digest), each fire time once.
    register_digest_jobs(
        jobs,
        Digests(
            sessionmaker=sessionmaker,
            catalog=catalog,
            zone=settings.zone,
            clock=clock,
            wake=wake,
        ),
        daily_at=settings.digest_daily_at,
        weekly_at=settings.digest_weekly_at,
    )
    # Analytics: summaries for officials and spike alerts (broadcasts.summary, .spikes).
    if telegram is not None:
        register_analytics(
            jobs,
            poster=TelegramFiles(telegram.bot),
            sessionmaker=sessionmaker,
            catalog=catalog,
            zone=settings.zone,
            clock=clock,
            officials_chat_id=settings.officials_chat_id,
            operator_chat_id=settings.operator_chat_id,
            weekly_at=settings.summary_weekly_at,
            daily_at=settings.summary_daily_at,
            spike_multiple=settings.spike_multiple,
            spike_min_count=settings.spike_min_count,
        )
    register_media(
        jobs, settings, sessionmaker=sessionmaker, catalog=catalog, clock=clock, telegram=telegram
    )
    # Consultations whose closing time came: staff are told once to close them.
    if telegram is not None and settings.operator_chat_id is not None:
        reminder = ClosingReminder(
            sessionmaker=sessionmaker,
            catalog=catalog,
            clock=clock,
            poster=TelegramFiles(telegram.bot),
            chat_id=settings.operator_chat_id,
            language=settings.language,
        )
        jobs.add(CONSULTATIONS_DUE, reminder.run, second=DUE_SECOND)
    # Polls: the closing job posts results and charts, and publishes them to voters.
    if register_poll_jobs(jobs, telegram.dispatcher if telegram is not None else None) is None:
        # The web desk alone: polls still close on time and publish their results to voters
        # (staff read the results in the desk; there is no chat to post them to).
        closer = PollCloser(
            sessionmaker=sessionmaker,
            catalog=catalog,
            zone=settings.zone,
            clock=clock,
            poster=NoChat(),
            operator_chat_id=None,
            wake=wake,
        )
        jobs.add(JOB_NAME, closer.run, second=CLOSE_SECOND)
