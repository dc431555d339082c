"""The sandbox page's HTTP API: what each pane shows, and the people acting in it.

The page never talks to the bot directly. A resident typing in the Telegram pane becomes a message
from that user in the Telegram stand-in, which the bot polls like the real Bot API; a Viber
resident's message becomes a signed callback to the bot's Viber webhook. What the bot sends back
lands in the stand-ins, and the page reads it from here. ``/api/events`` (server-sent events) says
when anything changed, so every open tab refreshes from the same state.

Chats come back as the messengers' own objects (Bot API ``Message`` JSON; Viber message JSON with
a direction), so the page renders what a real client would get. Errors are ``{"error": text}``
with status 400 (bad input) or 404 (unknown person or message).

Beside it: ``page_input`` (checking what the page sends), ``same_site`` (who may call the page's
routes), ``uploads`` (the files a person attaches).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import mimetypes
import re
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.desk_link import ROUTE as DESK_ROUTE
from bot.sandbox.desk_link import DeskDoor
from bot.sandbox.page_input import (
    SAY,
    TEXT_MAX,
    BadInput,
    JSONDict,
    NotFound,
    error_response,
    float_of,
    guard,
    int_of,
    json_body,
    text_of,
)
from bot.sandbox.same_site import same_site_only
from bot.sandbox.uploads import UPLOAD_MAX_BYTES, Uploads, read_upload, safe_name, sniff
from bot.sandbox.world import OPERATOR_CHAT_ID, OPERATOR_CHAT_TITLE, World
from handlers.outbox import Outbox
from messaging.i18n import Catalog
from storage.broadcasts import broadcast_progress
from storage.models import Broadcast

__all__ = ["TEXT_MAX", "UPLOAD_MAX_BYTES", "SandboxApi"]

KEEPALIVE_SECONDS = 15.0
# How long a button press waits for the bot's answer to it (Telegram shows it as a toast).
ANSWER_SECONDS = 3.0
# How long /api/settle waits for the bot to finish with everything sent to it so far.
SETTLE_SECONDS = 15.0
# Broadcasts shown in the counters panel.
RECENT_BROADCASTS = 5
STATIC = "bot.sandbox"


class SandboxApi:
    def __init__(
        self,
        *,
        world: World,
        sessionmaker: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        public_url: str,
        catalog: Catalog,
        language: str,
        loopback_only: bool = True,
    ) -> None:
        self.world = world
        self.catalog = catalog
        self.language = language
        self.loopback_only = loopback_only
        self.sessionmaker = sessionmaker
        self.outbox = outbox
        self.public_url = public_url
        self._uploads = Uploads()
        # Set when the server shuts down: open event streams end instead of holding it up.
        self._stopping = False
        self._streams: set[asyncio.Event] = set()
        # The desk posting the open tickets right after start (bot.sandbox.run): settle waits.
        self.catching_up: asyncio.Future[None] | None = None

    def say(self, key: str, /, **params: object) -> str:
        """A message of the page in the bot's language (Ukrainian unless configured)."""
        return str(self.catalog.text(self.language, key, **params))

    def install(self, app: web.Application) -> None:
        app[SAY] = self.say
        app.middlewares.append(same_site_only(loopback_only=self.loopback_only))
        app.on_shutdown.append(self._end_streams)
        get, post = app.router.add_get, app.router.add_post
        get("/", self.index)
        get("/static/{name}", self.static)
        get("/api/world", guard(self.world_view))
        get("/api/events", self.events)
        get("/api/counters", guard(self.counters))
        get("/api/settle", self.settle)
        post("/api/personas", guard(self.add_persona))
        get("/api/telegram/chat/{chat_id}", guard(self.telegram_chat))
        get("/api/telegram/file/{file_id}", self.telegram_file)
        post("/api/telegram/send", guard(self.telegram_send))
        post("/api/telegram/press", guard(self.telegram_press))
        post("/api/telegram/upload", guard(self.telegram_upload))
        post("/api/telegram/location", guard(self.telegram_location))
        post("/api/telegram/contact", guard(self.telegram_contact))
        post("/api/telegram/block", guard(self.telegram_block))
        # Viber ids hold "/" and "+": the rest of the path is the id.
        get("/api/viber/chat/{user_id:.+}", guard(self.viber_chat))
        post("/api/viber/start", guard(self.viber_start))
        post("/api/viber/send", guard(self.viber_send))
        post("/api/viber/press", guard(self.viber_press))
        post("/api/viber/upload", guard(self.viber_upload))
        post("/api/viber/location", guard(self.viber_location))
        post("/api/viber/contact", guard(self.viber_contact))
        post("/api/viber/subscription", guard(self.viber_subscription))
        get("/sandbox/files/{upload_id}/{name}", self.uploaded_file)
        get(DESK_ROUTE, DeskDoor(self.sessionmaker).open)

    # ------------------------------------------------------------------ page

    async def index(self, _request: web.Request) -> web.StreamResponse:
        return self._static_file("index.html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        return self._static_file(request.match_info["name"])

    def _static_file(self, name: str) -> web.StreamResponse:
        if "/" in name or name.startswith("."):
            raise web.HTTPNotFound()
        resource = resources.files(STATIC).joinpath("static", name)
        if not resource.is_file():
            raise web.HTTPNotFound()
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return web.Response(
            body=resource.read_bytes(),
            content_type=content_type,
            charset="utf-8" if content_type.startswith("text/") else None,
            headers={
                "Cache-Control": "no-cache",
                # The page only loads its own files; nothing inline runs.
                "Content-Security-Policy": "default-src 'self'; img-src 'self' data: blob:",
                "X-Content-Type-Options": "nosniff",
            },
        )

    # ------------------------------------------------------------------ world

    async def world_view(self, _request: web.Request) -> JSONDict:
        world = self.world
        return {
            "version": world.version,
            "operator_chat": {"id": OPERATOR_CHAT_ID, "title": OPERATOR_CHAT_TITLE},
            "bot": world.telegram.bot_user,
            "viber_bot": {"name": world.viber.account_name},
            "telegram_residents": [p.as_json() for p in world.telegram_residents.values()],
            "viber_residents": [p.as_json() for p in world.viber_residents.values()],
            "staff": [p.as_json() for p in world.staff.values()],
        }

    async def add_persona(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        channel = body.get("channel")
        if channel not in {"telegram", "viber"}:
            raise BadInput("sandbox.error.channel")
        persona = self.world.new_resident(str(channel), text_of(body, "name"))
        self.world.changed()
        return persona.as_json()

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``change`` with the world's version whenever anything changes."""
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        wake = asyncio.Event()
        self.world.add_listener(wake.set)
        self._streams.add(wake)
        try:
            sent = -1
            while not self._stopping:
                if self.world.version != sent:
                    sent = self.world.version
                    await response.write(f"event: change\ndata: {sent}\n\n".encode())
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), KEEPALIVE_SECONDS)
                if not wake.is_set():
                    await response.write(b": keep-alive\n\n")
                # Coalesce a burst of changes (a broadcast) into one refresh.
                await asyncio.sleep(0.05)
        except ConnectionResetError:
            pass  # the tab was closed
        finally:
            self.world.remove_listener(wake.set)
            self._streams.discard(wake)
        return response

    async def _end_streams(self, _app: web.Application) -> None:
        self._stopping = True
        for wake in self._streams:
            wake.set()

    async def settle(self, request: web.Request) -> web.StreamResponse:
        """Wait until the bot has handled everything people did so far and sent its answers.

        For scripts, browser tests and trainers' demos that must not race the bot: the open
        tickets posted to the operator forum after start, every Telegram update confirmed (the
        bot confirms only what it stored), no Viber callback owed, and the replies and staff
        copies of both sent. 503 if that takes too long."""
        telegram, viber = self.world.telegram, self.world.viber
        try:
            async with asyncio.timeout(SETTLE_SECONDS):
                if self.catching_up is not None:
                    await asyncio.shield(self.catching_up)
                # Confirmations do not notify listeners: a short poll of two cheap checks.
                while telegram.pending_updates() or viber.pending_callbacks:  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
                await self.outbox.drain()
        except TimeoutError:
            return error_response(request, "sandbox.error.busy", 503)
        return web.json_response({"settled": True, "version": self.world.version})

    async def counters(self, _request: web.Request) -> JSONDict:
        telegram, viber = self.world.telegram, self.world.viber
        now = datetime.now(UTC)
        broadcasts: list[JSONDict] = []
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Broadcast.id, Broadcast.kind, Broadcast.title, Broadcast.text)
                    .where(Broadcast.started_at.is_not(None))
                    .order_by(Broadcast.id.desc())
                    .limit(RECENT_BROADCASTS)
                )
            ).all()
            for broadcast_id, kind, title, text in rows:
                progress = await broadcast_progress(session, broadcast_id=broadcast_id, now=now)
                if progress is None:
                    continue
                broadcasts.append(
                    {
                        "id": broadcast_id,
                        "kind": kind,
                        "title": _plain(title or text)[:80],
                        "status": progress.status,
                        "total": progress.total,
                        "sent": progress.sent,
                        "blocked": progress.blocked,
                        "failed": progress.failed,
                        "pending": progress.pending,
                        "cancelled": progress.cancelled,
                        "rate": round(progress.rate, 1),
                    }
                )
        return {
            "telegram": {
                "sent": telegram.sent_count,
                "rate_limited": telegram.rate_limited_count,
                "errors": len(telegram.errors),
                "blocked_users": sum(
                    1
                    for p in self.world.telegram_residents.values()
                    if telegram.is_blocked(int(p.id))
                ),
            },
            "viber": {
                "sent": viber.stats.messages_sent,
                "recipients": viber.stats.recipients_reached,
                "rate_limited": viber.stats.rate_limited,
                "unsubscribed": sum(1 for u in viber.users.values() if not u.subscribed),
                "callbacks_failed": viber.stats.callbacks_failed,
            },
            "broadcasts": broadcasts,
        }

    # ------------------------------------------------------------------ Telegram

    def _telegram_person(self, body: JSONDict) -> int:
        user_id = int_of(body, "user_id")
        assert user_id is not None
        key = str(user_id)
        if key not in self.world.telegram_residents and key not in self.world.staff:
            raise NotFound("sandbox.error.no_telegram_user", value=user_id)
        return user_id

    def _chat_of(self, body: JSONDict, user_id: int) -> int:
        chat_id = int_of(body, "chat_id", required=False)
        if chat_id is None or chat_id == user_id:
            return user_id
        if chat_id != OPERATOR_CHAT_ID or str(user_id) not in self.world.staff:
            raise BadInput("sandbox.error.staff_only")
        return chat_id

    async def telegram_chat(self, request: web.Request) -> JSONDict:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError as error:
            raise BadInput("sandbox.error.not_number", label="chat_id") from error
        fake = self.world.telegram
        return {
            "chat_id": chat_id,
            "messages": fake.history(chat_id),
            "keyboard": fake.reply_keyboard(chat_id),
            # Message id (as text) -> ForceReply markup: the page opens a reply to the newest.
            "force_reply": {
                str(mid): markup for mid, markup in fake.force_replies(chat_id).items()
            },
            "topics": fake.topics(chat_id),
            "blocked": fake.is_blocked(chat_id) if chat_id > 0 else False,
        }

    async def telegram_file(self, request: web.Request) -> web.StreamResponse:
        data = self.world.telegram.file_content(request.match_info["file_id"])
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(body=data, content_type=sniff(data))

    async def telegram_send(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._telegram_person(body)
        chat_id = self._chat_of(body, user_id)
        text = text_of(body)
        if not text.strip():
            raise BadInput("sandbox.error.empty", channel="Telegram")
        update = await self.world.telegram.send_text(
            user_id,
            text,
            chat_id,
            thread_id=int_of(body, "thread_id", required=False),
            reply_to=int_of(body, "reply_to", required=False),
        )
        return {"update_id": update.get("update_id")}

    async def telegram_press(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._telegram_person(body)
        chat_id = self._chat_of(body, user_id)
        message_id = int_of(body, "message_id")
        assert message_id is not None
        fake = self.world.telegram
        try:
            update = await fake.press_button(user_id, message_id, text_of(body, "data"), chat_id)
        except ValueError as error:
            raise BadInput("sandbox.error.no_button") from error
        query_id = str(update["callback_query"]["id"])
        # Telegram shows the bot's answer to a press (a toast, or an alert): wait for it briefly,
        # so the page can show it too; a refusal to someone without rights is only said there.
        answer = await self._when(lambda: fake.callback_answers.get(query_id), ANSWER_SECONDS)
        return {"update_id": update.get("update_id"), "answer": answer}

    async def telegram_upload(self, request: web.Request) -> JSONDict:
        fields, upload = await read_upload(request)
        user_id = self._telegram_person(fields)
        chat_id = self._chat_of(fields, user_id)
        caption = fields.get("caption") or None
        thread_id = int_of(fields, "thread_id", required=False)
        if upload.content_type.startswith("image/") and sniff(upload.data).startswith("image/"):
            update = await self.world.telegram.send_photo(
                user_id, chat_id, caption=caption, content=upload.data, thread_id=thread_id
            )
        else:
            update = await self.world.telegram.send_document(
                user_id,
                chat_id,
                file_name=upload.name,
                content=upload.data,
                mime_type=upload.content_type,
                caption=caption,
                thread_id=thread_id,
            )
        return {"update_id": update.get("update_id")}

    async def telegram_location(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._telegram_person(body)
        update = await self.world.telegram.send_location(
            user_id, float_of(body, "latitude"), float_of(body, "longitude")
        )
        return {"update_id": update.get("update_id")}

    async def telegram_contact(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._telegram_person(body)
        phone = body.get("phone_number") or "+380671234567"
        update = await self.world.telegram.send_contact(user_id, str(phone)[:32])
        return {"update_id": update.get("update_id")}

    async def telegram_block(self, request: web.Request) -> JSONDict:
        """Block (``blocked: true``) or restart (``false``) the bot, as the resident."""
        body = await json_body(request)
        user_id = self._telegram_person(body)
        fake = self.world.telegram
        wanted = bool(body.get("blocked"))
        if fake.is_blocked(user_id) != wanted:
            await (fake.block(user_id) if wanted else fake.unblock(user_id))
        return {"blocked": fake.is_blocked(user_id)}

    async def _when(self, probe: Callable[[], JSONDict | None], seconds: float) -> JSONDict | None:
        """``probe()`` once it is not None (re-checked on every change), or None after
        ``seconds``."""
        wake = asyncio.Event()
        self.world.add_listener(wake.set)
        try:
            async with asyncio.timeout(seconds):
                while (found := probe()) is None:
                    wake.clear()
                    await wake.wait()
                return found
        except TimeoutError:
            return None
        finally:
            self.world.remove_listener(wake.set)

    # ------------------------------------------------------------------ Viber

    def _viber_person(self, body: JSONDict) -> str:
        user_id = body.get("user_id")
        if not isinstance(user_id, str) or user_id not in self.world.viber_residents:
            raise NotFound("sandbox.error.no_viber_user")
        return user_id

    async def viber_chat(self, request: web.Request) -> JSONDict:
        user_id = request.match_info["user_id"]
        if user_id not in self.world.viber_residents:
            raise NotFound("sandbox.error.no_viber_user")
        fake = self.world.viber
        user = fake.users.get(user_id)
        return {
            "user_id": user_id,
            "subscribed": bool(user and user.subscribed),
            "entries": [
                {
                    "seq": entry.seq,
                    "direction": entry.direction,
                    "message": entry.message,
                    "timestamp": entry.timestamp_ms,
                }
                for entry in fake.transcript(user_id)
            ],
            "keyboard": fake.current_keyboard(user_id),
        }

    async def viber_start(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        status, _welcome = await self.world.viber.conversation_started(self._viber_person(body))
        return {"status": status}

    async def viber_send(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._viber_person(body)
        text = text_of(body)
        if not text.strip():
            raise BadInput("sandbox.error.empty", channel="Viber")
        return {"status": await self.world.viber.send_text(user_id, text)}

    async def viber_press(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._viber_person(body)
        try:
            return {"status": await self.world.viber.press_button(user_id, text_of(body, "button"))}
        except LookupError as error:
            raise NotFound("sandbox.error.no_button") from error

    async def viber_upload(self, request: web.Request) -> JSONDict:
        fields, upload = await read_upload(request)
        user_id = self._viber_person(fields)
        upload_id = self._uploads.keep(upload)
        url = f"{self.public_url}/sandbox/files/{upload_id}/{safe_name(upload.name)}"
        fake = self.world.viber
        if sniff(upload.data) in {"image/png", "image/jpeg"}:
            status = await fake.send_picture(
                user_id,
                media=url,
                file_name=upload.name,
                size=len(upload.data),
                text=fields.get("caption") or None,
            )
        else:
            status = await fake.send_file(
                user_id, media=url, file_name=upload.name, size=len(upload.data)
            )
        return {"status": status}

    async def viber_location(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        status = await self.world.viber.send_location(
            self._viber_person(body), float_of(body, "latitude"), float_of(body, "longitude")
        )
        return {"status": status}

    async def viber_contact(self, request: web.Request) -> JSONDict:
        body = await json_body(request)
        user_id = self._viber_person(body)
        user = self.world.viber.users[user_id]
        return {
            "status": await self.world.viber.send_contact(user_id, user.name, user.phone_number)
        }

    async def viber_subscription(self, request: web.Request) -> JSONDict:
        """Unsubscribe (``subscribed: false``, Viber's counterpart of blocking) or subscribe."""
        body = await json_body(request)
        user_id = self._viber_person(body)
        fake = self.world.viber
        wanted = bool(body.get("subscribed"))
        if fake.users[user_id].subscribed != wanted:
            await (fake.subscribe(user_id) if wanted else fake.unsubscribe(user_id))
        return {"subscribed": fake.users[user_id].subscribed}

    async def uploaded_file(self, request: web.Request) -> web.StreamResponse:
        upload = self._uploads.get(request.match_info["upload_id"])
        if upload is None:
            raise web.HTTPNotFound()
        return web.Response(body=upload.data, content_type=sniff(upload.data))


def _plain(markup: str) -> str:
    """The first line of a broadcast's text without its tags (the page shows text only)."""
    text = html.unescape(re.sub(r"<[^>]*>", "", markup)).strip()
    return text.splitlines()[0] if text else ""
