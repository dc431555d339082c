"""The composition root: builds every long-lived object from the settings, runs them, and
closes them in reverse order.

``build_runtime`` builds the parts first, as locals, in the order they depend on each other
(each in a small function of ``bot.parts``), and the ``Runtime`` last, in one expression: it is
frozen, and nothing is patched into a part after it was built. Each part gets the parts it uses,
never the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.broadcasting import run_broadcasts
from bot.config import Settings, StaffDesk, TelegramMode, require_webhook_secret
from bot.metrics.core import Metrics
from bot.migrate import upgrade_to_head
from bot.parts import (
    Common,
    build_web,
    channel_senders,
    consultation_core,
    conversation_for,
    delivery_engine,
    incident_core,
    media_links,
    metrics_route,
    open311_api,
    resident_pipeline,
    staff_chat,
    telegram_link,
    ticket_core,
    viber_channel,
    viber_link,
    web_desk,
)
from bot.schedule import schedule_jobs
from bot.startup import ConfigProblem, Readiness, Stopped, channel_ready, database_ready
from bot.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.telegram.channel import TelegramChannel
from bot.telegram.files import RedactingAccessLogger
from bot.telegram.staff.desk import Desk
from bot.telegram.staff.events import TelegramDeskEvents
from bot.telegram.staff.service import StaffService
from bot.viber.channel import WEBHOOK_PATH as VIBER_PATH
from bot.viber.channel import ViberChannel
from broadcasts.election import Election, election_for
from broadcasts.engine import DeliveryEngine
from handlers.keyboards import ResidentKeyboards
from handlers.notify import Notifier
from handlers.outbox import Outbox
from handlers.pipeline import Pipeline
from handlers.sending import ReplySender
from handlers.staff.broadcasts.common import no_wake
from handlers.staff.consultations import ConsultationCore
from handlers.staff.incidents import IncidentCore
from handlers.staff.tickets.context import DeskEvents
from handlers.tickets.suggest import CategorySuggester
from messaging.contract import Sender
from messaging.i18n import Catalog
from storage import audit
from storage.calendar_store import ensure_holidays
from storage.db import create_engine, create_sessionmaker
from storage.staff import ensure_admins
from storage.vocabulary import Clock, system_clock

log = logging.getLogger(__name__)

# Webhooks answered whose replies are not sent yet, at most; past it a webhook waits. About
# twice the database pool (pool_size + max_overflow): each reply may hold a connection.
OUTBOX_LIMIT = 64
# How long a shutdown waits for the replies of webhooks already answered.
OUTBOX_SHUTDOWN_TIMEOUT = 30.0


# Not slotted: a slotted frozen dataclass answers an attempt to add an attribute with a
# confusing TypeError (from its zero-argument super()) rather than FrozenInstanceError.
@dataclass(frozen=True)
class Runtime:
    """Everything long-lived, built once by ``build_runtime``; no part is swapped or added
    afterwards. A part a configuration does without is None (no Telegram token: no desk)."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    outbox: Outbox
    # Sends replies and notices after the commit, and keeps what is still owed.
    replies: ReplySender
    pipeline: Pipeline
    # Each configured channel's sender of answers and notices to residents.
    senders: Mapping[str, Sender]
    # Which process polls Telegram and sends each channel's broadcasts (broadcasts.election).
    election: Election
    web_app: web.Application
    desk: Desk | None
    staff: StaffService | None
    telegram: TelegramChannel | None
    viber: ViberChannel | None
    delivery: DeliveryEngine | None
    # The incident operations (issue 17) for the desks to call.
    incidents: IncidentCore
    # The consultation and organisation operations (issue 18) for the desks to call.
    consultations: ConsultationCore
    # What GET /metrics shows (bot.metrics).
    metrics: Metrics


@contextlib.asynccontextmanager
async def build_runtime(
    settings: Settings,
    *,
    clock: Clock = system_clock,
    suggester: CategorySuggester | None = None,
) -> AsyncIterator[Runtime]:
    """Create the engine, channels and web app; close them in reverse order on exit.

    ``suggester``: ranks the categories of residents' free text (tests pass their own)."""
    # Also checked by the CLI; here too, so no caller serves an unauthenticated Telegram webhook.
    require_webhook_secret(settings)
    # Whatever is opened registers its closing here: the reverse order of creation, also when
    # building fails half-way.
    async with contextlib.AsyncExitStack() as closing:
        engine = create_engine(settings.database_url)
        closing.push_async_callback(engine.dispose)
        common = Common(
            settings=settings,
            sessionmaker=create_sessionmaker(engine),
            catalog=Catalog.load(default=settings.language),
            clock=clock,
            metrics=Metrics(),
        )
        telegram = telegram_link(common, closing)
        desks = settings.desks
        # The Telegram operator chat, when staff work there too.
        chat_desk = telegram if telegram is not None and StaffDesk.TELEGRAM in desks else None
        viber = viber_link(settings, closing, common.metrics)
        conversation = conversation_for(common, suggester)
        # The keyboard each resident should have now (Viber messages carry it).
        keyboards = ResidentKeyboards(
            conversation=conversation, sessionmaker=common.sessionmaker, clock=clock
        )
        replies = ReplySender(sessionmaker=common.sessionmaker, clock=clock)
        # Staff answers and notices go to a resident's own messenger.
        senders = channel_senders(telegram, viber)
        notifier = Notifier(
            senders=senders,
            sessionmaker=common.sessionmaker,
            clock=clock,
            keyboards=keyboards,
            replies=replies,
        )
        outbox = Outbox(limit=OUTBOX_LIMIT)
        pipeline = resident_pipeline(
            common,
            conversation,
            outbox=outbox,
            replies=replies,
            desk=chat_desk.desk if chat_desk is not None else None,
            notifier=notifier,
        )
        viber_side = viber_channel(common, viber, pipeline)
        links = media_links(common, telegram)
        if viber is not None and links is not None:
            # Replies to residents may carry a kept file (a consultation's document).
            viber.sender.public_media(links.url)
        # Several `citybot run` processes on PostgreSQL: one of them polls Telegram and one
        # sends each channel's broadcasts; the others take over if it dies.
        election = election_for(engine)
        delivery = delivery_engine(
            common,
            closing,
            election=election,
            telegram=telegram,
            viber=viber_side,
            links=links,
            keyboards=keyboards,
        )
        # One ticket core for both desks: an action in either shows in both.
        events: list[DeskEvents] = []
        if chat_desk is not None:
            events.append(TelegramDeskEvents(chat_desk.desk))
        tickets = ticket_core(common, notifier=notifier, links=links, desks=events)
        incidents = incident_core(
            common,
            tickets,
            wake=delivery.wake if delivery is not None else no_wake,
            background=outbox.submit,
        )
        consultations = consultation_core(
            common, wake=delivery.wake if delivery is not None else no_wake
        )
        chat = (
            staff_chat(
                common,
                telegram,
                pipeline=pipeline,
                tickets=tickets,
                wake=delivery.wake if delivery is not None else no_wake,
                desk_on=chat_desk is not None,
                incidents=incidents,
                consultations=consultations,
            )
            if telegram is not None
            else None
        )
        web_parts = (
            web_desk(
                common,
                tickets,
                wake=delivery.wake if delivery is not None else no_wake,
                links=links,
                telegram_files=chat is not None,
                incidents=incidents,
                consultations=consultations,
            )
            if StaffDesk.WEB in desks
            else None
        )
        yield Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=common.sessionmaker,
            catalog=common.catalog,
            outbox=outbox,
            replies=replies,
            pipeline=pipeline,
            senders=senders,
            election=election,
            web_app=build_web(
                engine,
                settings,
                chat=chat,
                viber=viber_side,
                links=links,
                desk=web_parts,
                sessionmaker=common.sessionmaker,
                watch=metrics_route(common, telegram, viber),
                open311=open311_api(common),
                health=common.metrics.health,
            ),
            desk=chat_desk.desk if chat_desk is not None else None,
            staff=chat.staff if chat is not None else None,
            telegram=chat.channel if chat is not None else None,
            viber=viber_side,
            delivery=delivery,
            incidents=incidents,
            consultations=consultations,
            metrics=common.metrics,
        )


async def prepare_database(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    clock: Clock = system_clock,
) -> None:
    """Migrate to the newest schema and make CITYBOT_ADMIN_IDS administrators."""
    before, after = await upgrade_to_head(engine)
    if before != after:
        log.info("database migrated from %s to %s", before or "empty", after)
    async with sessionmaker() as session, session.begin():
        changed = await ensure_admins(session, telegram_ids=settings.admin_ids, now=clock())
        # The holiday list is data: seeded once with the statutory holidays, then administered.
        year = clock().astimezone(settings.zone).year
        await ensure_holidays(session, years=range(year - 1, year + 6))
        for account in changed:
            audit.record(
                session,
                actor="config",
                action="staff.admin_from_config",
                subject=f"staff:{account.id}",
                now=clock(),
            )


async def serve(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    clock: Clock = system_clock,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve every configured channel until ``stop`` is set, then shut down cleanly.

    Order on the way in: HTTP server (503 until ready, see ``bot.startup``), database, webhook
    registrations (Viber calls the URL while registering), polling. On the way out, the
    reverse: polling stops after its batch, the HTTP server finishes in-flight webhook calls,
    then the caller closes clients and the engine.
    """
    settings = runtime.settings
    # Listening first: /healthz answers 503 (and webhooks 503, redelivered later) while the
    # database and the messengers are not reachable yet.
    readiness = Readiness()
    readiness.install(runtime.web_app)
    # The access log must not hand out the signed /media links it sees.
    runner = web.AppRunner(
        runtime.web_app, shutdown_timeout=30.0, access_log_class=RedactingAccessLogger
    )
    await runner.setup()
    try:
        try:
            await _listen(runner, settings)
            await database_ready(
                "the database",
                lambda: prepare_database(
                    runtime.engine, runtime.sessionmaker, settings, clock=clock
                ),
                stop,
            )
        except BaseException:
            await runner.cleanup()
            raise
        readiness.database = True
        await _serve_ready(runtime, runner, stop, readiness, clock=clock, ready=ready)
    except Stopped as waiting:
        log.info("stopped while waiting for %s", waiting)


async def _listen(runner: web.AppRunner, settings: Settings) -> None:
    site = web.TCPSite(
        runner,
        settings.http_host,
        settings.http_port,
        reuse_port=settings.http_reuse_port or None,
    )
    try:
        await site.start()
    except OSError as error:
        where = f"{settings.http_host}:{settings.http_port}"
        raise ConfigProblem("CITYBOT_HTTP_PORT", f"cannot listen on {where}: {error}") from None
    log.info("listening on http://%s:%s", settings.http_host, settings.http_port)


async def _serve_ready(
    runtime: Runtime,
    runner: web.AppRunner,
    stop: asyncio.Event,
    readiness: Readiness,
    *,
    clock: Clock,
    ready: asyncio.Event | None,
) -> None:
    """Serve once the database is ready: register the channels (retried while unreachable),
    start the jobs, wait for ``stop``, and shut down in order."""
    settings = runtime.settings
    tasks: list[asyncio.Task[None]] = []
    delivery = runtime.delivery
    scheduler = AsyncIOScheduler(timezone=settings.zone)
    try:
        await _start_channels(runtime, stop, tasks)
        runtime.metrics.health.serving()
        schedule_jobs(
            scheduler,
            settings,
            sessionmaker=runtime.sessionmaker,
            catalog=runtime.catalog,
            senders=runtime.senders,
            replies=runtime.replies,
            desk=runtime.desk,
            telegram=runtime.telegram,
            clock=clock,
            wake=delivery.wake if delivery else None,
            metrics=runtime.metrics,
        )
        if delivery is not None:
            # Stopped with the poller below (stop is set), before the HTTP server goes away.
            tasks.append(
                asyncio.create_task(run_broadcasts(delivery, stop), name="broadcast-delivery")
            )
        scheduler.start()
        readiness.serving = True
        if ready is not None:
            ready.set()
        await stop.wait()
    finally:
        # Also reached when start-up fails half-way: make sure the poller ends.
        stop.set()
        if scheduler.running:
            scheduler.shutdown(wait=False)
        # The poller finishes the batch it is processing and confirms nothing it did not store.
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await runner.cleanup()
        # The webhooks answered so far still owe their replies and staff copies: sent before
        # the clients close (the caller closes them after this returns).
        await runtime.outbox.close(OUTBOX_SHUTDOWN_TIMEOUT)
        # Recorded as sent, so the owed-replies job of the next start does not send them again.
        await runtime.replies.close()


async def _start_channels(
    runtime: Runtime, stop: asyncio.Event, tasks: list[asyncio.Task[None]]
) -> None:
    """Register the webhooks, or start polling Telegram (its task joins ``tasks`` at once, so
    a failure after it still ends it)."""
    settings, telegram = runtime.settings, runtime.telegram
    if telegram is not None:
        await channel_ready("Telegram", telegram.set_commands, stop)
        if settings.telegram_mode is TelegramMode.WEBHOOK:
            assert settings.public_url is not None
            url = settings.public_url + TELEGRAM_PATH
            await channel_ready("Telegram", lambda: telegram.use_webhook(url), stop)
        else:
            await channel_ready("Telegram", telegram.use_polling, stop)
            # getUpdates allows one consumer per bot (Telegram answers 409 to a second one).
            tasks.append(
                asyncio.create_task(
                    runtime.election.lead("telegram:poll", stop, telegram.poll),
                    name="telegram-poll",
                )
            )
    viber = runtime.viber
    if viber is not None and settings.public_url:
        url = settings.public_url + VIBER_PATH
        await channel_ready("Viber", lambda: viber.register_webhook(url), stop)
