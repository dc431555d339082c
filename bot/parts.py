"""The parts ``bot.app.build_runtime`` builds, one small function each, in the order they depend
on each other. Whatever a part opens (an HTTP client, the bot's session) is closed through the
``AsyncExitStack`` it is given, in the reverse order of creation.

Two parts are built early because others need them before their channel exists: the Viber
sender (the notices go through it, and the Viber channel needs the pipeline, which needs the
notices), and the delivery engine (the news and poll composers are given its ``wake``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import TypedDict
from zoneinfo import ZoneInfo

import aiohttp
from aiogram import Bot
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.broadcasting import broadcast_engine
from bot.channel_health import ChannelHealth
from bot.config import TELEGRAM_API_URL, Settings, StaffDesk, TelegramMode
from bot.consultation_reports import REPORT_ROUTE, ReportRoute
from bot.desk.app import mount as mount_desk
from bot.desk.context import DeskParts
from bot.kept_media import KeptMedia
from bot.metrics.core import Metrics
from bot.metrics.figures import DatabaseFigures
from bot.metrics.route import ROUTE as METRICS_ROUTE
from bot.metrics.route import MetricsRoute
from bot.metrics.telegram import CountedCalls
from bot.open311.routes import Open311Api
from bot.telegram.budget import SharedBudget
from bot.telegram.channel import WEBHOOK_PATH as TELEGRAM_PATH
from bot.telegram.channel import TelegramChannel, create_bot
from bot.telegram.files import ROUTE as MEDIA_ROUTE
from bot.telegram.files import MediaProxy
from bot.telegram.lean import BotApi
from bot.telegram.pacing import ChatPacer
from bot.telegram.sender import TelegramSender
from bot.telegram.staff import resident_files
from bot.telegram.staff.consultations import install_consultations
from bot.telegram.staff.desk import Desk
from bot.telegram.staff.incidents import install_incidents
from bot.telegram.staff.news.router import install_news
from bot.telegram.staff.polls.router import install_polls
from bot.telegram.staff.service import StaffService
from bot.telegram.staff.stats import install_stats
from bot.viber.channel import WEBHOOK_PATH as VIBER_PATH
from bot.viber.channel import ViberChannel, ViberSender
from bot.viber.client import ViberClient
from bot.viber.media import MediaKeeper
from bot.web import Handler, build_web_app
from broadcasts.election import Election
from broadcasts.engine import DeliveryEngine
from broadcasts.limits import TELEGRAM_MARGIN, Pacer
from handlers.conversation import Conversation
from handlers.keyboards import ResidentKeyboards
from handlers.linking import LinkNotices
from handlers.notify import Notifier
from handlers.outbox import Outbox
from handlers.pipeline import Pipeline
from handlers.sending import ReplySender
from handlers.staff.broadcasts.common import Wake, no_wake
from handlers.staff.consultations import ConsultationCore
from handlers.staff.core import StaffCore
from handlers.staff.incidents import IncidentCore
from handlers.staff.incidents.context import Background
from handlers.staff.media import MediaLinks, derive_key
from handlers.staff.notices import Notices
from handlers.staff.tickets.context import DeskEvents, TicketCore
from handlers.staff.tickets.events import AllDesks
from handlers.tickets.flows import ResidentTickets, TicketPolicy
from handlers.tickets.suggest import CategorySuggester, KeywordSuggester
from messaging.contract import Effect, EffectSink, Sender
from messaging.i18n import Catalog
from storage.filing import FilingPolicy
from storage.vocabulary import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Common:
    """What nearly every part is built from."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    # What GET /metrics shows; the parts count their updates and calls on it.
    metrics: Metrics


@dataclass(frozen=True, slots=True)
class TelegramLink:
    """The bot token's client and what hangs on it alone: the staff desk, the answers' sender
    and the pacer of the token's free sends (shared by the engine and every other call)."""

    bot: Bot
    budget: Pacer
    desk: Desk
    sender: TelegramSender
    # Plain JSON calls for the residents' hot path (bot.telegram.lean), in the same budget.
    api: BotApi


@dataclass(frozen=True, slots=True)
class ViberLink:
    """Viber's HTTP client and the sender over it."""

    client: ViberClient
    sender: ViberSender
    http: aiohttp.ClientSession


@dataclass(frozen=True, slots=True)
class StaffChat:
    """The Telegram side once the pipeline exists: the staff service and the channel, with the
    composers and /stats installed on its dispatcher."""

    staff: StaffService | None  # None: staff do not work in Telegram (CITYBOT_STAFF_DESKS)
    channel: TelegramChannel


class ComposerArgs(TypedDict):
    """What the news and poll composers and /stats are all installed with."""

    sessionmaker: async_sessionmaker[AsyncSession]
    catalog: Catalog
    clock: Clock
    zone: ZoneInfo
    operator_chat_id: int | None


class EffectSinks:
    """Several ``EffectSink``s as one: each gets every effect, whatever the others did. A sink
    that fails is logged here, naming it: the effect is stored already, and that sink's own
    catch-up (the staff desk's job) carries it out later."""

    def __init__(self, sinks: Sequence[EffectSink]) -> None:
        self._sinks = tuple(sinks)

    async def apply(self, effect: Effect) -> None:
        for sink in self._sinks:
            try:
                await sink.apply(effect)
            except Exception:
                log.exception(
                    "effect %r failed in %s; it will be retried", effect, type(sink).__name__
                )


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


def telegram_link(common: Common, closing: contextlib.AsyncExitStack) -> TelegramLink | None:
    settings = common.settings
    if not settings.telegram_token:
        # Without Telegram staff work only in the web desk.
        if StaffDesk.WEB not in settings.desks:
            log.warning(
                "neither Telegram nor the web desk is on: residents' tickets are stored but no "
                "staff desk shows them (set CITYBOT_STAFF_DESKS=web or CITYBOT_TELEGRAM_TOKEN)"
            )
        return None
    bot = create_bot(
        settings.telegram_token, settings.telegram_api_url, default_api_url=TELEGRAM_API_URL
    )
    closing.push_async_callback(bot.session.close)
    # Broadcasts, answers and staff posts share the bot token's limit (bot.telegram.budget).
    budget = Pacer(settings.telegram_rate, margin=TELEGRAM_MARGIN)
    bot.session.middleware(SharedBudget(budget))
    bot.session.middleware(CountedCalls(common.metrics))
    api = BotApi.for_bot(bot, budget=budget, metrics=common.metrics, keepalive=True)
    closing.push_async_callback(api.close)
    desk = Desk(
        bot=bot,
        api=api,
        sessionmaker=common.sessionmaker,
        catalog=common.catalog,
        clock=common.clock,
        zone=settings.zone,
        operator_chat_id=settings.operator_chat_id,
    )
    sender = TelegramSender(
        bot,
        pacer=chat_pacer(settings),
        kept=resident_files.kept_loader(common.sessionmaker),
        api=api,
    )
    return TelegramLink(bot=bot, budget=budget, desk=desk, sender=sender, api=api)


def viber_link(
    settings: Settings, closing: contextlib.AsyncExitStack, metrics: Metrics | None = None
) -> ViberLink | None:
    if not settings.viber_token:
        return None
    http = aiohttp.ClientSession()
    closing.push_async_callback(http.close)
    client = ViberClient(
        session=http, api_url=settings.viber_api_url, token=settings.viber_token, metrics=metrics
    )
    sender = ViberSender(client, name=settings.viber_name, avatar=settings.viber_avatar)
    return ViberLink(client=client, sender=sender, http=http)


def channel_senders(telegram: TelegramLink | None, viber: ViberLink | None) -> Mapping[str, Sender]:
    """Each configured channel's sender of answers and notices to residents (read-only)."""
    senders: dict[str, Sender] = {}
    if telegram is not None:
        senders[telegram.sender.channel] = telegram.sender
    if viber is not None:
        senders[viber.sender.channel] = viber.sender
    return MappingProxyType(senders)


def media_links(common: Common, telegram: TelegramLink | None) -> MediaLinks | None:
    """Signed links through which messengers fetch files by URL: Telegram's (for Viber) and
    the ones the bot keeps (a web desk upload). They need a public URL and a secret: the
    Telegram bot token, else the Viber one (a council with the web desk and Viber only)."""
    settings = common.settings
    public_url = settings.public_url
    secret = telegram.bot.token if telegram is not None else settings.viber_token
    if not secret or not public_url:
        return None
    return MediaLinks(key=derive_key(secret), public_url=public_url, clock=common.clock)


def conversation_for(common: Common, suggester: CategorySuggester | None) -> Conversation:
    # The category suggested for residents' free text: the administrators' keyword lists,
    # unless the caller brings its own.
    return Conversation(
        common.catalog,
        ResidentTickets(common.catalog, ticket_policy(common.settings)),
        suggester=suggester if suggester is not None else KeywordSuggester(),
    )


def resident_pipeline(
    common: Common,
    conversation: Conversation,
    *,
    outbox: Outbox,
    replies: ReplySender,
    desk: Desk | None,
    notifier: Notifier,
) -> Pipeline:
    """The pipeline; its effects go to the staff desk, then to the residents' link notices."""
    sinks: list[EffectSink] = [desk] if desk is not None else []
    sinks.append(
        LinkNotices(catalog=common.catalog, notifier=notifier, sessionmaker=common.sessionmaker)
    )
    return Pipeline(
        outbox=outbox,
        sessionmaker=common.sessionmaker,
        conversation=conversation,
        catalog=common.catalog,
        clock=common.clock,
        default_language=common.settings.language,
        effects=EffectSinks(sinks),
        replies=replies,
    )


def viber_channel(
    common: Common, link: ViberLink | None, pipeline: Pipeline
) -> ViberChannel | None:
    if link is None:
        return None
    settings = common.settings
    assert settings.viber_token is not None
    return ViberChannel(
        client=link.client,
        pipeline=pipeline,
        token=settings.viber_token,
        name=settings.viber_name,
        avatar=settings.viber_avatar,
        sessionmaker=common.sessionmaker,
        media=MediaKeeper(http=link.http, sessionmaker=common.sessionmaker, clock=common.clock),
        clock=common.clock,
        sender=link.sender,
        metrics=common.metrics,
    )


def delivery_engine(
    common: Common,
    closing: contextlib.AsyncExitStack,
    *,
    election: Election,
    telegram: TelegramLink | None,
    viber: ViberChannel | None,
    links: MediaLinks | None,
    keyboards: ResidentKeyboards,
) -> DeliveryEngine | None:
    """The delivery engine (None: no channel to send on); its HTTP client closes after the
    engine's task stopped (``serve`` stops it first)."""
    engine, http = broadcast_engine(
        common.settings,
        sessionmaker=common.sessionmaker,
        telegram_on=telegram is not None,
        viber=viber,
        media_links=links,
        keyboards=keyboards,
        telegram_budget=telegram.budget if telegram is not None else None,
        clock=common.clock,
        election=election,
        metrics=common.metrics,
    )
    if http is not None:
        closing.push_async_callback(http.close)
    return engine


def ticket_core(
    common: Common,
    *,
    notifier: Notifier,
    links: MediaLinks | None,
    desks: Sequence[DeskEvents],
) -> TicketCore:
    """The channel-neutral ticket operations both staff desks call; each action's events reach
    every desk in ``desks``."""
    settings = common.settings
    return TicketCore(
        core=StaffCore(sessionmaker=common.sessionmaker, clock=common.clock),
        notices=Notices(notifier=notifier, catalog=common.catalog, zone=settings.zone, media=links),
        events=AllDesks(desks),
        sessionmaker=common.sessionmaker,
        clock=common.clock,
        zone=settings.zone,
        operator_chat_id=settings.operator_chat_id,
        feedback_days=settings.feedback_target_days,
        legal_aid_days=settings.legal_aid_target_days,
    )


def consultation_core(common: Common, *, wake: Wake) -> ConsultationCore:
    """The consultation and organisation operations the desks call (issue 18): what they
    plan wakes the delivery engine; the report's link is on the public URL."""
    settings = common.settings
    return ConsultationCore(
        core=StaffCore(sessionmaker=common.sessionmaker, clock=common.clock),
        catalog=common.catalog,
        zone=settings.zone,
        wake=wake,
        default_language=settings.language,
        public_url=settings.public_url,
    )


def incident_core(
    common: Common, tickets: TicketCore, *, wake: Wake, background: Background | None = None
) -> IncidentCore:
    """The incident operations both desks call (issue 17), on the ticket core: their status
    updates wake the delivery engine."""
    settings = common.settings
    return IncidentCore(
        tickets=tickets,
        catalog=common.catalog,
        wake=wake,
        default_language=settings.language,
        two_person=settings.news_two_person,
        background=background,
    )


def staff_chat(
    common: Common,
    telegram: TelegramLink,
    *,
    pipeline: Pipeline,
    tickets: TicketCore,
    wake: Wake,
    desk_on: bool,
    incidents: IncidentCore | None = None,
    consultations: ConsultationCore | None = None,
) -> StaffChat:
    """The Telegram channel and, when staff work in Telegram (``desk_on``), the staff service
    with the composers (``wake``: tell the delivery engine a broadcast was planned) and /stats."""
    settings = common.settings
    staff = (
        StaffService(
            desk=telegram.desk,
            tickets=tickets,
            catalog=common.catalog,
            operator_chat_id=settings.operator_chat_id,
        )
        if desk_on
        else None
    )
    channel = TelegramChannel(
        bot=telegram.bot,
        pipeline=pipeline,
        catalog=common.catalog,
        webhook_secret=settings.webhook_secret,
        sender=telegram.sender,
        staff=staff,
        metrics=common.metrics,
        api=telegram.api,
    )
    if staff is not None:
        install_composers(common, channel, wake=wake)
        if incidents is not None:
            install_incidents(
                channel.dispatcher,
                bot=channel.bot,
                core=incidents,
                operator_chat_id=common.settings.operator_chat_id,
            )
        if consultations is not None:
            install_consultations(
                channel.dispatcher,
                bot=channel.bot,
                core=consultations,
                sessionmaker=common.sessionmaker,
                clock=common.clock,
                operator_chat_id=common.settings.operator_chat_id,
            )
    return StaffChat(staff=staff, channel=channel)


def web_desk(
    common: Common,
    tickets: TicketCore,
    *,
    wake: Wake = no_wake,
    links: MediaLinks | None = None,
    telegram_files: bool = False,
    incidents: IncidentCore | None = None,
    consultations: ConsultationCore | None = None,
) -> DeskParts:
    """What the web desk under /desk/ is built from."""
    settings = common.settings
    return DeskParts(
        sessionmaker=common.sessionmaker,
        catalog=common.catalog,
        clock=common.clock,
        zone=settings.zone,
        core=tickets.core,
        tickets=tickets,
        secure_cookies=settings.secure_cookies,
        idle=timedelta(minutes=settings.desk_idle_minutes),
        lifetime=timedelta(hours=settings.desk_session_hours),
        public_url=settings.public_url,
        trusted_proxies=frozenset(settings.trusted_proxies),
        wake=wake,
        two_person=settings.news_two_person,
        confirm_above=settings.confirm_above,
        media=links,
        telegram_files=telegram_files and links is not None,
        incidents=incidents,
        consultations=consultations,
    )


def install_composers(common: Common, channel: TelegramChannel, *, wake: Wake) -> None:
    settings, dispatcher = common.settings, channel.dispatcher
    shared = ComposerArgs(
        sessionmaker=common.sessionmaker,
        catalog=common.catalog,
        clock=common.clock,
        zone=settings.zone,
        operator_chat_id=settings.operator_chat_id,
    )
    # One staff core for the three chat features (it holds no state of its own).
    staff = StaffCore(sessionmaker=common.sessionmaker, clock=common.clock)
    install_news(
        dispatcher,
        bot=channel.bot,
        sender=channel.sender,
        editors_chat_id=settings.editors_chat_id,
        two_person=settings.news_two_person,
        confirm_above=settings.confirm_above,
        wake=wake,
        staff=staff,
        **shared,
    )
    install_polls(
        dispatcher,
        bot=channel.bot,
        editors_chat_id=settings.editors_chat_id,
        confirm_above=settings.confirm_above,
        wake=wake,
        staff=staff,
        **shared,
    )
    install_stats(dispatcher, bot=channel.bot, staff=staff, **shared)


def metrics_route(
    common: Common, telegram: TelegramLink | None, viber: ViberLink | None
) -> MetricsRoute:
    """GET /metrics: the process's own counts and the figures read from the database at
    scrape time (``bot.metrics.figures``)."""
    settings = common.settings
    figures = DatabaseFigures(
        sessionmaker=common.sessionmaker,
        zone=settings.zone,
        clock=common.clock,
        channels=[name for name, link in (("telegram", telegram), ("viber", viber)) if link],
        # The engine paces free broadcasts with the token's budget (paid ones with their own).
        pacer=telegram.budget if telegram and not settings.telegram_paid_broadcast else None,
    )
    common.metrics.registry.register(figures)
    return MetricsRoute(common.metrics, token=settings.metrics_token, figures=figures)


def build_web(
    engine: AsyncEngine,
    settings: Settings,
    *,
    chat: StaffChat | None,
    viber: ViberChannel | None,
    links: MediaLinks | None,
    desk: DeskParts | None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    watch: MetricsRoute | None = None,
    open311: Open311Api | None = None,
    health: ChannelHealth | None = None,
) -> web.Application:
    """The one aiohttp application: health, metrics (``watch``), the webhooks of the
    configured channels, the route through which Viber fetches staff files that live in
    Telegram, the web desk, and Open311 GeoReport v2 (``bot.open311``)."""
    routes: dict[str, Handler] = {}
    gets: dict[str, Handler] = {}
    if watch is not None:
        gets[METRICS_ROUTE] = watch.handle
    channels: list[str] = []
    if chat is not None:
        channels.append("telegram")
        if settings.telegram_mode is TelegramMode.WEBHOOK:
            routes[TELEGRAM_PATH] = chat.channel.handle_webhook
    if links is not None and sessionmaker is not None:
        # A GET, not a webhook: kept files from the database, Telegram's through the bot.
        proxy = MediaProxy(bot=chat.channel.bot, links=links).handle if chat is not None else None
        gets[MEDIA_ROUTE] = KeptMedia(links=links, sessionmaker=sessionmaker, telegram=proxy).handle
    elif chat is not None and links is not None:
        gets[MEDIA_ROUTE] = MediaProxy(bot=chat.channel.bot, links=links).handle
    if viber is not None:
        channels.append("viber")
        routes[VIBER_PATH] = viber.handle_webhook
    if sessionmaker is not None:
        # The reports of closed consultations, linked from their outcome messages.
        gets[REPORT_ROUTE] = ReportRoute(sessionmaker).handle
    app = build_web_app(engine=engine, channels=channels, routes=routes, gets=gets, health=health)
    if desk is not None:
        mount_desk(app, desk)
    if open311 is not None:
        open311.install(app)
    return app


def open311_api(common: Common) -> Open311Api:
    """Open311 GeoReport v2: requests from the city's other systems file tickets by the same
    terms as residents' (the feedback target, the city's time zone)."""
    settings = common.settings
    return Open311Api(
        sessionmaker=common.sessionmaker,
        catalog=common.catalog,
        language=settings.language,
        policy=FilingPolicy(
            zone=settings.zone,
            feedback_days=settings.feedback_target_days,
            legal_aid_days=settings.legal_aid_target_days,
        ),
        clock=common.clock,
    )
