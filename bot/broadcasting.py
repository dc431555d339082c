"""The delivery engine as ``citybot run`` builds it: the senders of each configured channel,
the engine's settings, and running it as an owned task."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import aiohttp

from bot.telegram.bulk import BulkTelegramSender
from bot.viber import render as viber_render
from broadcasts.election import Election
from broadcasts.engine import DeliveryEngine, EngineConfig, ViberTransport
from messaging.contract import Sender
from storage.vocabulary import Clock

if TYPE_CHECKING:
    from bot.app import Runtime

log = logging.getLogger(__name__)


def broadcast_engine(
    runtime: Runtime, clock: Clock, election: Election
) -> tuple[DeliveryEngine | None, aiohttp.ClientSession | None]:
    """The delivery engine over the configured channels, and the HTTP client its Telegram sender
    owns (to be closed after the engine stops)."""
    settings = runtime.settings
    http: aiohttp.ClientSession | None = None
    telegram: Sender | None = None
    if runtime.telegram is not None and settings.telegram_token:
        # Broadcasts go through the lean JSON sender (half aiogram's CPU per message, which
        # matters at 1,000/s in paid mode); staff answers and conversations keep aiogram.
        http = aiohttp.ClientSession()
        telegram = BulkTelegramSender(
            http=http,
            api_url=settings.telegram_api_url,
            token=settings.telegram_token,
            paid=settings.telegram_paid_broadcast,
        )
    viber = (
        ViberTransport(
            api=runtime.viber.client,
            # Composed news carries a Telegram file_id; Viber needs a public link to it.
            render=viber_render.with_public_media(
                runtime.media_links.url if runtime.media_links is not None else None
            ),
            sender_info=runtime.viber.sender.sender_info,
            # Viber shows the last keyboard sent: each broadcast carries the resident's.
            keyboards=runtime.keyboards.for_residents if runtime.keyboards is not None else None,
        )
        if runtime.viber is not None
        else None
    )
    if telegram is None and viber is None:
        return None, http
    config = EngineConfig(
        telegram_rate=settings.telegram_rate,
        telegram_paid=settings.telegram_paid_broadcast,
        viber_broadcast=settings.viber_broadcast,
        quiet=settings.quiet,
    )
    engine = DeliveryEngine(
        sessionmaker=runtime.sessionmaker,
        telegram=telegram,
        viber=viber,
        config=config,
        clock=clock,
        # On PostgreSQL one process per channel sends (several processes share one rate limit).
        election=election,
        telegram_pacer=runtime.telegram_budget,
    )
    return engine, http


async def run_broadcasts(engine: DeliveryEngine, stop: asyncio.Event) -> None:
    """The engine as an owned task: a crash is logged, never silent (deliveries stay queued)."""
    try:
        await engine.run(stop)
    except Exception:
        log.exception("broadcast delivery stopped")
