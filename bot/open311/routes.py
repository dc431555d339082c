"""The routes of ``/open311/v2/``: each answers JSON or XML (the path's extension), and every
refusal is the spec's error list in the same format.

Reading is public, as the spec has it (services, requests, tokens, the updates feed), and shows
only tickets filed through Open311: never what residents wrote in their messengers, never the
requester's name, e-mail or phone. Posting needs an integrator's ``api_key``
(``citybot open311 key add``)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.open311 import fields
from bot.open311.errors import Open311Error, bad_request, forbidden, not_found
from bot.open311.render import ERRORS, REQUESTS, SERVICES, UPDATES, respond, respond_one
from messaging import labels
from messaging.i18n import Catalog
from storage import open311, open311_keys
from storage.errors import TRY_AGAIN_LATER
from storage.filing import FilingPolicy
from storage.open311 import RequestView, Service
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
FORMAT = "{fmt:json|xml}"
# Requests one key may post a minute (counted in the database: every process sees them).
POSTS_PER_MINUTE = 60

Row = dict[str, Any]
Endpoint = Callable[[web.Request, str], Awaitable[web.Response]]


class Open311Api:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        language: str,
        policy: FilingPolicy,
        clock: Clock,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._catalog = catalog
        self._language = language
        self._policy = policy
        self._zone: ZoneInfo = policy.zone
        self._clock = clock

    def routes(self) -> Mapping[tuple[str, str], Callable[[web.Request], Awaitable[web.Response]]]:
        """Every route: (method, path) → handler."""
        table: dict[tuple[str, str], Endpoint] = {
            ("GET", f"/services.{FORMAT}"): self._services,
            ("GET", f"/services/{{code}}.{FORMAT}"): self._definition,
            ("GET", f"/requests.{FORMAT}"): self._requests,
            ("POST", f"/requests.{FORMAT}"): self._post,
            ("GET", f"/requests/{{id}}.{FORMAT}"): self._request,
            ("GET", f"/tokens/{{token}}.{FORMAT}"): self._token,
            ("GET", f"/servicerequestupdates.{FORMAT}"): self._updates,
        }
        return {
            (method, PREFIX + path): _guarded(endpoint)
            for (method, path), endpoint in table.items()
        }

    def install(self, app: web.Application) -> None:
        for (method, path), handler in self.routes().items():
            app.router.add_route(method, path, handler)

    # -- services ---------------------------------------------------------------------------

    def _service_name(self, code: str) -> str:
        # Staff's names of the categories (no emoji): ``labels.STAFF_CATEGORY``.
        key = labels.STAFF_CATEGORY.get(code)
        if key is None or key not in self._catalog.keys(self._language):
            return code
        return str(self._catalog.text(self._language, key))

    def _service_row(self, service: Service) -> Row:
        name = self._service_name(service.code)
        return {
            "service_code": service.code,
            "service_name": name,
            "description": name,
            "metadata": False,
            "type": "realtime",
            "keywords": "",
            "group": service.department,
        }

    async def _services(self, _request: web.Request, fmt: str) -> web.Response:
        async with self._sessionmaker() as session:
            found = await open311.services(session)
        return respond(fmt, [self._service_row(service) for service in found], SERVICES)

    async def _definition(self, request: web.Request, fmt: str) -> web.Response:
        code = request.match_info["code"]
        async with self._sessionmaker() as session:
            found = {service.code for service in await open311.services(session)}
        if fields.path_id(code) not in found:
            raise not_found("service_code not found")
        return respond_one(fmt, {"service_code": code, "attributes": []}, "service_definition")

    # -- requests ---------------------------------------------------------------------------

    def _when(self, moment: datetime | None) -> str | None:
        if moment is None:
            return None
        return moment.astimezone(self._zone).isoformat(timespec="seconds")

    def _request_row(self, view: RequestView) -> Row:
        return {
            "service_request_id": view.number,
            "status": view.status,
            "status_notes": view.status_notes,
            "service_name": self._service_name(view.service_code) if view.service_code else None,
            "service_code": view.service_code,
            "description": view.description,
            "agency_responsible": view.department,
            "service_notice": None,
            "requested_datetime": self._when(view.requested),
            "updated_datetime": self._when(view.updated),
            "expected_datetime": self._when(view.expected),
            "address": view.address,
            "address_id": None,
            "zipcode": None,
            "lat": view.lat,
            "long": view.long,
            "media_url": view.media_url,
        }

    async def _requests(self, request: web.Request, fmt: str) -> web.Response:
        chosen = fields.filters(request.query, now=self._clock())
        async with self._sessionmaker() as session:
            found = await open311.find_requests(session, chosen, now=self._clock())
        return respond(fmt, [self._request_row(view) for view in found], REQUESTS)

    async def _request(self, request: web.Request, fmt: str) -> web.Response:
        number = request.match_info["id"]
        view = None
        if fields.path_id(number) is not None:
            async with self._sessionmaker() as session:
                view = await open311.request_by_number(session, number)
        if view is None:
            raise not_found("service_request_id not found")
        return respond(fmt, [self._request_row(view)], REQUESTS)

    async def _token(self, request: web.Request, fmt: str) -> web.Response:
        token = request.match_info["token"]
        number = None
        if fields.path_id(token) is not None:
            async with self._sessionmaker() as session:
                number = await open311.number_by_token(session, token)
        if number is None:
            raise not_found("token not found")
        return respond(fmt, [{"service_request_id": number, "token": token}], REQUESTS)

    async def _updates(self, request: web.Request, fmt: str) -> web.Response:
        start, end = fields.feed_window(request.query, now=self._clock())
        async with self._sessionmaker() as session:
            found = await open311.updates(session, start=start, end=end)
        rows = [
            {
                "update_id": update.update_id,
                "service_request_id": update.number,
                "status": update.status,
                "updated_datetime": self._when(update.at),
                "description": update.description,
                "media_url": None,
            }
            for update in found
        ]
        return respond(fmt, rows, UPDATES)

    # -- posting ----------------------------------------------------------------------------

    async def _post(self, request: web.Request, fmt: str) -> web.Response:
        if (request.content_length or 0) > fields.BODY_MAX:
            raise Open311Error(413, f"the body may not exceed {fields.BODY_MAX} bytes")
        body = await request.read()
        if len(body) > fields.BODY_MAX:
            raise Open311Error(413, f"the body may not exceed {fields.BODY_MAX} bytes")
        sent = fields.decode_body(body, request.content_type)
        plain = sent.get("api_key")
        if not plain:
            raise bad_request("api_key is required")
        if not isinstance(plain, str):
            raise forbidden()
        now = self._clock()
        async with self._sessionmaker() as session, session.begin():
            key = await open311_keys.active_key(session, plain, now=now)
            if key is None:
                raise forbidden()
            since = now - timedelta(minutes=1)
            if await open311.posts_since(session, key=key, since=since) >= POSTS_PER_MINUTE:
                raise Open311Error(429, f"at most {POSTS_PER_MINUTE} requests a minute per api_key")
            new = fields.new_request(sent)
            if new.service_code not in {s.code for s in await open311.services(session)}:
                raise bad_request(f"service_code {new.service_code!r} is not a service")
            posted = await open311.post_request(
                session, key=key, request=new, now=now, policy=self._policy
            )
        # The number and the key's id: nothing the requester wrote or gave.
        log.info(
            "open311 request %s %s by key %s",
            posted.number,
            "repeated" if posted.repeated else "filed",
            key.id,
        )
        row = {
            "service_request_id": posted.number,
            "token": posted.token,
            "service_notice": None,
            "account_id": new.account_id,
        }
        return respond(fmt, [row], REQUESTS)


def _guarded(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The endpoint with its format from the path, and its refusals as the spec's errors."""

    async def handle(request: web.Request) -> web.Response:
        fmt = request.match_info.get("fmt", "json")
        try:
            return await endpoint(request, fmt)
        except Open311Error as error:
            rows = [{"code": p.code, "description": p.description} for p in error.problems]
            return respond(fmt, rows, ERRORS, status=error.status)
        except TRY_AGAIN_LATER:
            rows = [{"code": 503, "description": "the database is unavailable, try again later"}]
            return respond(fmt, rows, ERRORS, status=503)

    return handle
