"""``/news`` (and the menu's News button): the latest news items a resident is targeted by.

The items are the newest published news (being sent or sent; not drafts, scheduled or cancelled
ones) matching the resident's topics, district and messenger by the rules of the broadcasts'
audience, whatever their digest preference or subscription, dated in the council's time zone.
Each item's text is shown as residents got it (stored markup, people's input already escaped).

The items are packed into as few messages as fit ``PACK_LIMIT`` (below Telegram's 4,096, the
smaller of the two messengers' limits), never splitting an item between messages; a single item
longer than that is a message of its own, which the messenger adapter splits like any push.
"""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import screens
from messaging.contract import Reply
from messaging.i18n import Catalog, Markup
from storage.digests import NewsItem, Reader, latest_news
from storage.models import Resident

LATEST_COUNT = 5
PACK_LIMIT = 4000


def _item(catalog: Catalog, lang: str, item: NewsItem, zone: ZoneInfo) -> Markup:
    return catalog.text(
        lang,
        "latest.item",
        when=item.published_at.astimezone(zone).strftime("%d.%m.%Y %H:%M"),
        urgent=catalog.text(lang, "latest.urgent") if item.urgent else Markup(""),
        text=Markup(item.text),
    )


def pack(paragraphs: Sequence[str], limit: int = PACK_LIMIT) -> list[str]:
    """Join paragraphs with blank lines into texts of at most ``limit`` characters where
    possible, keeping each paragraph whole."""
    texts: list[str] = []
    current = ""
    for paragraph in paragraphs:
        candidate = f"{current}\n\n{paragraph}" if current else paragraph
        if current and len(candidate) > limit:
            texts.append(current)
            current = paragraph
        else:
            current = candidate
    if current:
        texts.append(current)
    return texts


async def latest_screen(
    session: AsyncSession,
    *,
    catalog: Catalog,
    resident: Resident,
    zone: ZoneInfo,
    channel: str | None = None,
) -> list[Reply]:
    """``channel``: the messenger asking, when not the resident's own (a linked person)."""
    lang = resident.language
    reader = Reader(
        channel=channel or resident.channel,
        district=resident.district,
        topics=resident.topic_codes,
    )
    items = await latest_news(session, reader=reader, limit=LATEST_COUNT)
    if items:
        paragraphs = [catalog.text(lang, "latest.title")]
        paragraphs.extend(_item(catalog, lang, item, zone) for item in items)
        texts = pack(paragraphs)
    else:
        texts = [catalog.text(lang, "latest.empty")]
    replies = [Reply(text=text) for text in texts[:-1]]
    last = Markup(texts[-1])
    if resident.onboarded_at is None:
        replies.append(Reply(text=last))
    else:
        # The last message carries the main menu (Viber shows the keyboard of the last one).
        replies.append(screens.main_menu(catalog, resident, last))
    return replies
