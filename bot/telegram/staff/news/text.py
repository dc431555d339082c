"""What the editor wrote, as the markup residents get; times typed by editors.

Telegram gives a message's formatting as entities. We keep what both messengers can show
(bold, italic, underline, strikethrough, code, pre: Viber's adapter strips exactly these tags)
and turn the rest into plain text (a link becomes ``text (url)``). Everything typed is escaped, so
``<b>`` typed by an editor reaches residents as ``<b>``, not as bold.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from aiogram.types import Message, MessageEntity
from aiogram.utils.text_decorations import HtmlDecoration

from handlers.staff.broadcasts.news import Content
from messaging.contract import FILE_NAME_MAX
from messaging.i18n import N_
from messaging.text import clean_text, clip_file_name

# Telegram's limit for a message text (characters after entity parsing). Markup adds tags and
# escapes, so the stored markup is held to it too: the adapters split longer texts, and news is
# meant to be one message.
TEXT_MAX = 4096
# A photo's or document's caption.
CAPTION_MAX = 1024
# The catalog key of an empty news text (not a key of its own: the problem is answered apart).
EMPTY = "empty"
# How far ahead news may be scheduled.
SCHEDULE_HORIZON = timedelta(days=366)


class _NewsDecoration(HtmlDecoration):
    def link(self, value: str, link: str) -> str:
        if html.unescape(value) == link:
            return value
        return f"{value} ({html.escape(link, quote=False)})"

    def spoiler(self, value: str) -> str:
        return value

    def custom_emoji(self, value: str, custom_emoji_id: str) -> str:  # noqa: ARG002 - aiogram's
        return value

    def blockquote(self, value: str) -> str:
        return value

    def expandable_blockquote(self, value: str) -> str:
        return value

    def pre_language(self, value: str, language: str) -> str:  # noqa: ARG002 - aiogram's
        return self.pre(value)

    def date_time(
        self,
        value: str,
        unix_time: int | datetime,  # noqa: ARG002 - aiogram's TextDecoration signature
        date_time_format: str | None = None,  # noqa: ARG002 - as above
    ) -> str:
        return value


_DECORATION = _NewsDecoration()
_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]+)?(?:\s+|$)")


def news_markup(text: str, entities: list[MessageEntity] | None, *, command: bool) -> str:
    """The editor's text as markup; ``command``: drop a leading ``/news`` (a bot command entity
    is rendered as plain text, so it can be cut from the markup)."""
    markup = _DECORATION.unparse(text, entities or None)
    if command:
        markup = _COMMAND.sub("", markup, count=1)
    return markup.strip()


class TimeProblem(StrEnum):
    FORMAT = "format"
    PAST = "past"
    TOO_FAR = "too_far"


_TIME = re.compile(r"^\s*(\d{1,2})\.(\d{1,2})(?:\.(\d{4}))?\s+(\d{1,2})[:.](\d{2})\s*$")


def parse_time(text: str, *, now: datetime, zone: ZoneInfo) -> datetime | TimeProblem:
    """``27.11 09:30`` or ``27.11.2026 09:30`` in the council's time zone, as UTC. Without a year,
    the current one (a time already past is refused, not moved to next year: say the year)."""
    match = _TIME.match(text)
    if match is None:
        return TimeProblem.FORMAT
    day, month, year, hour, minute = match.groups()
    local_now = now.astimezone(zone)
    try:
        when = datetime.combine(
            date(int(year) if year else local_now.year, int(month), int(day)),
            time(int(hour), int(minute)),
            tzinfo=zone,
        )
    except ValueError:
        return TimeProblem.FORMAT
    if when <= now:
        return TimeProblem.PAST
    if when - now > SCHEDULE_HORIZON:
        return TimeProblem.TOO_FAR
    return when.astimezone(now.tzinfo)


def shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def content_of(message: Message, *, command: bool) -> Content | str:
    """What the editor sent as a news item, or the catalog key of what is wrong with it."""
    media: tuple[str, str, str | None] | None = None
    if message.photo:
        media = ("photo", message.photo[-1].file_id, None)
    elif message.document is not None:
        name = message.document.file_name
        if name is not None:
            name = clip_file_name(clean_text(name), FILE_NAME_MAX)
        media = ("document", message.document.file_id, name)
    elif message.text is None:
        return N_("news.unsupported")
    if message.text is not None:
        markup = news_markup(message.text, message.entities, command=command)
    else:
        markup = news_markup(message.caption or "", message.caption_entities, command=command)
    # Cleaned after the markup is built: the entities' offsets count the text as it came.
    markup = clean_text(markup)
    if not markup:
        return EMPTY
    # The limit holds for the markup (tags and escapes included): the adapters split longer
    # texts, and a cut inside a tag would fail every delivery. A caption longer than
    # CAPTION_MAX is sent by the adapters as a text after the media.
    if len(markup) > TEXT_MAX:
        return N_("news.too_long")
    return Content(markup=markup, media=media)


def has_media(message: Message) -> bool:
    return bool(message.photo) or message.document is not None
