"""Replies owed to a resident, in a form that survives the process: JSON on the update's claim.

The pipeline answers a webhook once the update is stored and sends the replies after that. Until
they went out they are written, in the same transaction as the update, on its claim row
(``processed_updates.owed``); a process that dies in between leaves them there, and a job sends
them (``handlers.sending.send_owed``, run by ``bot.schedule``). At least once: a crash after
sending and before clearing sends again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging.contract import Button, KeyboardKind, Media, Reply
from storage import dedup
from storage.errors import TRY_AGAIN_LATER

log = logging.getLogger(__name__)

FORMAT = 1
# Sent replies are recorded together, at most this long after the first of a batch: one UPDATE
# for many updates, off the path of the next reply.
SETTLE_DELAY = 0.2
# Owed replies older than this were left by a process that stopped: a live one sends its own
# within seconds (its outbox holds at most 64 and is drained at shutdown).
OWED_AFTER = timedelta(minutes=2)
OWED_BATCH = 200
# A reply that could not be sent for a day is dropped: that late, it would only confuse.
OWED_GIVE_UP = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Owed:
    """Messages for one resident's messenger account: the replies one update caused, or a
    notice (then no update keeps them)."""

    channel: str
    recipient: str  # the resident's id in their messenger
    replies: tuple[Reply, ...]
    # The message whose button was pressed: a reply that replaces it edits it where it can.
    source_message_id: str | None = None


def reply_to_json(reply: Reply) -> dict[str, Any]:
    out: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        out["buttons"] = [[[b.label, b.action] for b in row] for row in reply.buttons]
    if reply.keyboard is not KeyboardKind.INLINE:
        out["keyboard"] = reply.keyboard.value
    if reply.media is not None:
        out["media"] = [reply.media.kind, reply.media.ref, reply.media.file_name]
    if reply.replace:
        out["replace"] = True
    return out


def reply_from_json(data: dict[str, Any]) -> Reply:
    media = data.get("media")
    return Reply(
        text=str(data["text"]),
        buttons=tuple(
            tuple(Button(label=str(label), action=str(action)) for label, action in row)
            for row in data.get("buttons", ())
        ),
        keyboard=KeyboardKind(data.get("keyboard", KeyboardKind.INLINE.value)),
        media=Media(kind=media[0], ref=media[1], file_name=media[2]) if media else None,
        replace=bool(data.get("replace", False)),
    )


def owed_to_json(owed: Owed) -> dict[str, Any]:
    return {
        "v": FORMAT,
        "to": owed.recipient,
        "source": owed.source_message_id,
        "replies": [reply_to_json(reply) for reply in owed.replies],
    }


def owed_from_json(channel: str, data: dict[str, Any]) -> Owed:
    return Owed(
        channel=channel,
        recipient=str(data["to"]),
        replies=tuple(reply_from_json(item) for item in data.get("replies", ())),
        source_message_id=data.get("source"),
    )


class Settler:
    """Records, in batches, that the replies of updates went out.

    Until recorded, a reply counts as owed: a process that dies first leaves it for the job that
    sends owed replies, which sends it again (at least once, never lost)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._keys: list[tuple[str, str]] = []
        self._task: asyncio.Task[None] | None = None

    def done(self, key: tuple[str, str]) -> None:
        self._keys.append(key)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._flush_later(), name="settle-replies")

    async def _flush_later(self) -> None:
        # Keys that arrive while a batch is being written are not in it: go on until none is
        # left (``done`` starts no task while this one runs). Leaving them would keep sent
        # replies owed, to be sent again by the owed-replies job.
        while self._keys:
            await asyncio.sleep(SETTLE_DELAY)
            await self.flush()

    async def flush(self) -> None:
        keys, self._keys = self._keys, []
        if not keys:
            return
        try:
            async with self._sessionmaker() as session, session.begin():
                await dedup.settle(session, keys=keys)
        except TRY_AGAIN_LATER as error:
            # They stay owed: the job sends them again, which is better than losing them.
            log.warning("could not record %d sent replies: %s", len(keys), error)

    async def close(self) -> None:
        # The pending batch is at most SETTLE_DELAY away; cancelling it mid-write would leave
        # its replies owed, to be sent twice.
        if self._task is not None and not self._task.done():
            await self._task
        await self.flush()
