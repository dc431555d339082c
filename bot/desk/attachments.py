"""A photo or document attached to news in the browser.

A file composed in the Telegram chat is a Telegram ``file_id``, which Viber fetches through our
signed media link (``handlers.staff.media``). A file uploaded to the web desk has no file_id, so
the bot keeps it in its database (``storage.kept_files``, ``kept:<id>``, as the files residents
send through Viber) and the news item carries a signed link to it on the same route: Telegram
and Viber both fetch media by URL. The link lives long enough for news scheduled up to a year
ahead. The type is what the bytes are (sniffed), never what the browser said: a photo is JPEG
or PNG, a document is PDF (what Telegram takes by URL); sizes within what each takes by URL.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.sandbox.uploads import sniff
from handlers.staff.media import MediaLinks
from messaging.contract import FILE_NAME_MAX
from messaging.i18n import N_
from messaging.text import clean_text, clip_file_name
from storage import kept_files

# A form with a file may be this big (the file and the text).
UPLOAD_MAX: Final = 21 * 1024 * 1024
# Telegram fetches photos by URL up to 5 MB and other files up to 20 MB.
PHOTO_MAX: Final = 5 * 1024 * 1024
DOCUMENT_MAX: Final = 20 * 1024 * 1024
PHOTOS: Final = frozenset({"image/jpeg", "image/png"})
DOCUMENTS: Final = frozenset({"application/pdf"})
# The scheduling horizon (a year) and a margin for retries.
LINK_TTL: Final = timedelta(days=400)
CHANNEL: Final = "desk"


@dataclass(frozen=True, slots=True)
class Problem:
    key: str


Media = tuple[str, str, str | None]


def uploaded(form: Any) -> web.FileField | None:
    field = form.get("file")
    if isinstance(field, web.FileField) and field.filename:
        return field
    return None


def close_files(form: Any) -> None:
    """aiohttp spools uploaded files to temporary files: closed once the form is handled."""
    for value in form.values():
        if isinstance(value, web.FileField):
            value.file.close()


async def keep(
    session: AsyncSession,
    field: web.FileField,
    *,
    links: MediaLinks | None,
    staff_id: int,
    now: datetime,
) -> Media | Problem:
    """Keep the uploaded file; the media a news item carries, or what is wrong with it."""
    if links is None:
        return Problem(N_("desk.news.file_no_links"))
    data = field.file.read(DOCUMENT_MAX + 1)
    if not data:
        return Problem(N_("desk.news.file_empty"))
    mime = sniff(data)
    if mime in PHOTOS:
        kind, limit = "photo", PHOTO_MAX
    elif mime in DOCUMENTS:
        kind, limit = "document", DOCUMENT_MAX
    else:
        return Problem(N_("desk.news.file_type"))
    if len(data) > limit:
        return Problem(N_("desk.news.file_big"))
    name = clip_file_name(clean_text(field.filename), FILE_NAME_MAX) or None
    kept = await kept_files.add(
        session,
        channel=CHANNEL,
        external_id=str(staff_id),
        update_key=uuid.uuid4().hex,
        kind=kind,
        file_name=name,
        mime_type=mime,
        content=data,
        now=now,
    )
    url = links.lasting(LINK_TTL).url(kept_files.ref_of(kept))
    return kind, url, name if kind == "document" else None
