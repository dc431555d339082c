"""The composition root: builds every long-lived object from the settings, runs them, and
closes them in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.broadcasting import broadcast_engine, run_broadcasts
from bot.config import TELEGRAM_API_URL, Settings, TelegramMode, require_webhook_secret
from bot.migrate import upgrade_to_head
from bot.schedule import schedule_jobs
from bot.telegram.budget import SharedBudget
from bot.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.telegram.channel import TelegramChannel, create_bot
from bot.telegram.files import ROUTE as MEDIA_ROUTE
from bot.telegram.files import MediaProxy, RedactingAccessLogger
from bot.telegram.pacing import ChatPacer
from bot.telegram.sender import TelegramSender
from bot.telegram.staff.desk import Desk
from bot.telegram.staff.news.router import install_news
from bot.telegram.staff.polls.router import install_polls
from bot.telegram.staff.service import StaffService
from bot.telegram.staff.stats import install_stats
from bot.viber.channel import WEBHOOK_PATH as VIBER_PATH
from bot.viber.channel import ViberChannel
from bot.viber.client import ViberClient
from bot.viber.media import MediaKeeper
from bot.web import Handler, build_web_app
from broadcasts.election import election_for
from broadcasts.limits import TELEGRAM_MARGIN, Pacer
from handlers.conversation import Conversation
from handlers.keyboards import ResidentKeyboards
from handlers.linking import LinkNotices
from handlers.notify import Notifier
from handlers.outbox import Outbox
from handlers.pipeline import Pipeline
from handlers.staff.media import MediaLinks, derive_key
from handlers.staff.notices import Notices
from handlers.tickets.flows import ResidentTickets, TicketPolicy
from handlers.tickets.suggest import CategorySuggester, KeywordSuggester
from messaging.contract import Effect, EffectSink, Sender
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
    # Signed links through which Viber fetches files that live in Telegram (needs a public URL).
    media_links: MediaLinks | None = None
    # The pacer of the bot token's free sends, shared by the engine and every other call.
    telegram_budget: Pacer | None = None
    # The keyboard each resident should have now (Viber messages carry it: handlers.keyboards).
    keyboards: ResidentKeyboards | None = None
    # Each configured channel's sender of answers and notices to residents.
    senders: dict[str, Sender] = field(default_factory=dict)
    web_app: web.Application = field(init=False)


def chat_pacer(settings: Settings) -> ChatPacer | None:
    """How messages to one Telegram chat are spaced (None: not at all)."""
    if not settings.telegram_chat_rate:
        return None
    return ChatPacer(interval=1 / settings.telegram_chat_rate, burst=settings.telegram_chat_burst)


def ticket_policy(settings: Settings) -> TicketPolicy:
    return TicketPolicy(
        zone=settings.zone,
        per_hour=settings.tickets_per_hour,
        per_day=settings.tickets_per_day,
        feedback_days=settings.feedback_target_days,
        legal_aid_days=settings.legal_aid_target_days,
    )


class EffectSinks:
    """Several ``EffectSink``s as one: each gets every effect; a failure of one does not keep
    the effect from the others (the first failure is raised after all were tried)."""

    def __init__(self, sinks: list[EffectSink]) -> None:
        self._sinks = list(sinks)

    def add(self, sink: EffectSink) -> None:
        self._sinks.append(sink)

    async def apply(self, effect: Effect) -> None:
        failure: Exception | None = None
        for sink in self._sinks:
            try:
                await sink.apply(effect)
            except Exception as error:  # raised again below, after the others had it
                failure = failure or error
        if failure is not None:
            raise failure


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
        telegram_budget: Pacer | None = None
        if bot is not None:
            # Broadcasts, answers and staff posts share the bot token's limit (bot.telegram.budget).
            telegram_budget = Pacer(settings.telegram_rate, margin=TELEGRAM_MARGIN)
            bot.session.middleware(SharedBudget(telegram_budget))
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
        # The category suggested for residents' free text: the administrators' keyword lists.
        conversation = Conversation(
            catalog,
            ResidentTickets(catalog, ticket_policy(settings)),
            suggester=suggester if suggester is not None else KeywordSuggester(),
        )
        # The staff desk, and (once the notifier exists, below) the resident-side notices.
        effects = EffectSinks([desk] if desk is not None else [])
        pipeline = Pipeline(
            outbox=outbox,
            sessionmaker=sessionmaker,
            conversation=conversation,
            catalog=catalog,
            clock=clock,
            default_language=settings.language,
            effects=effects,
        )
        runtime = Runtime(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            catalog=catalog,
            pipeline=pipeline,
            outbox=outbox,
            desk=desk,
            telegram_budget=telegram_budget,
            keyboards=ResidentKeyboards(
                conversation=conversation, sessionmaker=sessionmaker, clock=clock
            ),
        )
        routes: dict[str, Handler] = {}
        channels: list[str] = []
        # Staff answers and notices go to a resident's own messenger.
        senders: dict[str, Sender] = {}
        telegram_sender = (
            TelegramSender(bot, pacer=chat_pacer(settings)) if bot is not None else None
        )
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
                sessionmaker=sessionmaker,
                media=MediaKeeper(http=runtime.http, sessionmaker=sessionmaker, clock=clock),
                clock=clock,
            )
            routes[VIBER_PATH] = runtime.viber.handle_webhook
            senders[runtime.viber.sender.channel] = runtime.viber.sender
        runtime.senders = senders
        runtime.notifier = Notifier(
            senders=senders, sessionmaker=sessionmaker, clock=clock, keyboards=runtime.keyboards
        )
        effects.add(
            LinkNotices(catalog=catalog, notifier=runtime.notifier, sessionmaker=sessionmaker)
        )
        links: MediaLinks | None = None
        if bot is not None and desk is not None:
            if settings.public_url:
                links = MediaLinks(
                    key=derive_key(bot.token), public_url=settings.public_url, clock=clock
                )
                runtime.media_links = links
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
            install_news(
                runtime.telegram.dispatcher,
                bot=bot,
                sender=runtime.telegram.sender,
                sessionmaker=sessionmaker,
                catalog=catalog,
                clock=clock,
                zone=settings.zone,
                operator_chat_id=settings.operator_chat_id,
                editors_chat_id=settings.editors_chat_id,
                two_person=settings.news_two_person,
                confirm_above=settings.confirm_above,
            )
            install_polls(
                runtime.telegram.dispatcher,
                bot=bot,
                sessionmaker=sessionmaker,
                catalog=catalog,
                clock=clock,
                zone=settings.zone,
                operator_chat_id=settings.operator_chat_id,
                editors_chat_id=settings.editors_chat_id,
                confirm_above=settings.confirm_above,
            )
            install_stats(
                runtime.telegram.dispatcher,
                bot=bot,
                sessionmaker=sessionmaker,
                catalog=catalog,
                clock=clock,
                zone=settings.zone,
                operator_chat_id=settings.operator_chat_id,
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
    # The access log must not hand out the signed /media links it sees.
    runner = web.AppRunner(
        runtime.web_app, shutdown_timeout=30.0, access_log_class=RedactingAccessLogger
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    await site.start()
    log.info("listening on http://%s:%s", settings.http_host, settings.http_port)
    tasks: list[asyncio.Task[None]] = []
    # Several `citybot run` processes on PostgreSQL: one of them polls Telegram and one sends
    # each channel's broadcasts; the others take over if it dies (broadcasts.election).
    election = election_for(runtime.engine)
    delivery, broadcast_http = broadcast_engine(
        settings,
        sessionmaker=runtime.sessionmaker,
        telegram_on=runtime.telegram is not None,
        viber=runtime.viber,
        media_links=runtime.media_links,
        keyboards=runtime.keyboards,
        telegram_budget=runtime.telegram_budget,
        clock=clock,
        election=election,
    )
    scheduler = AsyncIOScheduler(timezone=settings.zone)
    schedule_jobs(
        scheduler,
        settings,
        sessionmaker=runtime.sessionmaker,
        catalog=runtime.catalog,
        senders=runtime.senders,
        owed=runtime.pipeline,
        desk=runtime.desk,
        telegram=runtime.telegram,
        clock=clock,
        wake=delivery.wake if delivery else None,
    )
    try:
        if runtime.telegram is not None:
            await runtime.telegram.set_commands()
            if settings.telegram_mode is TelegramMode.WEBHOOK:
                assert settings.public_url is not None
                await runtime.telegram.use_webhook(settings.public_url + TELEGRAM_PATH)
            else:
                await runtime.telegram.use_polling()
                # getUpdates allows one consumer per bot (Telegram answers 409 to a second one).
                tasks.append(
                    asyncio.create_task(
                        election.lead("telegram:poll", stop, runtime.telegram.poll),
                        name="telegram-poll",
                    )
                )
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
        if broadcast_http is not None:
            await broadcast_http.close()
        await runner.cleanup()
        # The webhooks answered so far still owe their replies and staff copies: sent before
        # the clients close (the caller closes them after this returns).
        await runtime.outbox.close(OUTBOX_SHUTDOWN_TIMEOUT)
        # Recorded as sent, so the owed-replies job of the next start does not send them again.
        await runtime.pipeline.close()
