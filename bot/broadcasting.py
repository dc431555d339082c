"""The delivery engine as ``citybot run`` builds it: the senders of each configured channel,
the engine's settings, and running it as an owned task."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.metrics.core import Metrics
from bot.telegram.bulk import BulkTelegramSender
from bot.viber import render as viber_render
from bot.viber.channel import ViberChannel
from broadcasts.election import Election
from broadcasts.engine import DeliveryEngine, EngineConfig, ViberTransport
from broadcasts.limits import Pacer
from handlers.keyboards import ResidentKeyboards
from handlers.staff.media import MediaLinks
from messaging.contract import Sender
from storage.vocabulary import Clock

log = logging.getLogger(__name__)


def broadcast_engine(
    settings: Settings,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    telegram_on: bool,
    viber: ViberChannel | None,
    media_links: MediaLinks | None,
    keyboards: ResidentKeyboards | None,
    telegram_budget: Pacer | None,
    clock: Clock,
    election: Election,
    metrics: Metrics | None = None,
) -> tuple[DeliveryEngine | None, BulkTelegramSender | None]:
    """The delivery engine over the configured channels, and its Telegram sender, whose
    connections are to be closed after the engine stops. ``telegram_on``: the Telegram side is
    built (token and staff desk)."""
    http: BulkTelegramSender | None = None
    telegram: Sender | None = None
    if telegram_on and settings.telegram_token:
        # Broadcasts go through the lean JSON sender (a fraction of aiogram's CPU per message,
        # which matters at 1,000/s in paid mode); staff answers and conversations keep aiogram.
        telegram = http = BulkTelegramSender(
            api_url=settings.telegram_api_url,
            token=settings.telegram_token,
            paid=settings.telegram_paid_broadcast,
            metrics=metrics,
        )
    transport = (
        ViberTransport(
            api=viber.client,
            # Composed news carries a Telegram file_id; Viber needs a public link to it.
            render=viber_render.with_public_media(
                media_links.url if media_links is not None else None
            ),
            sender_info=viber.sender.sender_info,
            # Viber shows the last keyboard sent: each broadcast carries the resident's.
            keyboards=keyboards.for_residents if keyboards is not None else None,
        )
        if viber is not None
        else None
    )
    if telegram is None and transport is None:
        return None, http
    config = EngineConfig(
        telegram_rate=settings.telegram_rate,
        telegram_paid=settings.telegram_paid_broadcast,
        viber_broadcast=settings.viber_broadcast,
        quiet=settings.quiet,
    )
    engine = DeliveryEngine(
        sessionmaker=sessionmaker,
        telegram=telegram,
        viber=transport,
        config=config,
        clock=clock,
        # On PostgreSQL one process per channel sends (several processes share one rate limit).
        election=election,
        telegram_pacer=telegram_budget,
    )
    return engine, http


async def run_broadcasts(engine: DeliveryEngine, stop: asyncio.Event) -> None:
    """The engine as an owned task: a crash is logged, never silent (deliveries stay queued)."""
    try:
        await engine.run(stop)
    except Exception:
        log.exception("broadcast delivery stopped")
