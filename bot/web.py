"""The one aiohttp application: webhooks, the health check and the signed file links."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import __version__
from bot.channel_health import ChannelHealth
from storage.errors import TRY_AGAIN_LATER

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A Telegram update or a Viber callback is small; refuse anything huge before reading it.
MAX_BODY = 1024 * 1024


def build_web_app(
    *,
    engine: AsyncEngine,
    channels: list[str],
    routes: Mapping[str, Handler],
    gets: Mapping[str, Handler] | None = None,
    health: ChannelHealth | None = None,
) -> web.Application:
    """``routes``: the webhooks (POST); ``gets``: other GET routes (signed file links);
    ``health``: messengers refusing the bot's token make ``/healthz`` answer 503."""
    app = web.Application(client_max_size=MAX_BODY)

    async def healthz(_request: web.Request) -> web.Response:
        try:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except TRY_AGAIN_LATER:
            return web.json_response(
                {"status": "error", "database": "unavailable", "version": __version__}, status=503
            )
        refused = health.problems() if health is not None else {}
        if refused:
            # Only an administrator can fix it: the monitoring that reads /healthz should page.
            return web.json_response(
                {
                    "status": "error",
                    "database": "ok",
                    "channels": channels,
                    "token_refused": refused,
                    "version": __version__,
                },
                status=503,
            )
        return web.json_response(
            {"status": "ok", "database": "ok", "channels": channels, "version": __version__}
        )

    app.router.add_get("/healthz", healthz)
    for path, handler in routes.items():
        app.router.add_post(path, handler)
    for path, handler in (gets or {}).items():
        app.router.add_get(path, handler)
    return app
