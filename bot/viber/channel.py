"""The Viber channel: the signed webhook route, webhook registration and the ``Sender``."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from viberbot.api.viber_requests import (
    ViberConversationStartedRequest,
    ViberFailedRequest,
    ViberMessageRequest,
    ViberSubscribedRequest,
    ViberUnsubscribedRequest,
    create_request,
)

from bot.metrics.core import Metrics
from bot.viber import convert, render, shape
from bot.viber.client import ViberClient
from bot.viber.media import MediaKeeper
from handlers.pipeline import Pipeline
from messaging.contract import Incoming, Reply, Sent
from storage import audit
from storage.vocabulary import Channel, Clock, system_clock

log = logging.getLogger(__name__)

CHANNEL = Channel.VIBER.value
SIGNATURE_HEADER = "X-Viber-Content-Signature"
WEBHOOK_PATH = "/viber/webhook"
# ``message`` and ``webhook`` callbacks always come; these are the optional ones we want.
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]


def signature(token: str, body: bytes) -> str:
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


class ViberSender:
    channel = Channel.VIBER.value

    def __init__(self, client: ViberClient, *, name: str, avatar: str | None) -> None:
        self._client = client
        self._sender = {"name": name, **({"avatar": avatar} if avatar else {})}
        self._render = render.with_public_media(None)

    def public_media(self, to_url: Callable[[str], str] | None) -> None:
        """Where a reply's file that is not a URL (a kept file ``kept:<id>``, e.g. a
        consultation's document uploaded in the web desk; a Telegram file_id) is fetched from:
        the signed media link. Set once the links exist (they are built after the channels);
        without them such a file is left out and the text goes alone, never a bare ref Viber
        would refuse."""
        self._render = render.with_public_media(to_url)

    @property
    def sender_info(self) -> dict[str, str]:
        return dict(self._sender)

    async def send(self, recipient: str, reply: Reply) -> Sent:
        token = ""
        for message in self._render(reply):
            payload: dict[str, Any] = {"receiver": recipient, "sender": self._sender, **message}
            answer = await self._client.call("send_message", payload)
            token = str(answer.get("message_token", ""))
        return Sent(message_id=token)

    def parts(self, reply: Reply) -> tuple[Reply, ...]:
        return render.parts(reply)

    # The Sender contract's signature; ``message_id`` is of no use here.
    async def edit(self, recipient: str, message_id: str, reply: Reply) -> Sent:  # noqa: ARG002
        # Viber cannot edit a sent message: the new state goes out as a new message.
        return await self.send(recipient, reply)


class ViberChannel:
    def __init__(
        self,
        *,
        client: ViberClient,
        pipeline: Pipeline,
        token: str,
        name: str,
        avatar: str | None,
        sessionmaker: async_sessionmaker[AsyncSession],
        media: MediaKeeper | None = None,
        clock: Clock = system_clock,
        sender: ViberSender | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """``sender``: the one the composition root built first, for the notices (None: own)."""
        self.client = client
        self._metrics = metrics if metrics is not None else Metrics()
        # Keeps a copy of each file before its Viber URL expires (None: files keep the URL).
        self._media = media
        self.sender = sender or ViberSender(client, name=name, avatar=avatar)
        self._pipeline = pipeline
        self._token = token
        self._sessionmaker = sessionmaker
        self._clock = clock

    async def register_webhook(self, url: str) -> None:
        """Viber calls the URL (a signed ``webhook`` event) before it answers, so the HTTP server
        must already be listening."""
        await self.client.set_webhook(url, EVENT_TYPES)

    async def handle_webhook(self, request: web.Request) -> web.Response:
        body = await request.read()
        given = request.headers.get(SIGNATURE_HEADER, "")
        # Verified before anything else is done with the body, in constant time.
        if not _signed(given, signature(self._token, body)):
            return web.json_response({"status": "forbidden"}, status=403)
        # Signed, so Viber's: a callback that can never be processed is answered 200 (Viber
        # redelivers anything else for an hour, in vain) and recorded as refused.
        try:
            raw = json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: nested deeper than Python goes
            return await self._refuse(body, None, "not JSON")
        with self._metrics.handling(CHANNEL, callback_kind(raw)):
            return await self._accept(body, raw)

    async def _accept(self, body: bytes, raw: Any) -> web.Response:
        """A signed callback that is JSON: refused if malformed or stale, else handled."""
        reason = shape.problem(raw)
        if reason is None:
            reason = shape.freshness(raw["timestamp"], self._clock())
        if reason is not None:
            return await self._refuse(body, raw, reason)
        key = convert.update_key(raw, body)
        if shape.unknown_message(raw):
            await self._run(convert.unknown_message_event(raw, key))
            return web.json_response({"status": 0})
        try:
            parsed = create_request(raw)
        # Broad on purpose: viberbot raises bare Exception for what it cannot parse; the callback
        # is refused and audited, which is all that can be done with it.
        except Exception as error:  # noqa: BLE001
            return await self._refuse(body, raw, f"unparseable: {type(error).__name__}")
        return await self._route(parsed, raw, key)

    async def _route(self, parsed: Any, raw: dict[str, Any], key: str) -> web.Response:
        """Hand a parsed, signed, fresh callback to the pipeline by its kind."""
        if isinstance(parsed, ViberMessageRequest):
            event = convert.message_event(parsed, raw, key)
            if self._media is not None:
                event = await self._media.keep(event)
            await self._run(event)
        elif isinstance(parsed, ViberConversationStartedRequest):
            return await self._welcome(convert.opened_event(parsed, key))
        elif isinstance(parsed, ViberSubscribedRequest):
            await self._run(convert.subscribed_event(parsed, key))
        elif isinstance(parsed, ViberUnsubscribedRequest):
            await self._run(convert.unsubscribed_event(parsed, key))
        elif isinstance(parsed, ViberFailedRequest):
            log.info("viber delivery failed for %s: %s", parsed.user_id, parsed.desc)
        # delivered, seen and webhook need nothing from us but a 200.
        return web.json_response({"status": 0})

    async def _refuse(self, body: bytes, raw: Any, reason: str) -> web.Response:
        """Answer a signed callback that will never be processed: 200 (not retried), a warning
        and an audit entry (no content: only the event, the reason and the body's hash)."""
        event = raw.get("event") if isinstance(raw, dict) else None
        details = {
            "reason": reason[:200],
            "event": event[:32] if isinstance(event, str) else None,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        log.warning("viber callback refused: %s (event %s)", details["reason"], details["event"])
        async with self._sessionmaker() as session, session.begin():
            audit.record(
                session,
                actor="viber",
                action="viber.callback_refused",
                now=self._clock(),
                details=details,
            )
        return web.json_response({"status": 0, "refused": True})

    async def _run(self, event: Incoming) -> None:
        # Stored before answering; the replies may follow the answer (the pipeline's outbox).
        await self._pipeline.handle(event, self.sender, later=True)

    async def _welcome(self, event: Incoming) -> web.Response:
        """conversation_started may be answered with one message in the response body: the only
        way to greet someone who has not subscribed yet."""
        # The welcome travels in this HTTP answer: nothing is kept to send again later.
        result = await self._pipeline.process(event, owe=False)
        await self._pipeline.apply_effects(result.effects)
        if not result.replies:
            return web.json_response({"status": 0})
        messages = render.messages(result.replies[0])
        if len(result.replies) > 1 or len(messages) > 1:
            log.warning("welcome message trimmed to one message")
        return web.json_response({"sender": self.sender.sender_info, **messages[0]})


# Viber's callback events as metrics labels: a button press is a ``message`` too.
_KINDS = {
    "message": "message",
    "conversation_started": "conversation_started",
    "subscribed": "subscription",
    "unsubscribed": "subscription",
    "delivered": "receipt",
    "seen": "receipt",
    "failed": "receipt",
    "webhook": "webhook",
}


def callback_kind(raw: Any) -> str:
    event = raw.get("event") if isinstance(raw, dict) else None
    return _KINDS.get(event, "other") if isinstance(event, str) else "other"


def _signed(given: str, expected: str) -> bool:
    """Constant-time comparison of the header with the hex signature. aiohttp hands over a
    header's non-UTF-8 bytes as surrogate escapes: encoded back the same way they simply do not
    match (403), where comparing such text raised (500)."""
    if not given:
        return False
    return hmac.compare_digest(given.lower().encode("utf-8", "surrogateescape"), expected.encode())
