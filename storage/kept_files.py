"""Files residents sent through Viber, kept by the bot (``storage.models.KeptFile``).

Viber hands a bot a media URL that stops working after a while, so the file is downloaded when
it arrives and the copy is what the rest of the bot refers to: an attachment's ref is
``kept:<id>``. Repositories here never commit: the caller's transaction does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from storage.models import KeptFile, TicketMessage

KEPT_PREFIX: Final = "kept:"
# The largest file kept: what a bot may upload to Telegram (50 MB), so staff always get the
# file itself in their chat. Viber lets people send bigger files (up to 200 MB); those are
# refused with a clear answer before anything is downloaded.
MAX_BYTES: Final = 50 * 1024 * 1024


def ref_of(file_id: int) -> str:
    return f"{KEPT_PREFIX}{file_id}"


def id_of(ref: str | None) -> int | None:
    """The kept file an attachment ref names, or None for a messenger's own ref."""
    if not ref or not ref.startswith(KEPT_PREFIX):
        return None
    digits = ref[len(KEPT_PREFIX) :]
    return int(digits) if digits.isascii() and digits.isdigit() and len(digits) < 19 else None


async def find_for_update(session: AsyncSession, *, channel: str, update_key: str) -> int | None:
    """The copy kept from this delivery already (a redelivered callback), if any."""
    query = select(KeptFile.id).where(
        KeptFile.channel == channel, KeptFile.update_key == update_key
    )
    return (await session.execute(query)).scalar_one_or_none()


async def add(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    update_key: str,
    kind: str,
    file_name: str | None,
    mime_type: str | None,
    content: bytes,
    now: datetime,
) -> int:
    if len(content) > MAX_BYTES:
        raise ValueError("file larger than MAX_BYTES")
    row = KeptFile(
        channel=channel,
        external_id=external_id,
        update_key=update_key,
        kind=kind,
        file_name=file_name,
        mime_type=mime_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row.id


async def load(session: AsyncSession, file_id: int) -> KeptFile | None:
    """A kept file with its bytes."""
    query = select(KeptFile).where(KeptFile.id == file_id).options(undefer(KeptFile.content))
    return (await session.execute(query)).scalar_one_or_none()


async def erase_owner(session: AsyncSession, *, channel: str, external_id: str) -> int:
    """Delete every file a resident sent (``/forget``); returns how many."""
    result = await session.execute(
        delete(KeptFile).where(KeptFile.channel == channel, KeptFile.external_id == external_id)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def erase_unreferenced(session: AsyncSession, refs: Iterable[str | None]) -> int:
    """Delete the kept files these attachment refs named that no ticket message names any more
    (the retention job, after erasing the threads); returns how many."""
    ids = {file_id for file_id in map(id_of, refs) if file_id is not None}
    if not ids:
        return 0
    named = await session.scalars(
        select(TicketMessage.attachment_ref).where(
            TicketMessage.attachment_ref.in_([ref_of(file_id) for file_id in ids])
        )
    )
    still = {id_of(ref) for ref in named}
    gone = sorted(ids - still)
    if not gone:
        return 0
    result = await session.execute(delete(KeptFile).where(KeptFile.id.in_(gone)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
