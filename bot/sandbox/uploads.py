"""Files a person attaches in the sandbox page: read from a bounded multipart form, kept in
memory (the oldest go first) so the Viber stand-in can fetch them by URL, served back only as
the type they really are."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from bot.sandbox.page_input import TEXT_MAX, BadInput, JSONDict, TooLarge

UPLOAD_MAX_BYTES = 5 * 1024 * 1024
UPLOADS_KEPT = 100
# The file and a few small fields (user, chat, topic, caption): anything beyond is refused.
UPLOAD_MAX_PARTS = 8


@dataclass(frozen=True, slots=True)
class Upload:
    name: str
    content_type: str
    data: bytes


class Uploads:
    """The last UPLOADS_KEPT files, by id."""

    def __init__(self) -> None:
        self._kept: OrderedDict[str, Upload] = OrderedDict()
        self._ids = itertools.count(1)

    def keep(self, upload: Upload) -> str:
        upload_id = str(next(self._ids))
        self._kept[upload_id] = upload
        while len(self._kept) > UPLOADS_KEPT:
            self._kept.popitem(last=False)
        return upload_id

    def get(self, upload_id: str) -> Upload | None:
        return self._kept.get(upload_id)


async def read_upload(request: web.Request) -> tuple[JSONDict, Upload]:
    """Read a multipart form with one ``file`` part and small text fields, bounded."""
    try:
        reader = await request.multipart()
    except (AssertionError, KeyError, ValueError) as error:
        raise BadInput("sandbox.error.not_multipart") from error
    fields: JSONDict = {}
    upload: Upload | None = None
    for _ in range(UPLOAD_MAX_PARTS + 1):
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, BodyPartReader) or part.name is None:
            raise BadInput("sandbox.error.nested_multipart")
        if part.name == "file":
            upload = await _read_file_part(part)
        else:
            fields[part.name] = await _read_text_part(part, part.name)
    else:
        raise TooLarge("sandbox.error.too_many_fields", max=UPLOAD_MAX_PARTS)
    if upload is None:
        raise BadInput("sandbox.error.no_file")
    return fields, upload


def sniff(data: bytes) -> str:
    """The type a file really is, so nothing uploaded is served as HTML or script."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"%PDF"):
        return "application/pdf"
    return "application/octet-stream"


def safe_name(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
    return cleaned.strip(".") or "file"


async def _read_file_part(part: BodyPartReader) -> Upload:
    data = bytearray()
    while chunk := await part.read_chunk():
        data.extend(chunk)
        if len(data) > UPLOAD_MAX_BYTES:
            raise TooLarge("sandbox.error.file_too_large", mb=UPLOAD_MAX_BYTES // 2**20)
    if not data:
        raise BadInput("sandbox.error.file_empty")
    name = part.filename or "file"
    content_type = part.headers.get("Content-Type", "application/octet-stream")
    return Upload(name=name[:128], content_type=content_type, data=bytes(data))


async def _read_text_part(part: BodyPartReader, name: str) -> str:
    # Read in bounded chunks: part.text() would hold any size in memory first.
    raw = bytearray()
    while chunk := await part.read_chunk():
        raw.extend(chunk)
        if len(raw) > TEXT_MAX * 4:  # UTF-8 has at most 4 bytes a character
            raise TooLarge("sandbox.error.field_too_long", label=name)
    try:
        value = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput("sandbox.error.not_utf8", label=name) from error
    if len(value) > TEXT_MAX:
        raise TooLarge("sandbox.error.field_too_long", label=name)
    return value
