"""FakeViber: the fake Viber REST Bot API, every layer together, and its inspection API."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.sandbox.fakes.viber.protocol import JSONDict
from bot.sandbox.fakes.viber.records import ChatEntry, Delivery
from bot.sandbox.fakes.viber.users import Users


class FakeViber(Users):
    """Fake Viber REST Bot API + simulated users.  See the package docstring."""

    # ------------------------------------------------------------------ inspection

    def _add_routes(self, app: web.Application) -> None:
        app.router.add_post("/pa/{endpoint}", self._dispatch)
        app.router.add_get("/media/{key}/{name}", self._serve_media)

    def deliveries(self, user_id: str) -> list[Delivery]:
        return list(self._deliveries.get(user_id, []))

    def transcript(self, user_id: str) -> list[ChatEntry]:
        """The user's chat as they see it: their messages and the bot's, in order."""
        return list(self._transcripts.get(user_id, []))

    def messages(self, user_id: str) -> list[JSONDict]:
        """Every message the bot got into this user's chat, full JSON payloads, in order."""
        return [d.payload for d in self._deliveries.get(user_id, [])]

    def last_message(self, user_id: str) -> JSONDict:
        messages = self._deliveries.get(user_id)
        if not messages:
            raise LookupError(f"no message was sent to {user_id!r}")
        return messages[-1].payload

    def texts(self, user_id: str) -> list[str]:
        """Convenience: the "text" of each message to the user ("" where absent)."""
        return [str(m.get("text", "")) for m in self.messages(user_id)]

    def calls_to(self, endpoint: str) -> list[JSONDict]:
        return [body for name, body in self.calls if name == endpoint]

    async def wait_for_messages(
        self,
        user_id: str,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - always bounded, see drain()
    ) -> list[JSONDict]:
        """Wait until the user has at least `count` messages; TimeoutError otherwise."""
        try:
            async with asyncio.timeout(timeout):
                while len(self._deliveries.get(user_id, [])) < count:
                    await self._changed.wait()
        except TimeoutError:
            got = self.texts(user_id)
            raise TimeoutError(
                f"user {user_id!r} got {len(got)} of {count} messages within {timeout}s: {got!r}"
            ) from None
        return self.messages(user_id)
