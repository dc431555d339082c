"""The Telegram channel: the Bot client, the Dispatcher, start-up registration, long polling
and the webhook route."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections import defaultdict

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, Update
from aiohttp import web
from pydantic import ValidationError

from bot.metrics.core import Metrics
from bot.telegram.convert import JSON, Malformed, chat_key, resident_update
from bot.telegram.lean import BotApi
from bot.telegram.response_models import pin_response_models
from bot.telegram.router import ResidentRoute, resident_router
from bot.telegram.sender import TelegramSender
from bot.telegram.staff.router import staff_router
from bot.telegram.staff.service import StaffService
from handlers.actions import PUBLIC_COMMANDS
from handlers.pipeline import Pipeline
from messaging.contract import ChannelError, CredentialsRefused, RateLimited
from messaging.i18n import Catalog
from storage import log_context

log = logging.getLogger(__name__)

CHANNEL = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_PATH = "/telegram/webhook"
ALLOWED_UPDATES = ["message", "callback_query", "my_chat_member"]
POLL_TIMEOUT = 25
# Back-off for a failing getUpdates or a failing update: capped, so the poller keeps trying
# while the network or the database is down without spinning.
BACKOFF_START = 1.0
BACKOFF_CAP = 30.0
# Telegram refuses the token (revoked in @BotFather): said once (bot.channel_health) and
# /healthz answers 503; asking again this seldom costs nothing and sees a token valid again.
TOKEN_RETRY = 300.0
# The last getUpdates on the way out only confirms what was stored: it must not hold shutdown.
CONFIRM_TIMEOUT = 5


def create_bot(token: str, api_url: str, *, default_api_url: str) -> Bot:
    pin_response_models()
    if api_url == default_api_url:
        return Bot(token)
    # A self-hosted Bot API server (or the test stand-in).
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url, is_local=False))
    return Bot(token, session=session)


class TelegramChannel:
    def __init__(
        self,
        *,
        bot: Bot,
        pipeline: Pipeline,
        catalog: Catalog,
        webhook_secret: str | None,
        sender: TelegramSender | None = None,
        staff: StaffService | None = None,
        metrics: Metrics | None = None,
        api: BotApi | None = None,
        token_retry: float = TOKEN_RETRY,
    ) -> None:
        self.bot = bot
        self._token_retry = token_retry
        self._metrics = metrics if metrics is not None else Metrics()
        # Plain JSON calls for the residents' hot path (``bot.telegram.lean``).
        self.api = api or BotApi.for_bot(bot, metrics=self._metrics)
        self.sender = sender or TelegramSender(bot, api=self.api)
        self._residents = ResidentRoute(pipeline=pipeline, sender=self.sender, api=self.api)
        self._catalog = catalog
        self._secret = webhook_secret
        # No handler uses aiogram's FSM (conversation state lives in the database): without it
        # every update skips building an FSM context in memory.
        self.dispatcher = Dispatcher(disable_fsm=True)
        self.dispatcher["pipeline"] = pipeline
        self.dispatcher["sender"] = self.sender
        if staff is not None:
            # First: the residents' router takes every button press it sees, the staff router
            # only those in group chats.
            self.dispatcher["staff"] = staff
            self.dispatcher.include_router(staff_router())
        self.dispatcher.include_router(resident_router())

    async def set_commands(self) -> None:
        """The command menu in every catalog language; the default (no language) is Ukrainian."""
        scope = BotCommandScopeAllPrivateChats()
        for language in (None, *self._catalog.languages):
            texts_language = language or self._catalog.default
            commands = [
                BotCommand(command=name, description=self._catalog.text(texts_language, key))
                for name, key in PUBLIC_COMMANDS
            ]
            await self.bot.set_my_commands(commands, scope=scope, language_code=language)

    async def use_webhook(self, url: str) -> None:
        await self.bot.set_webhook(
            url,
            secret_token=self._secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=False,
        )

    async def use_polling(self) -> None:
        # getUpdates answers 409 while a webhook is set; keep pending updates.
        await self.bot.delete_webhook(drop_pending_updates=False)

    async def close(self) -> None:
        await self.api.close()
        await self.bot.session.close()

    # -- webhook ----------------------------------------------------------------------------

    async def handle_webhook(self, request: web.Request) -> web.Response:
        # The update's sender is believed only behind the secret: without a configured secret
        # (the settings refuse webhook mode without one) nothing is accepted.
        if self._secret is None or not _secret_matches(
            request.headers.get(SECRET_HEADER, ""), self._secret
        ):
            return web.json_response({"ok": False, "error": "forbidden"}, status=403)
        try:
            payload = json.loads(await request.read())
            if not isinstance(payload, dict):
                raise ValueError("not an object")
            # A resident's update goes straight to the pipeline, with no pydantic model built.
            resident = resident_update(payload, self.bot.id)
            update = (
                None
                if resident is not None
                else Update.model_validate(payload, context={"bot": self.bot})
            )
        # RecursionError: JSON nested deeper than Python's decoder goes.
        except (*Malformed, RecursionError, ValidationError):
            return web.json_response({"ok": False, "error": "bad update"}, status=400)
        log_context.update_key.set(f"telegram:{self.bot.id}:{payload.get('update_id')}")
        # Stored before answering: a non-2xx (database down) makes Telegram redeliver. The
        # replies may follow the answer (the pipeline's outbox); long polling keeps them before
        # the offset is confirmed.
        with self._metrics.handling(CHANNEL, update_kind(payload)):
            if resident is not None:
                await self._residents.handle(resident, answer_first=True)
            else:
                assert update is not None
                await self.dispatcher.feed_update(self.bot, update, answer_first=True)
        return web.Response(body=b'{"ok":true}', content_type="application/json")

    # -- long polling -----------------------------------------------------------------------

    async def poll(self, stop: asyncio.Event) -> None:
        """Long polling that confirms an update (``offset``) only after it was stored.

        aiogram's own polling confirms updates whether or not handling succeeded; here an update
        whose handling failed (database down) is fetched again, and the ones after it are
        de-duplicated by their stored claims. On ``stop`` an idle long poll is cancelled (it has
        received nothing) and a batch in progress is finished first.
        """
        offset: int | None = None
        # The offset Telegram was last given, i.e. what it knows we stored.
        confirmed: int | None = None
        backoff = BACKOFF_START
        stopper = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                fetch = asyncio.create_task(self._get_updates(offset, POLL_TIMEOUT))
                await asyncio.wait({fetch, stopper}, return_when=asyncio.FIRST_COMPLETED)
                if not fetch.done():
                    fetch.cancel()
                    await asyncio.gather(fetch, return_exceptions=True)
                    break
                try:
                    updates = fetch.result()
                except RateLimited as error:
                    await self._pause(stop, error.retry_after)
                    continue
                except CredentialsRefused as error:
                    log.warning(
                        "getUpdates refused: %s; asking again in %.0fs", error, self._token_retry
                    )
                    await self._pause(stop, self._token_retry)
                    continue
                except ChannelError as error:
                    log.warning("getUpdates failed: %s; retrying in %.0fs", error, backoff)
                    await self._pause(stop, backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                    continue
                confirmed = offset
                failed = await self._process_batch(updates)
                if updates:
                    offset = min(failed) if failed else int(updates[-1]["update_id"]) + 1
                if failed:
                    await self._pause(stop, backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                else:
                    backoff = BACKOFF_START
            if offset != confirmed:
                await self._confirm(offset)
        finally:
            stopper.cancel()
            await asyncio.gather(stopper, return_exceptions=True)

    async def _confirm(self, offset: int | None) -> None:
        """Stopping right after a batch: tell Telegram what was stored (getUpdates confirms
        everything below ``offset``), so the next start is not handed it again. Anything this
        returns is not handled, so it is not confirmed either. If the call fails, Telegram
        redelivers the batch and the stored claims make that a no-op."""
        try:
            await self._get_updates(offset, 0, limit=1, within=CONFIRM_TIMEOUT)
        except (ChannelError, OSError, TimeoutError) as error:
            log.info("could not confirm updates below %s on the way out: %s", offset, error)

    async def _get_updates(
        self, offset: int | None, long_poll: int, *, limit: int = 100, within: float | None = None
    ) -> list[JSON]:
        """getUpdates as plain JSON (``long_poll``: seconds Telegram may hold the call): the
        updates as dicts, no pydantic model built."""
        payload: JSON = {"timeout": long_poll, "limit": limit, "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            payload["offset"] = offset
        result = await self.api.call("getUpdates", payload, within=within or long_poll + 10)
        return [update for update in result or () if isinstance(update, dict)]

    async def _feed(self, update: JSON) -> None:
        """One polled update: a resident's straight to the pipeline, the rest to aiogram."""
        try:
            resident = resident_update(update, self.bot.id)
            model = (
                None
                if resident is not None
                else Update.model_validate(update, context={"bot": self.bot})
            )
        except (*Malformed, ValidationError) as error:
            # Fetching it again would fail the same way: confirmed, and said so.
            log.error("update %s unreadable (%s): skipped", update.get("update_id"), error)
            return
        if resident is not None:
            await self._residents.handle(resident)
        else:
            assert model is not None
            await self.dispatcher.feed_update(self.bot, model)

    async def _process_batch(self, updates: list[JSON]) -> list[int]:
        """Process updates, one chat after another in order, different chats concurrently.
        Returns the ids of updates that failed (not stored)."""
        by_chat: dict[object, list[JSON]] = defaultdict(list)
        for update in updates:
            by_chat[chat_key(update)].append(update)

        async def run_chat(chat_updates: list[JSON]) -> list[int]:
            for position, update in enumerate(chat_updates):
                log_context.update_key.set(f"telegram:{self.bot.id}:{update.get('update_id')}")
                try:
                    with self._metrics.handling(CHANNEL, update_kind(update)):
                        await self._feed(update)
                except Exception:
                    # Broad on purpose: whatever a handler raised, the update is fetched again.
                    # Keep this chat's order: its later updates wait for the failed one.
                    log.exception("update %s failed; it will be fetched again", update["update_id"])
                    return [int(u["update_id"]) for u in chat_updates[position:]]
            return []

        results = await asyncio.gather(*(run_chat(items) for items in by_chat.values()))
        return [update_id for failed in results for update_id in failed]

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)


def _secret_matches(given: str, secret: str) -> bool:
    """Constant-time comparison. aiohttp hands over a header's non-UTF-8 bytes as surrogate
    escapes: encoded back the same way they are simply not equal (403), not an error (500)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), secret.encode())


def update_kind(update: JSON) -> str:
    """The update's kind as a metrics label: one of a few words."""
    for field, kind in _KINDS:
        if field in update:
            return kind
    return "other"


_KINDS = (("message", "message"), ("callback_query", "callback"), ("my_chat_member", "membership"))
