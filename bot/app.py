"""The composition root: builds every long-lived object from the settings, runs them, and
closes them in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiogram import Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, SendDocument, SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import TELEGRAM_API_URL, Settings, TelegramMode
from bot.migrate import upgrade_to_head
from bot.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.telegram.channel import TelegramChannel, create_bot
from bot.telegram.files import ROUTE as MEDIA_ROUTE
from bot.telegram.files import MediaProxy
from bot.telegram.sender import ChatPoster, TelegramSender
from bot.viber import render as viber_render
from bot.viber.channel import WEBHOOK_PATH as VIBER_PATH
from bot.viber.channel import ViberChannel
from bot.viber.client import ViberClient
from bot.web import Handler, build_web_app
from broadcasts.engine import DeliveryEngine, EngineConfig, ViberTransport
from broadcasts.sla import SlaJobs
from handlers.contract import ChannelError, Sender
from handlers.conversation import Conversation
from handlers.i18n import Catalog
from handlers.notify import Notifier
from handlers.outbox import Outbox
from handlers.pipeline import Pipeline
from handlers.staff.desk import Desk
from handlers.staff.media import MediaLinks, derive_key
from handlers.staff.notices import Notices
from handlers.staff.service import StaffService
from handlers.tickets.flows import ResidentTickets, TicketPolicy
from storage import audit
from storage.calendar_store import ensure_holidays
from storage.db import create_engine, create_sessionmaker
from storage.dedup import prune_processed
from storage.staff import ensure_admins
from storage.vocabulary import Clock, system_clock

log = logging.getLogger(__name__)

# Telegram redelivers for up to 24 h, Viber for about an hour: a week of claims is plenty.
DEDUP_RETENTION = timedelta(days=7)
# Webhooks answered whose replies are not sent yet, at most; past it a webhook waits. About
# twice the database pool (pool_size + max_overflow): each reply may hold a connection.
OUTBOX_LIMIT = 64
# How long a shutdown waits for the replies of webhooks already answered.
OUTBOX_SHUTDOWN_TIMEOUT = 30.0
# How often the staff desk posts what did not reach Telegram.
CATCH_UP_SECONDS = 60


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    pipeline: Pipeline
    outbox: Outbox
    catalog: Catalog
    telegram: TelegramChannel | None = None
    viber: ViberChannel | None = None
    http: aiohttp.ClientSession | None = None
    desk: Desk | None = None
    notifier: Notifier | None = None
    staff: StaffService | None = None
    web_app: web.Application = field(init=False)


def ticket_policy(settings: Settings) -> TicketPolicy:
    return TicketPolicy(
        zone=settings.zone,
        per_hour=settings.tickets_per_hour,
        per_day=settings.tickets_per_day,
        feedback_days=settings.feedback_target_days,
        legal_aid_days=settings.legal_aid_target_days,
    )


@contextlib.asynccontextmanager
async def build_runtime(
    settings: Settings, *, clock: Clock = system_clock
) -> AsyncIterator[Runtime]:
    """Create the engine, channels and web app; close them in reverse order on exit."""
    engine = create_engine(settings.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        catalog = Catalog.load(default=settings.language)
        bot = (
            create_bot(
                settings.telegram_token, settings.telegram_api_url, default_api_url=TELEGRAM_API_URL
            )
            if settings.telegram_token
            else None
        )
        # Staff work in Telegram: without it tickets are stored but no operator sees them.
        desk = (
            Desk(
                bot=bot,
                sessionmaker=sessionmaker,
                catalog=catalog,
                clock=clock,
                zone=settings.zone,
                operator_chat_id=settings.operator_chat_id,
            )
            if bot is not None
            else None
        )
        if desk is None:
            log.warning(
                "Telegram is not configured: the staff desk is off; residents' tickets are "
                "stored but not posted to any operator chat (set CITYBOT_TELEGRAM_TOKEN)"
            )
        outbox = Outbox(limit=OUTBOX_LIMIT)
        pipeline = Pipeline(
            outbox=outbox,
            sessionmaker=sessionmaker,
            conversation=Conversation(catalog, ResidentTickets(catalog, ticket_policy(settings))),
            catalog=catalog,
            clock=clock,
            default_language=settings.language,
            effects=desk,
        )
        runtime = Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            catalog=catalog,
            pipeline=pipeline,
            outbox=outbox,
            desk=desk,
        )
        routes: dict[str, Handler] = {}
        channels: list[str] = []
        # Staff answers and notices go to a resident's own messenger.
        senders: dict[str, Sender] = {}
        telegram_sender = TelegramSender(bot) if bot is not None else None
        if telegram_sender is not None:
            senders[telegram_sender.channel] = telegram_sender
        if settings.viber_token:
            runtime.http = aiohttp.ClientSession()
            client = ViberClient(
                session=runtime.http, api_url=settings.viber_api_url, token=settings.viber_token
            )
            runtime.viber = ViberChannel(
                client=client,
                pipeline=pipeline,
                token=settings.viber_token,
                name=settings.viber_name,
                avatar=settings.viber_avatar,
            )
            routes[VIBER_PATH] = runtime.viber.handle_webhook
            senders[runtime.viber.sender.channel] = runtime.viber.sender
        runtime.notifier = Notifier(senders=senders, sessionmaker=sessionmaker, clock=clock)
        links: MediaLinks | None = None
        if bot is not None and desk is not None:
            if settings.public_url:
                links = MediaLinks(key=derive_key(bot.token), public_url=settings.public_url)
            runtime.staff = StaffService(
                desk=desk,
                notices=Notices(
                    notifier=runtime.notifier, catalog=catalog, zone=settings.zone, media=links
                ),
                sessionmaker=sessionmaker,
                catalog=catalog,
                clock=clock,
                zone=settings.zone,
                operator_chat_id=settings.operator_chat_id,
                feedback_days=settings.feedback_target_days,
                legal_aid_days=settings.legal_aid_target_days,
            )
            runtime.telegram = TelegramChannel(
                bot=bot,
                pipeline=pipeline,
                catalog=catalog,
                webhook_secret=settings.webhook_secret,
                sender=telegram_sender,
                staff=runtime.staff,
            )
            channels.append("telegram")
            if settings.telegram_mode is TelegramMode.WEBHOOK:
                routes[TELEGRAM_PATH] = runtime.telegram.handle_webhook
        if runtime.viber is not None:
            channels.append("viber")
        runtime.web_app = build_web_app(engine=engine, channels=channels, routes=routes)
        if bot is not None and links is not None:
            # Staff files reach Viber residents through this route (a GET, not a webhook).
            proxy = MediaProxy(bot=bot, links=links)
            runtime.web_app.router.add_get(MEDIA_ROUTE, proxy.handle)
        try:
            yield runtime
        finally:
            if bot is not None:
                await bot.session.close()
            if runtime.http is not None:
                await runtime.http.close()
    finally:
        await engine.dispose()


async def prepare_database(runtime: Runtime, *, clock: Clock = system_clock) -> None:
    """Migrate to the newest schema and make CITYBOT_ADMIN_IDS administrators."""
    before, after = await upgrade_to_head(runtime.engine)
    if before != after:
        log.info("database migrated from %s to %s", before or "empty", after)
    async with runtime.sessionmaker() as session, session.begin():
        changed = await ensure_admins(session, telegram_ids=runtime.settings.admin_ids, now=clock())
        # The holiday list is data: seeded once with the statutory holidays, then administered.
        year = clock().astimezone(runtime.settings.zone).year
        await ensure_holidays(session, years=range(year - 1, year + 6))
        for telegram_id in changed:
            audit.record(
                session,
                actor="config",
                action="staff.admin_from_config",
                subject=f"staff:{telegram_id}",
                now=clock(),
            )


async def prune_claims(runtime: Runtime, clock: Clock = system_clock) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        removed = await prune_processed(session, older_than=DEDUP_RETENTION, now=clock())
    log.info("pruned %d processed-update claims", removed)


async def post_pending(runtime: Runtime) -> None:
    """The staff desk's catch-up: what did not reach the staff chats (Telegram was down)."""
    if runtime.desk is None:
        return
    try:
        handled = await runtime.desk.post_pending()
    except (SQLAlchemyError, OSError, TimeoutError) as error:
        log.warning("staff catch-up skipped, database unavailable: %s", error)
        return
    if handled:
        log.info("staff catch-up posted %d ticket(s)", handled)


# Deadline reminders: every hour at :05, and a summary per queue every morning (council time).
SLA_HOURLY_MINUTE = 5
SLA_MORNING = (8, 30)


def sla_jobs(runtime: Runtime, clock: Clock) -> SlaJobs | None:
    if runtime.telegram is None:
        return None
    return SlaJobs(
        sessionmaker=runtime.sessionmaker,
        poster=ChatPoster(runtime.telegram.bot),
        catalog=runtime.catalog,
        zone=runtime.settings.zone,
        language=runtime.settings.language,
        operator_chat_id=runtime.settings.operator_chat_id,
        clock=clock,
    )


async def run_sla(job: Callable[[], Awaitable[int]]) -> None:
    """A reminder job that must not take the scheduler down: failures are logged."""
    try:
        posted = await job()
    except (SQLAlchemyError, OSError, TimeoutError, ChannelError) as error:
        log.warning("deadline reminders skipped: %s", error)
        return
    if posted:
        log.info("posted %d deadline reminder(s)", posted)


class PaidBroadcast(BaseRequestMiddleware):
    """Marks the broadcast bot's sends ``allow_paid_broadcast`` (up to 1,000/s, paid in Stars);
    staff answers and conversations keep using the ordinary bot."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, SendMessage | SendPhoto | SendDocument):
            method.allow_paid_broadcast = True
        return await make_request(bot, method)


def broadcast_engine(runtime: Runtime, clock: Clock) -> tuple[DeliveryEngine | None, Bot | None]:
    """The delivery engine over the configured channels, and the paid-broadcast bot it owns (to
    be closed after the engine stops)."""
    settings = runtime.settings
    paid_bot: Bot | None = None
    telegram: Sender | None = None
    if runtime.telegram is not None:
        telegram = runtime.telegram.sender
        if settings.telegram_paid_broadcast and settings.telegram_token:
            paid_bot = create_bot(
                settings.telegram_token,
                settings.telegram_api_url,
                default_api_url=TELEGRAM_API_URL,
            )
            paid_bot.session.middleware(PaidBroadcast())
            telegram = TelegramSender(paid_bot)
    viber = (
        ViberTransport(
            api=runtime.viber.client,
            render=viber_render.messages,
            sender_info=runtime.viber.sender.sender_info,
        )
        if runtime.viber is not None
        else None
    )
    if telegram is None and viber is None:
        return None, paid_bot
    config = EngineConfig(
        telegram_rate=settings.telegram_rate,
        telegram_paid=settings.telegram_paid_broadcast,
        viber_broadcast=settings.viber_broadcast,
    )
    engine = DeliveryEngine(
        sessionmaker=runtime.sessionmaker,
        telegram=telegram,
        viber=viber,
        config=config,
        clock=clock,
    )
    return engine, paid_bot


async def run_broadcasts(engine: DeliveryEngine, stop: asyncio.Event) -> None:
    """The engine as an owned task: a crash is logged, never silent (deliveries stay queued)."""
    try:
        await engine.run(stop)
    except Exception:
        log.exception("broadcast delivery stopped")


async def serve(
    runtime: Runtime,
    stop: asyncio.Event,
    *,
    clock: Clock = system_clock,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve every configured channel until ``stop`` is set, then shut down cleanly.

    Order on the way in: database, HTTP server, webhook registrations (Viber calls the URL while
    registering), polling. On the way out, the reverse: polling stops after its batch, the HTTP
    server finishes in-flight webhook calls, then the caller closes clients and the engine.
    """
    settings = runtime.settings
    await prepare_database(runtime, clock=clock)
    runner = web.AppRunner(runtime.web_app, shutdown_timeout=30.0)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("listening on http://%s:%s", settings.http_host, settings.http_port)
    scheduler = AsyncIOScheduler(timezone=settings.zone)
    scheduler.add_job(
        prune_claims,
        "cron",
        hour=4,
        minute=17,
        args=[runtime, clock],
        id="prune-claims",
        coalesce=True,
        max_instances=1,
    )
    if runtime.desk is not None:
        if settings.operator_chat_id is None:
            log.warning(
                "CITYBOT_OPERATOR_CHAT_ID is not set: tickets of queues without their own chat "
                "are not posted to staff"
            )
        scheduler.add_job(
            post_pending,
            "interval",
            seconds=CATCH_UP_SECONDS,
            args=[runtime],
            id="staff-catch-up",
            coalesce=True,
            max_instances=1,
        )
    sla = sla_jobs(runtime, clock)
    if sla is not None:
        scheduler.add_job(
            run_sla,
            "cron",
            minute=SLA_HOURLY_MINUTE,
            args=[sla.hourly],
            id="sla-hourly",
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            run_sla,
            "cron",
            hour=SLA_MORNING[0],
            minute=SLA_MORNING[1],
            args=[sla.morning],
            id="sla-morning",
            coalesce=True,
            max_instances=1,
        )
    tasks: list[asyncio.Task[None]] = []
    delivery, paid_bot = broadcast_engine(runtime, clock)
    try:
        if runtime.telegram is not None:
            await runtime.telegram.set_commands()
            if settings.telegram_mode is TelegramMode.WEBHOOK:
                assert settings.public_url is not None
                await runtime.telegram.use_webhook(settings.public_url + TELEGRAM_PATH)
            else:
                await runtime.telegram.use_polling()
                tasks.append(asyncio.create_task(runtime.telegram.poll(stop), name="telegram-poll"))
        if runtime.viber is not None and settings.public_url:
            await runtime.viber.register_webhook(settings.public_url + VIBER_PATH)
        if delivery is not None:
            # Stopped with the poller below (stop is set), before the HTTP server goes away.
            tasks.append(
                asyncio.create_task(run_broadcasts(delivery, stop), name="broadcast-delivery")
            )
        scheduler.start()
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
        if paid_bot is not None:
            await paid_bot.session.close()
        await runner.cleanup()
        # The webhooks answered so far still owe their replies and staff copies: sent before
        # the clients close (the caller closes them after this returns).
        await runtime.outbox.close(OUTBOX_SHUTDOWN_TIMEOUT)
