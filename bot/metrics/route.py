"""``GET /metrics``: the registry in Prometheus' text format, behind a bearer token.

The route shares the public port (Caddy forwards everything to it), so it is closed unless
CITYBOT_METRICS_TOKEN is set: without a token it answers 404, as if it did not exist; with one,
a request must carry ``Authorization: Bearer <token>`` (compared in constant time) or gets 401.
"""

from __future__ import annotations

import hmac

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.metrics.core import Metrics
from bot.metrics.figures import DatabaseFigures

ROUTE = "/metrics"
_BEARER = "bearer "


def authorized(header: str, token: str) -> bool:
    """Whether ``header`` is ``Bearer <token>``, in constant time. aiohttp hands over a header's
    non-UTF-8 bytes as surrogate escapes: encoded back the same way they simply do not match."""
    if header[: len(_BEARER)].lower() != _BEARER:
        return False
    given = header[len(_BEARER) :].strip()
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), token.encode())


class MetricsRoute:
    def __init__(
        self, metrics: Metrics, *, token: str | None, figures: DatabaseFigures | None
    ) -> None:
        self._metrics = metrics
        self._token = token
        self._figures = figures

    async def handle(self, request: web.Request) -> web.Response:
        if self._token is None:
            raise web.HTTPNotFound()
        if not authorized(request.headers.get("Authorization", ""), self._token):
            return web.Response(
                status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"}
            )
        if self._figures is not None:
            await self._figures.refresh()
        body = generate_latest(self._metrics.registry)
        # CONTENT_TYPE_LATEST carries its charset: set as a raw header, not content_type.
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
