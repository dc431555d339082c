"""A reply as the messages it goes out as.

A long text is several messages in a messenger, and a file whose text is too long for its
caption is sent alone before the text. Delivering message by message lets a reply interrupted
half-way (a 429, an outage) resume at the first message not sent instead of starting again
(the resident would get the first parts twice)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from messaging.contract import RateLimited, Reply

log = logging.getLogger(__name__)

T = TypeVar("T")

# Waiting out a short 429 inline is fine for an interactive answer; a longer pause is not
# (what was not sent is left to the owed-replies job, or shown to staff as not delivered).
MAX_INLINE_RETRY_AFTER = 5.0
# 429s waited out in a row for one message.
MAX_INLINE_RETRIES = 5


def split_reply(
    reply: Reply,
    *,
    split: Callable[[str], list[str]],
    caption_fits: Callable[[Reply], bool],
) -> tuple[Reply, ...]:
    """``reply`` as one ``Reply`` per message, in order, the buttons on the last; a reply that
    is one message already is returned as it is.

    ``split`` cuts a markup text into message-sized markup texts; ``caption_fits`` says whether
    a reply with media can carry its text as the media's caption."""
    if reply.media is not None and caption_fits(reply):
        return (reply,)
    texts = split(reply.text) if reply.text else []
    if reply.media is None and len(texts) <= 1:
        return (reply,)
    head: tuple[Reply, ...] = ()
    if reply.media is not None:
        head = (Reply(text="", media=reply.media),)
    if not texts:
        return (Reply(text="", media=reply.media, buttons=reply.buttons, keyboard=reply.keyboard),)
    body = tuple(Reply(text=text) for text in texts[:-1])
    last = Reply(text=texts[-1], buttons=reply.buttons, keyboard=reply.keyboard)
    return (*head, *body, last)


async def patiently(call: Callable[[], Awaitable[T]]) -> T:
    """Make one messenger call, waiting out a few short 429s (``retry_after`` up to 5 s)."""
    for attempt in range(MAX_INLINE_RETRIES):
        try:
            return await call()
        except RateLimited as error:
            if error.retry_after > MAX_INLINE_RETRY_AFTER:
                raise
            log.info(
                "429 on %s, retry after %ss (attempt %d)",
                error.channel,
                error.retry_after,
                attempt + 1,
            )
            await asyncio.sleep(error.retry_after)
    return await call()
