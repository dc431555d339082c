"""The control API tests drive: raw updates, inspection of what the bot did, and waits."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.sandbox.fakes.telegram.constants import JSON
from bot.sandbox.fakes.telegram.records import SimUpdate
from bot.sandbox.fakes.telegram.state import Chat
from bot.sandbox.fakes.telegram.user_actions import UserActions


class Control(UserActions):
    """The control API tests drive: raw updates, inspection of what the bot did, and waits."""

    async def push_update(self, update: Mapping[str, Any]) -> SimUpdate:
        """Inject a raw Update (an ``update_id`` is assigned when missing; duplicates allowed).

        Chat state is not touched: this only delivers what you pass.
        """
        return await self._emit(dict(update))

    def continue_numbering(self, *, update_id: int, message_id: int = 0) -> None:
        """Go on from an earlier run of the same bot, as Telegram's servers do across a bot's
        restarts: the next update is ``update_id`` (or later), and every chat numbers its
        messages after ``message_id``. The bot may have stored ids from that run (claims of
        handled updates, prompts it waits an answer to), which must not come again."""
        self._next_update_id = max(self._next_update_id, update_id)
        self._message_floor = max(self._message_floor, message_id)
        for chat in self._chats.values():
            chat.next_message_id = max(chat.next_message_id, message_id + 1)

    # ================================================================ inspection API

    def _chat_or_none(self, chat_id: int) -> Chat | None:
        return self._chats.get(chat_id)

    def messages(self, chat_id: int) -> list[JSON]:
        """Bot-sent messages currently in the chat (edits applied, deletions removed)."""
        chat = self._chat_or_none(chat_id)
        if chat is None:
            return []
        return [
            copy.deepcopy(stored.data)
            for _mid, stored in sorted(chat.messages.items())
            if stored.from_bot and not stored.service
        ]

    def last_message(self, chat_id: int) -> JSON | None:
        found = self.messages(chat_id)
        return found[-1] if found else None

    def history(self, chat_id: int) -> list[JSON]:
        """Every message in the chat: users', the bot's and service messages."""
        chat = self._chat_or_none(chat_id)
        if chat is None:
            return []
        return [copy.deepcopy(stored.data) for _mid, stored in sorted(chat.messages.items())]

    def message(self, chat_id: int, message_id: int) -> JSON | None:
        chat = self._chat_or_none(chat_id)
        stored = chat.messages.get(message_id) if chat else None
        return copy.deepcopy(stored.data) if stored else None

    def reply_keyboard(self, chat_id: int) -> JSON | None:
        """The ReplyKeyboardMarkup the user currently sees (None after ReplyKeyboardRemove)."""
        chat = self._chat_or_none(chat_id)
        return copy.deepcopy(chat.keyboard) if chat and chat.keyboard else None

    def force_replies(self, chat_id: int) -> dict[int, JSON]:
        """The bot's messages in the chat sent with a ForceReply, and its markup (a client
        opens a reply to the newest of them for the users it applies to)."""
        chat = self._chat_or_none(chat_id)
        if chat is None:
            return {}
        return {
            mid: copy.deepcopy(m) for mid, m in chat.force_replies.items() if mid in chat.messages
        }

    def topics(self, chat_id: int) -> list[JSON]:
        chat = self._chat_or_none(chat_id)
        return [copy.deepcopy(t) for t in chat.topics.values()] if chat else []

    def calls_to(self, method: str) -> list[JSON]:
        """Params of every call of ``method`` (case-insensitive)."""
        wanted = method.lower()
        return [call.params for call in self.calls if call.method.lower() == wanted]

    def is_blocked(self, user_id: int) -> bool:
        user = self._users.get(user_id)
        return bool(user and user.blocked)

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - a plain bounded wait is the API we want
    ) -> list[JSON]:
        """Wait until the chat has at least ``count`` bot messages; TimeoutError otherwise."""
        if not await self._wait_until(lambda: len(self.messages(chat_id)) >= count, timeout):
            have = len(self.messages(chat_id))
            raise TimeoutError(
                f"chat {chat_id}: {have} bot messages after {timeout}s, want {count}"
            )
        return self.messages(chat_id)

    async def wait_for_calls(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109 - a plain bounded wait is the API we want
    ) -> list[JSON]:
        """Wait until ``method`` was called at least ``count`` times; TimeoutError otherwise."""
        if not await self._wait_until(lambda: len(self.calls_to(method)) >= count, timeout):
            have = len(self.calls_to(method))
            raise TimeoutError(f"{method}: {have} calls after {timeout}s, want {count}")
        return self.calls_to(method)
