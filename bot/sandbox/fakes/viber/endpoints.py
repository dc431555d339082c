"""The HTTP API: dispatch, authentication, set_webhook and get_account_info."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import urllib.parse

from aiohttp import web

from bot.sandbox.fakes.viber.messaging import Messaging
from bot.sandbox.fakes.viber.protocol import (
    AUTH_HEADER,
    BAD_DATA,
    INVALID_AUTH_TOKEN,
    INVALID_URL,
    MANDATORY_EVENTS,
    MAX_REQUEST_BYTES,
    MISSING_DATA,
    OPTIONAL_EVENTS,
    STATUS_MESSAGES,
    TOO_MANY_REQUESTS,
    JSONDict,
    ViberApiError,
)
from bot.sandbox.fakes.viber.records import ApiCall


class Endpoints(Messaging):
    """The HTTP API: dispatch, authentication, set_webhook and get_account_info."""

    # ------------------------------------------------------------------ HTTP API

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"]
        handler = {
            "set_webhook": self._set_webhook,
            "get_account_info": self._get_account_info,
            "send_message": self._send_message,
            "broadcast_message": self._broadcast_message,
            "get_user_details": self._get_user_details,
            "get_online": self._get_online,
            "post": self._post_to_public_chat,
        }.get(endpoint)
        if handler is None:
            raise web.HTTPNotFound()
        raw = await request.read()
        self.stats.calls += 1
        body, parse_error = _parse_body(raw)
        self.calls.append((endpoint, body))
        if self.latency > 0:
            await asyncio.sleep(self.latency)

        injection = None
        queue = self._injections.get(endpoint)
        if queue:
            injection = queue.popleft()
        if injection is not None and injection.http_status is not None:
            self.api_log.append(ApiCall(endpoint, body, {}, f"HTTP {injection.http_status}"))
            return web.Response(status=injection.http_status, text="injected failure")

        reason = ""
        try:
            if parse_error:
                raise ViberApiError(BAD_DATA, parse_error)
            self._check_auth(request, body)
            if injection is not None and injection.status is not None:
                raise ViberApiError(injection.status, "injected failure")
            if self.account_status is not None:
                raise ViberApiError(self.account_status, "account state")
            if len(raw) > MAX_REQUEST_BYTES:
                raise ViberApiError(BAD_DATA, f"request larger than {MAX_REQUEST_BYTES} bytes")
            response = await handler(body)
        except ViberApiError as err:
            reason = err.reason
            if err.status == TOO_MANY_REQUESTS:
                self.stats.rate_limited += 1
            response = {
                "status": err.status,
                "status_message": STATUS_MESSAGES.get(err.status, "generalError"),
                "chat_hostname": self.chat_hostname,
            }
        self.api_log.append(ApiCall(endpoint, body, response, reason))
        return web.json_response(response)

    def _check_auth(self, request: web.Request, body: JSONDict) -> None:
        supplied = request.headers.get(AUTH_HEADER)
        if supplied is None:
            in_body = body.get("auth_token")
            supplied = in_body if isinstance(in_body, str) else None
        if not supplied:
            raise ViberApiError(INVALID_AUTH_TOKEN, "missing_auth_token")
        if not hmac.compare_digest(supplied.encode("utf-8"), self.token.encode("utf-8")):
            raise ViberApiError(INVALID_AUTH_TOKEN, "auth token does not match")

    async def _set_webhook(self, body: JSONDict) -> JSONDict:
        if "url" not in body or body["url"] is None:
            raise ViberApiError(MISSING_DATA, "url is missing")
        url = body["url"]
        if not isinstance(url, str):
            raise ViberApiError(BAD_DATA, "url must be a string")
        if url == "":
            # Removing the webhook also closes 1-on-1 chats with the bot.
            self.webhook_url = None
            self.event_types = []
            return self._ok(event_types=[], chat_hostname=self.chat_hostname)

        requested = body.get("event_types")
        if requested is None:
            events = list(OPTIONAL_EVENTS)
        else:
            if not isinstance(requested, list) or not all(isinstance(e, str) for e in requested):
                raise ViberApiError(BAD_DATA, "event_types must be a list of strings")
            unknown = set(requested) - set(OPTIONAL_EVENTS) - MANDATORY_EVENTS
            if unknown:
                raise ViberApiError(BAD_DATA, f"unknown event types {sorted(unknown)}")
            # subscribed/unsubscribed cannot be filtered out, so they are always on.
            wanted = set(requested) | {"subscribed", "unsubscribed"}
            events = [e for e in OPTIONAL_EVENTS if e in wanted]
        for flag in ("send_name", "send_photo"):
            if flag in body and not isinstance(body[flag], bool):
                raise ViberApiError(BAD_DATA, f"{flag} must be a boolean")

        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ViberApiError(INVALID_URL, "url is not an absolute http(s) URL")
        if self.require_https and parts.scheme != "https":
            raise ViberApiError(INVALID_URL, "webhook must use https")

        # The availability check: a signed "webhook" event that must get HTTP 200.
        event = {
            "event": "webhook",
            "timestamp": self._now_ms(),
            "chat_hostname": self.chat_hostname,
            "message_token": self._next_token(),
        }
        record = self._make_record(event, redeliverable=False)
        self.callbacks.append(record)
        status = await self._attempt(record, url)
        if status != 200:
            raise ViberApiError(INVALID_URL, f"webhook check got HTTP {status or 'no answer'}")
        self.webhook_url = url
        self.event_types = events
        self.send_name = bool(body.get("send_name", False))
        self.send_photo = bool(body.get("send_photo", False))
        return self._ok(event_types=events, chat_hostname=self.chat_hostname)

    async def _get_account_info(self, _body: JSONDict) -> JSONDict:
        info = self._ok(
            id="pa:" + str(int(hashlib.sha256(self.token.encode()).hexdigest()[:15], 16)),
            name=self.account_name,
            uri=self.account_name.lower().replace(" ", ""),
            icon="https://example.invalid/icon.jpg",
            background="https://example.invalid/background.jpg",
            category="Local Business",
            subcategory="Government",
            location={"lon": 30.5234, "lat": 50.4501},
            country="UA",
            event_types=list(self.event_types),
            subscribers_count=sum(1 for u in self.users.values() if u.subscribed),
            members=[
                {"id": admin, "name": f"Admin {i + 1}", "role": "admin"}
                for i, admin in enumerate(self.admins)
            ],
            chat_hostname=self.chat_hostname,
        )
        if self.webhook_url is not None:
            info["webhook"] = self.webhook_url
        return info


def _parse_body(raw: bytes) -> tuple[JSONDict, str]:
    """The request's JSON object, or an empty one and why it is not usable."""
    try:
        parsed = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, ValueError):
        return {}, "request body is not valid JSON"
    if not isinstance(parsed, dict):
        return {}, "request body must be a JSON object"
    return parsed, ""
