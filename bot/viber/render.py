"""``Reply`` -> Viber message dicts, built with viberbot's message classes."""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from viberbot.api.messages import FileMessage, PictureMessage, TextMessage

from handlers.parts import split_reply
from messaging.contract import Reply
from messaging.text import markup_to_plain, split_text

# Viber's limit for a text message, in characters...
TEXT_LIMIT = 7000
# ...and for a whole request, 30 KB: the text's UTF-8 bytes stay well under it so the keyboard
# and the envelope fit too (7,000 emoji would be 28 KB).
TEXT_BYTES_LIMIT = 24_000
# A picture's description.
PICTURE_TEXT_LIMIT = 120
# Buttons in a Viber keyboard row share six columns.
ROW_COLUMNS = 6
# A pressed button arrives as a text message carrying its ActionBody; the prefix tells a press
# from typed text.
ACTION_PREFIX = "act:"


def keyboard(reply: Reply) -> dict[str, Any] | None:
    if not reply.buttons:
        return None
    buttons: list[dict[str, Any]] = []
    for row in reply.buttons:
        columns = max(1, ROW_COLUMNS // len(row))
        for button in row:
            buttons.append(
                {
                    "Columns": columns,
                    "Rows": 1,
                    "ActionType": "reply",
                    "ActionBody": ACTION_PREFIX + button.action,
                    # Viber renders a little HTML in button text.
                    "Text": html.escape(button.label, quote=False),
                    # Do not echo the ActionBody into the chat as if the resident typed it.
                    "Silent": True,
                }
            )
    return {"Type": "keyboard", "DefaultHeight": False, "Buttons": buttons}


def messages(reply: Reply) -> list[dict[str, Any]]:
    """One or more message dicts (long texts are split; the keyboard goes on the last)."""
    board = keyboard(reply)
    text = markup_to_plain(reply.text)
    result: list[dict[str, Any]] = []
    if reply.media is not None:
        if reply.media.kind == "photo" and len(text) <= PICTURE_TEXT_LIMIT:
            # A picture's description is limited (120 characters); longer text follows it.
            message = PictureMessage(media=reply.media.ref, text=text, keyboard=board)
            return [message.to_dict()]
        if reply.media.kind == "photo":
            result.append(PictureMessage(media=reply.media.ref, text="").to_dict())
        else:
            result.append(
                FileMessage(
                    media=reply.media.ref, size=0, file_name=reply.media.file_name or "document"
                ).to_dict()
            )
    parts = _split(text) if text else []
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        result.append(TextMessage(text=part, keyboard=board if last else None).to_dict())
    if not parts and board is not None and result:
        result[-1]["keyboard"] = board
    return [{k: v for k, v in message.items() if v is not None} for message in result]


def parts(reply: Reply) -> tuple[Reply, ...]:
    """``reply`` as one ``Reply`` per Viber message (``messages`` gives one dict for each)."""
    return split_reply(
        reply,
        # Split as ``messages`` does (on the plain text), then back to markup.
        split=lambda text: [
            html.escape(part, quote=False) for part in _split(markup_to_plain(text))
        ],
        caption_fits=_caption_fits,
    )


def _caption_fits(reply: Reply) -> bool:
    text = markup_to_plain(reply.text)
    if not text:
        return True
    photo = reply.media is not None and reply.media.kind == "photo"
    return photo and len(text) <= PICTURE_TEXT_LIMIT


def _split(text: str) -> list[str]:
    limit = TEXT_LIMIT
    parts = split_text(text, limit)
    # Shrink the character limit until every part fits the byte budget (at 1,000 characters
    # even 4-byte characters fit, so this ends).
    while any(len(part.encode()) > TEXT_BYTES_LIMIT for part in parts):
        limit = max(1000, limit * 4 // 5)
        parts = split_text(text, limit)
    return parts


def with_public_media(
    to_url: Callable[[str], str] | None,
) -> Callable[[Reply], list[dict[str, Any]]]:
    """``messages`` for replies whose media may be a Telegram ``file_id`` (news composed in the
    operator chat): Viber fetches media from a public URL, so a file_id becomes a signed link to
    our media proxy (``to_url``). Without one (no public URL), the text goes alone."""

    def render(reply: Reply) -> list[dict[str, Any]]:
        media = reply.media
        if media is not None and not media.ref.startswith(("https://", "http://")):
            public = replace(media, ref=to_url(media.ref)) if to_url is not None else None
            reply = replace(reply, media=public)
        return messages(reply)

    return render
