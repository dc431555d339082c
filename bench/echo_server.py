"""The baseline: a bare aiogram webhook bot that echoes each text back, nothing stored.

python -m bench.echo_server PORT BOT_API_URL TOKEN
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from aiogram import Bot, Dispatcher
from aiogram.types import Message, Update
from aiohttp import web

from bot.config import TELEGRAM_API_URL
from bot.telegram.channel import create_bot


async def serve(port: int, api_url: str, token: str) -> None:
    bot = create_bot(token, api_url, default_api_url=TELEGRAM_API_URL)
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message, bot: Bot) -> None:
        await bot.send_message(message.chat.id, message.text or "")

    async def webhook(request: web.Request) -> web.Response:
        update = Update.model_validate(json.loads(await request.read()), context={"bot": bot})
        await dispatcher.feed_update(bot, update)
        return web.json_response({"ok": True})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post("/telegram/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        await bot.session.close()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
