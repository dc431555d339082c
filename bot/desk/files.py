"""``GET /desk/files/{message_id}``: the file of a ticket's message, for signed-in staff of the
ticket's department (another department's file is a 404, like its ticket).

Files the bot keeps (a resident's Viber file, a staff upload: ``kept:<id>``) come from the
database; a Telegram file goes through the signed media link (``/media/<token>``), which
fetches it from the Bot API. Only images are shown inline; anything else is a download, and
nothing is sniffed into a page (``nosniff``).
"""

from __future__ import annotations

from aiohttp import web

from bot.desk.context import parts, see_other, visitor
from bot.telegram.files import NOSNIFF, _disposition
from storage import kept_files
from storage.models import TicketMessage
from storage.tickets import get_ticket

# Shown inline in the page (<img>); every other type is a download.
IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})


def routes() -> list[web.RouteDef]:
    return [web.get("/files/{message_id:[0-9]{1,18}}", serve)]


async def serve(request: web.Request) -> web.StreamResponse:
    desk, found = parts(request), visitor(request)
    message_id = int(request.match_info["message_id"])
    async with desk.sessionmaker() as session:
        message = await session.get(TicketMessage, message_id)
        ticket = (
            await get_ticket(session, ticket_id=message.ticket_id) if message is not None else None
        )
        departments = found.departments
        if (
            message is None
            or ticket is None
            or (departments is not None and ticket.queue_code not in departments)
            or not message.attachment_ref
        ):
            raise web.HTTPNotFound(text="404: no such file", headers=NOSNIFF)
        ref = message.attachment_ref
        kept = kept_files.id_of(ref)
        row = await kept_files.load(session, kept) if kept is not None else None
        if row is not None:
            content, mime, name = row.content, row.mime_type, row.file_name
    if kept is not None:
        if row is None:
            raise web.HTTPGone(text="410: the file was erased", headers=NOSNIFF)
        content_type = mime if mime in IMAGES else "application/octet-stream"
        disposition = _disposition(content_type, name or message.attachment_name or "file")
        return web.Response(
            body=content,
            headers={
                "Content-Type": content_type,
                "Cache-Control": "private, no-store",
                **NOSNIFF,
                **disposition,
            },
        )
    if desk.media is None or not desk.telegram_files or ref.startswith(("http://", "https://")):
        raise web.HTTPNotFound(text="404: the file cannot be opened here", headers=NOSNIFF)
    # A Telegram file: through the signed link's proxy on our own server.
    return see_other(desk.media.url(ref))
