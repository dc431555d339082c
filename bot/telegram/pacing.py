"""Pacing of messages to one Telegram chat.

Telegram asks bots not to send more than about one message a second to one chat; it tolerates a
short burst over that and answers 429 after it. A long answer (``/mydata``, a split ticket
thread) is several messages in a row, so they are spaced here instead of being refused there:
a burst of ``burst`` messages goes at once, the rest one every ``interval`` seconds.

The schedule is a generic cell-rate algorithm: each chat keeps the time its next message is due
(``due``); a send reserves its slot before it waits, so concurrent senders to one chat queue in
order without a lock. A 429 moves the chat's next slot past its ``retry_after``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

# Telegram: "avoid sending more than one message per second" to a chat; "short bursts" pass.
CHAT_INTERVAL = 1.0
CHAT_BURST = 3
# Chats idle long enough to have their whole burst back are forgotten past this many.
MAX_TRACKED = 10_000


class ChatPacer:
    def __init__(
        self,
        *,
        interval: float = CHAT_INTERVAL,
        burst: int = CHAT_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        # How far ahead of its slot a message may go: the burst minus the message itself.
        self._tolerance = interval * (max(1, burst) - 1)
        self._clock = clock
        self._due: dict[int, float] = {}

    def reserve(self, chat_id: int) -> float:
        """Take the chat's next slot; returns how long to wait before sending (0: now)."""
        now = self._clock()
        due = max(self._due.get(chat_id, now), now)
        wait = max(0.0, due - self._tolerance - now)
        self._due[chat_id] = due + self._interval
        if len(self._due) > MAX_TRACKED:
            self._forget_idle(now)
        return wait

    async def wait(self, chat_id: int) -> None:
        delay = self.reserve(chat_id)
        if delay > 0:
            await asyncio.sleep(delay)

    def hold(self, chat_id: int, retry_after: float) -> None:
        """Telegram refused a message to the chat (429): nothing more goes for ``retry_after``
        seconds, and then one at a time, not a new burst."""
        self._due[chat_id] = max(
            self._due.get(chat_id, 0.0), self._clock() + retry_after + self._tolerance
        )

    def _forget_idle(self, now: float) -> None:
        # A chat whose due time has passed has its whole burst back: same as never seen.
        self._due = {chat: due for chat, due in self._due.items() if due > now}
