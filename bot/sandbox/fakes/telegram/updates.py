"""Updates: getUpdates long polling, webhooks with retries, and emitting new updates."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.sandbox.fakes.telegram.constants import (
    ALL_UPDATE_TYPES,
    JSON,
    OPT_IN_UPDATE_TYPES,
    SECRET_RE,
)
from bot.sandbox.fakes.telegram.files import FileStore
from bot.sandbox.fakes.telegram.params import Params
from bot.sandbox.fakes.telegram.records import (
    ApiError,
    Described,
    SimUpdate,
    UploadedFile,
    WebhookDelivery,
    bad_request,
)
from bot.sandbox.fakes.telegram.state import Pending, Webhook, unix_now, update_type
from bot.sandbox.fakes.telegram.wire import read_webhook_reply


class UpdateDelivery(FileStore):
    """Updates: getUpdates long polling, webhooks with retries, and emitting new updates."""

    # ---------------------------------------------------------------- updates

    def _allowed_set(self) -> frozenset[str]:
        allowed = self._allowed_updates
        if not allowed:
            return frozenset(t for t in ALL_UPDATE_TYPES if t not in OPT_IN_UPDATE_TYPES)
        return frozenset(allowed)

    def _set_allowed_updates(self, value: Any) -> None:
        if value is None:
            return  # "If not specified, the previous setting will be used."
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise bad_request("can't parse allowed_updates JSON array")
        self._allowed_updates = list(value)

    async def _m_get_updates(self, p: Params) -> Any:
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = p.opt_int("offset")
        limit = min(max(p.opt_int("limit") or 100, 1), 100)
        timeout = min(max(p.opt_int("timeout") or 0, 0), self.max_poll_timeout)
        self._set_allowed_updates(p.opt_json("allowed_updates"))
        if offset is not None and offset != 0:
            self._confirm_updates(offset)

        # A newer getUpdates terminates the one still waiting (real server behaviour).
        self._poll_generation += 1
        mine = self._poll_generation
        if self._active_poll is not None:
            self._poll_killed[self._active_poll] = (
                "Conflict: terminated by other getUpdates request; "
                "make sure that only one bot instance is running"
            )
        self._active_poll = mine
        self._notify()
        await self._wait_until(lambda: self._active_poll != mine or bool(self._pending), timeout)
        if self._active_poll != mine:
            raise ApiError(409, self._poll_killed.pop(mine, "Conflict: terminated"))
        self._active_poll = None
        return [copy.deepcopy(entry.update) for entry in self._pending[:limit]]

    def _confirm_updates(self, offset: int) -> None:
        if offset < 0:
            # "A negative offset can be specified to retrieve updates starting from -offset
            # update from the end of the updates queue. All previous updates will be forgotten."
            self._pending = self._pending[offset:]
        else:
            self._pending = [e for e in self._pending if e.update.get("update_id", 0) >= offset]

    def pending_updates(self) -> list[JSON]:
        """Updates not yet confirmed (polling) or not yet accepted by the webhook."""
        return [copy.deepcopy(entry.update) for entry in self._pending]

    # ---------------------------------------------------------------- webhooks

    async def _m_set_webhook(self, p: Params) -> Any:
        url = p.opt_str("url") or ""
        if not url:
            return await self._m_delete_webhook(p)
        parts = urlsplit(url)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = p.opt_str("secret_token")
        if secret is not None and secret != "" and not SECRET_RE.match(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = min(max(p.opt_int("max_connections") or 40, 1), 100)
        self._set_allowed_updates(p.opt_json("allowed_updates"))
        if p.opt_bool("drop_pending_updates"):
            self._pending.clear()
        previous = self._webhook
        self._webhook = Webhook(
            url=url,
            secret_token=secret or None,
            max_connections=max_connections,
            ip_address=p.opt_str("ip_address") or "127.0.0.1",
        )
        if self._active_poll is not None:
            self._poll_killed[self._active_poll] = "Conflict: terminated by setWebhook request"
            self._active_poll = None
        self._notify()  # wake the long poll so it answers with its 409
        if self._pending:
            # Telegram starts pushing what is already queued as soon as the webhook is set.
            self._spawn(self._deliver_all())
        if previous is not None and previous.url == url:
            return Described(True, "Webhook is already set")
        return Described(True, "Webhook was set")

    async def _m_delete_webhook(self, p: Params) -> Any:
        if p.opt_bool("drop_pending_updates"):
            self._pending.clear()
        if self._webhook is None:
            return Described(True, "Webhook is already deleted")
        self._webhook = None
        self._notify()
        return Described(True, "Webhook was deleted")

    async def _m_get_webhook_info(self, _p: Params) -> Any:
        return self.webhook_info

    @property
    def webhook_info(self) -> JSON:
        info: JSON = {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        hook = self._webhook
        if hook is None:
            return info
        info["url"] = hook.url
        info["max_connections"] = hook.max_connections
        if hook.ip_address:
            info["ip_address"] = hook.ip_address
        if self._allowed_updates:
            info["allowed_updates"] = list(self._allowed_updates)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message
        return info

    @property
    def webhook_url(self) -> str | None:
        return self._webhook.url if self._webhook else None

    async def _deliver_all(self) -> list[int]:
        statuses: list[int] = []
        for entry in list(self._pending):
            if self._webhook is None or self._closing:
                break
            if entry in self._pending and not entry.in_flight:
                statuses.append(await self._deliver(entry))
        return statuses

    async def redeliver(self) -> list[int]:
        """Try every pending update once more (in order); returns the HTTP statuses.

        Without a webhook this is a no-op returning [].
        """
        return await self._deliver_all()

    async def _deliver(self, entry: Pending) -> int:
        """POST one update to the webhook, like Telegram does; returns the HTTP status."""
        hook = self._webhook
        client = self._client
        if hook is None or client is None:
            return 0
        entry.in_flight = True
        entry.attempts += 1
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        status = 0
        error: str | None = None
        reply: tuple[JSON, dict[str, UploadedFile]] | None = None
        try:
            async with client.post(
                hook.url,
                data=json.dumps(entry.update, ensure_ascii=False).encode(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
            ) as resp:
                status = resp.status
                if 200 <= status < 300:
                    reply = await read_webhook_reply(resp)
                else:
                    error = f"Wrong response from the webhook: {status} {resp.reason or ''}".strip()
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except (aiohttp.ClientError, ApiError) as exc:
            error = f"Connection error: {exc}"
        finally:
            entry.in_flight = False
        update_id = int(entry.update.get("update_id", 0))
        self.deliveries.append(WebhookDelivery(update_id, status, error, entry.attempts))
        if 200 <= status < 300 and error is None:
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
            if reply is not None and reply[0].get("method"):
                # "You can perform a request to the Bot API while sending an answer to
                # the webhook" - the result is not reported back, errors are swallowed.
                fields, files = reply
                await self._invoke(str(fields.pop("method")), fields, files)
        else:
            hook.last_error_date = unix_now()
            hook.last_error_message = error
            if entry.attempts >= self.webhook_max_attempts:
                with contextlib.suppress(ValueError):
                    self._pending.remove(entry)
                self.dropped_updates.append(entry.update)
            elif self.webhook_retry_delay is not None and not self._closing:
                self._spawn(self._retry_later(entry))
        self._notify()
        return status

    async def _retry_later(self, entry: Pending) -> None:
        delay = (self.webhook_retry_delay or 0.0) * (2 ** (entry.attempts - 1))
        await asyncio.sleep(delay)
        if entry in self._pending and not entry.in_flight and self._webhook is not None:
            await self._deliver(entry)

    async def _emit(self, update: JSON) -> SimUpdate:
        """Queue an update for the bot and, with a webhook, push it right away."""
        if "update_id" not in update:
            update = {"update_id": self._next_update_id, **update}
        self._next_update_id = max(self._next_update_id, int(update["update_id"]) + 1)
        result = SimUpdate(copy.deepcopy(update))
        if update_type(update) not in self._allowed_set():
            result.filtered = True
            return result
        entry = Pending(copy.deepcopy(update))
        self._pending.append(entry)
        self._notify()
        if self._webhook is not None:
            result.status = await self._deliver(entry)
        return result
