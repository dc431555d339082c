"""The composition root: builds every long-lived object from the settings, runs them, and
closes them in reverse order."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import TELEGRAM_API_URL, Settings, TelegramMode
from bot.migrate import upgrade_to_head
from bot.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.telegram.channel import TelegramChannel, create_bot
from bot.viber.channel import WEBHOOK_PATH as VIBER_PATH
from bot.viber.channel import ViberChannel
from bot.viber.client import ViberClient
from bot.web import Handler, build_web_app
from handlers.conversation import Conversation
from handlers.i18n import Catalog
from handlers.pipeline import Pipeline
from storage import audit
from storage.db import create_engine, create_sessionmaker
from storage.dedup import prune_processed
from storage.staff import ensure_admins
from storage.vocabulary import Clock, system_clock

log = logging.getLogger(__name__)

# Telegram redelivers for up to 24 h, Viber for about an hour: a week of claims is plenty.
DEDUP_RETENTION = timedelta(days=7)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    pipeline: Pipeline
    telegram: TelegramChannel | None = None
    viber: ViberChannel | None = None
    http: aiohttp.ClientSession | None = None
    web_app: web.Application = field(init=False)


@contextlib.asynccontextmanager
async def build_runtime(
    settings: Settings, *, clock: Clock = system_clock
) -> AsyncIterator[Runtime]:
    """Create the engine, channels and web app; close them in reverse order on exit."""
    engine = create_engine(settings.database_url)
    try:
        sessionmaker = create_sessionmaker(engine)
        catalog = Catalog.load(default=settings.language)
        pipeline = Pipeline(
            sessionmaker=sessionmaker,
            conversation=Conversation(catalog),
            catalog=catalog,
            clock=clock,
            default_language=settings.language,
        )
        runtime = Runtime(
            settings=settings, engine=engine, sessionmaker=sessionmaker, pipeline=pipeline
        )
        routes: dict[str, Handler] = {}
        channels: list[str] = []
        if settings.telegram_token:
            bot = create_bot(
                settings.telegram_token, settings.telegram_api_url, default_api_url=TELEGRAM_API_URL
            )
            runtime.telegram = TelegramChannel(
                bot=bot, pipeline=pipeline, catalog=catalog, webhook_secret=settings.webhook_secret
            )
            channels.append("telegram")
            if settings.telegram_mode is TelegramMode.WEBHOOK:
                routes[TELEGRAM_PATH] = runtime.telegram.handle_webhook
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
            channels.append("viber")
            routes[VIBER_PATH] = runtime.viber.handle_webhook
        runtime.web_app = build_web_app(engine=engine, channels=channels, routes=routes)
        try:
            yield runtime
        finally:
            if runtime.telegram is not None:
                await runtime.telegram.close()
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
    tasks: list[asyncio.Task[None]] = []
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
        await runner.cleanup()
