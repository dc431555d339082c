"""``citybot sandbox``: the real bot, its stand-ins and the page, in one process.

The bot is built and served exactly as ``citybot run`` does it (``bot.app``); only its settings
differ: the Telegram and Viber API URLs point at the stand-ins, and the page's routes are added
to the bot's own web application, so the Viber stand-in calls the same webhook a real Viber would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import build_runtime, prepare_database, serve
from bot.config import Settings, is_local_host, load_settings
from bot.sandbox.api import SandboxApi
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.sandbox.guard import check_database, mark_database
from bot.sandbox.restart import continue_run
from bot.sandbox.world import (
    DEFAULT_ADMIN,
    OPERATOR_CHAT_ID,
    TELEGRAM_TOKEN,
    VIBER_TOKEN,
    World,
)
from bot.schedule import post_pending
from bot.telegram.staff.desk import Desk
from storage.staff import upsert_telegram_staff
from storage.vocabulary import Role

log = logging.getLogger(__name__)

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///citybot-sandbox.db"
# The real limits the stand-ins enforce (CONTEXT.md): Telegram's 30 messages/s for bulk sending;
# Viber's 500 broadcast calls per 10 s.
TELEGRAM_GLOBAL_RATE = 30.0
VIBER_BROADCAST_WINDOW = (500, 10.0)
# Rounds of the staff desk's catch-up right after start: the open tickets (the demo world's ~25),
# 10 a round; any more follow with the scheduled catch-up, a round a minute.
CATCH_UP_ROUNDS = 10
# Settings the sandbox decides; anything else (language, time zone, limits…) may come from the
# environment as for `citybot run`.
OWN_SETTINGS = frozenset(
    {
        "CITYBOT_TELEGRAM_TOKEN",
        "CITYBOT_TELEGRAM_API_URL",
        "CITYBOT_TELEGRAM_MODE",
        "CITYBOT_VIBER_TOKEN",
        "CITYBOT_VIBER_API_URL",
        "CITYBOT_PUBLIC_URL",
        "CITYBOT_WEBHOOK_SECRET",
        "CITYBOT_HTTP_HOST",
        "CITYBOT_HTTP_PORT",
        "CITYBOT_OPERATOR_CHAT_ID",
        "CITYBOT_EDITORS_CHAT_ID",
        "CITYBOT_OFFICIALS_CHAT_ID",
        "CITYBOT_RSS_FEEDS",
    }
)


@dataclass(frozen=True)
class SandboxOptions:
    port: int = 8080
    host: str = "127.0.0.1"
    seed: bool = False


def sandbox_settings(
    options: SandboxOptions,
    telegram: FakeTelegram,
    viber: FakeViber,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """The bot's settings against the stand-ins; the database and tuning from ``environ``."""
    source = os.environ if environ is None else environ
    values = {
        key: value
        for key, value in source.items()
        if key.startswith("CITYBOT_") and key not in OWN_SETTINGS
    }
    values.setdefault("CITYBOT_DATABASE_URL", DEFAULT_DATABASE_URL)
    # News should land while someone watches: no quiet hours unless asked for.
    values.setdefault("CITYBOT_QUIET_HOURS", "")
    values.update(
        {
            "CITYBOT_TELEGRAM_TOKEN": TELEGRAM_TOKEN,
            "CITYBOT_TELEGRAM_API_URL": telegram.base_url,
            "CITYBOT_TELEGRAM_MODE": "polling",
            "CITYBOT_VIBER_TOKEN": VIBER_TOKEN,
            "CITYBOT_VIBER_API_URL": viber.base_url,
            # The stand-ins run here, so they reach the bot on loopback whatever the page binds.
            "CITYBOT_PUBLIC_URL": f"http://127.0.0.1:{options.port}",
            "CITYBOT_HTTP_HOST": options.host,
            "CITYBOT_HTTP_PORT": str(options.port),
            "CITYBOT_OPERATOR_CHAT_ID": str(OPERATOR_CHAT_ID),
            "CITYBOT_ADMIN_IDS": ",".join(
                filter(None, [values.get("CITYBOT_ADMIN_IDS", ""), str(DEFAULT_ADMIN[0])])
            ),
        }
    )
    return load_settings(values)


@contextlib.asynccontextmanager
async def stand_ins() -> AsyncIterator[tuple[FakeTelegram, FakeViber]]:
    telegram = FakeTelegram(
        TELEGRAM_TOKEN,
        bot_username="kryvyirih_city_bot",
        bot_first_name="Криворізька міська рада",
        global_rate=TELEGRAM_GLOBAL_RATE,
    )
    viber = FakeViber(
        VIBER_TOKEN,
        account_name="Криворізька міська рада",
        broadcast_rate_limit=VIBER_BROADCAST_WINDOW,
        auto_redeliver=True,
    )
    async with telegram, viber:
        yield telegram, viber


async def _prepare_world(
    engine: AsyncEngine,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    world: World,
    *,
    seed: bool,
) -> None:
    """Check the database is the sandbox's, migrate, seed if asked, and register everyone stored
    in the stand-ins."""
    await check_database(engine)
    await prepare_database(engine, sessionmaker, settings)
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        await mark_database(session, now=now)
        await upsert_telegram_staff(
            session, telegram_id=DEFAULT_ADMIN[0], role=Role.ADMIN, now=now, name=DEFAULT_ADMIN[1]
        )
    if seed:
        from bot.sandbox.seed import seed_demo_world

        seeded = await seed_demo_world(sessionmaker, now=now, zone=settings.zone)
        log.info(
            "demo world %s",
            "created" if seeded is not None else "already in the database: left as it is",
        )
    await world.load(sessionmaker)
    world.ensure_defaults()
    runs = await continue_run(sessionmaker, world.telegram, world.viber, now=now)
    if runs:
        log.info("sandbox run %d on this database: the stand-ins go on from the last", runs + 1)


async def _post_open_tickets(desk: Desk | None, stop: asyncio.Event) -> None:
    """Open tickets (the demo world's, and those of earlier runs: the stand-in's operator forum
    starts empty) reach the operator forum now, not a batch a minute: the scheduled catch-up's
    rounds, back to back (the desk posts each ticket once either way)."""
    for _ in range(CATCH_UP_ROUNDS):
        if stop.is_set() or not await post_pending(desk):
            return


def _say(line: str) -> None:
    # Flushed: with stdout in a file or a pipe (a service's log) the warning about other hosts
    # and the address must appear now, not when the process exits.
    print(line, flush=True)


async def run_sandbox(
    options: SandboxOptions,
    stop: asyncio.Event,
    *,
    environ: Mapping[str, str] | None = None,
    announce: Callable[[str], None] | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Serve the sandbox until ``stop`` is set; ``announce`` says what a person must know
    (default: stdout, flushed at once)."""
    if announce is None:
        announce = _say
    if not is_local_host(options.host):
        announce(
            f"WARNING: the sandbox listens on {options.host}, not only on this machine: anyone "
            "who can reach it can act as any resident or staff member. It has no login."
        )
    async with stand_ins() as (telegram, viber):
        settings = sandbox_settings(options, telegram, viber, environ)
        world = World(telegram=telegram, viber=viber)
        async with build_runtime(settings) as runtime:
            api = SandboxApi(
                world=world,
                sessionmaker=runtime.sessionmaker,
                outbox=runtime.outbox,
                public_url=f"http://127.0.0.1:{options.port}",
                catalog=runtime.catalog,
                language=settings.language,
                # Bound elsewhere (told, and warned), people arrive by this machine's other names.
                loopback_only=is_local_host(options.host),
            )
            api.install(runtime.web_app)
            await _prepare_world(
                runtime.engine, runtime.sessionmaker, settings, world, seed=options.seed
            )
            started = asyncio.Event()
            task = asyncio.create_task(serve(runtime, stop, ready=started))
            waiter = asyncio.create_task(started.wait())
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
            if not started.is_set():
                waiter.cancel()
                await task  # start-up failed: raise its error
                return
            shown = "127.0.0.1" if is_local_host(options.host) else options.host
            announce(
                f"citybot sandbox: open http://{shown}:{options.port}/ "
                f"(database {settings.database_url}; Ctrl+C stops)"
            )
            api.catching_up = asyncio.ensure_future(_post_open_tickets(runtime.desk, stop))
            if ready is not None:
                ready.set()
            await api.catching_up
            await task
