"""A file staff attach to an answer in the browser: read from the form (bounded), its type
sniffed from its bytes (never trusted from the browser), kept in the database as a
``KeptFile`` (ref ``kept:<id>``), so both messengers fetch it through a signed link and the
Telegram topic gets the bytes uploaded.

Only what a resident can open safely is taken: JPEG and PNG photos (sent as pictures), PDF,
office documents (OOXML/ODF zips, the old OLE formats) and plain UTF-8 text as documents.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import unquote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.desk.context import Handler
from handlers.staff.tickets.context import Attachment
from storage import kept_files
from storage.models import KeptFile

# The largest file: what Telegram fetches by URL for a photo is 5 MB (20 MB for others);
# one limit keeps it simple for staff.
UPLOAD_MAX: Final = 5 * 1024 * 1024
# The whole form: the file and the text fields around it. Twice the file limit, so a file
# somewhat too large gets the page's own clear answer (with the text kept), not a bare 413.
FORM_MAX: Final = 2 * UPLOAD_MAX + 256 * 1024
CHANNEL: Final = "desk"
PHOTOS: Final = frozenset({"image/jpeg", "image/png"})

# Why an upload was refused (catalog keys via ``bot.desk.refusals``).
TOO_LARGE = "file_too_large"
BAD_TYPE = "file_type"


class UploadRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True, slots=True)
class Upload:
    kind: str
    name: str
    mime: str
    data: bytes


@web.middleware
async def upload_size_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A multipart form (an answer with a file) may be larger than the server's 1 MB for
    webhooks; everything else keeps that limit."""
    if request.method == "POST" and request.content_type == "multipart/form-data":
        request = request.clone(client_max_size=FORM_MAX)
    return await handler(request)


def sniff(data: bytes) -> str | None:
    """The type a file really is, or None for a type not taken."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"PK\x03\x04"):
        return "application/zip"  # .docx, .xlsx, .odt…
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"  # .doc, .xls
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:
        return None
    return "text/plain"


def safe_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "._- " else "_" for ch in name).strip(" .")
    return cleaned[:128] or "file"


def read(field: web.FileField) -> Upload | None:
    """The posted file, checked; None when no file was chosen."""
    data = field.file.read(UPLOAD_MAX + 1)
    if not data and not field.filename:
        return None
    if len(data) > UPLOAD_MAX:
        raise UploadRefused(TOO_LARGE)
    mime = sniff(data) if data else None
    if mime is None:
        raise UploadRefused(BAD_TYPE)
    kind = "photo" if mime in PHOTOS else "document"
    # aiohttp hands a name sent as ``filename*=utf-8''…`` still percent-encoded.
    name = unquote(field.filename or "file")
    return Upload(kind=kind, name=safe_name(name), mime=mime, data=data)


async def keep(
    sessionmaker: async_sessionmaker[AsyncSession], upload: Upload, *, staff_id: int, now: datetime
) -> Attachment:
    """Store the file; the attachment the core sends refers to the kept copy."""
    async with sessionmaker() as session, session.begin():
        file_id = await kept_files.add(
            session,
            channel=CHANNEL,
            external_id=f"staff:{staff_id}",
            update_key=secrets.token_urlsafe(24),
            kind=upload.kind,
            file_name=upload.name,
            mime_type=upload.mime,
            content=upload.data,
            now=now,
        )
    return Attachment(upload.kind, kept_files.ref_of(file_id), upload.name)


async def discard(sessionmaker: async_sessionmaker[AsyncSession], attachment: Attachment) -> None:
    """A kept upload whose answer was refused: nothing refers to it."""
    file_id = kept_files.id_of(attachment.ref)
    if file_id is None:
        return
    async with sessionmaker() as session, session.begin():
        row = await session.get(KeptFile, file_id)
        if row is not None:
            await session.delete(row)
