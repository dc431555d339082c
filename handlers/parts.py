"""A reply as the messages it goes out as.

A long text is several messages in a messenger, and a file whose text is too long for its
caption is sent alone before the text. Delivering message by message lets a reply interrupted
half-way (a 429, an outage) resume at the first message not sent instead of starting again
(the resident would get the first parts twice)."""

from __future__ import annotations

from collections.abc import Callable

from handlers.contract import Reply


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
