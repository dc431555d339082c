"""Staff correct what media monitoring tagged (``broadcasts.media_monitor``): an item's topic
and tone, whichever desk they use (the web desk's media page, the operator chat's ``/media``,
``citybot media correct``).

Every staff role but the read-only head of department may correct; the audit record keeps the
tags before and after, and the item who corrected it and when. The digest counts the corrected
tags from then on.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.staff.core import WORKERS, Actor, After, Done, Outcome, Reason, Refused, StaffCore
from storage import media_store
from storage.classifier import CATEGORIES
from storage.media_text import TONES
from storage.models import MediaItem


def check_tags(topic: str | None, tone: str | None) -> Refused | None:
    """Why these tags cannot be set (None: they can)."""
    if topic is None and tone is None:
        return Refused(Reason.INVALID, {"field": "topic or tone"})
    if topic is not None and topic not in CATEGORIES:
        return Refused(Reason.INVALID, {"field": "topic", "allowed": ", ".join(CATEGORIES)})
    if tone is not None and tone not in TONES:
        return Refused(Reason.INVALID, {"field": "tone", "allowed": ", ".join(TONES)})
    return None


async def correct_item(
    core: StaffCore,
    actor: Actor,
    item_id: int,
    *,
    topic: str | None = None,
    tone: str | None = None,
    session: AsyncSession | None = None,
    after: list[After] | None = None,
) -> Outcome[MediaItem]:
    """Set the item's topic and/or tone; ``Refused`` for a wrong role, an unknown item or
    tag."""
    async with core.call(actor, roles=WORKERS, session=session, after=after) as call:
        if isinstance(call, Refused):
            return call
        wrong = check_tags(topic, tone)
        if wrong is not None:
            return wrong
        found = await media_store.correct_item(
            call.session,
            item_id=item_id,
            topic=topic,
            tone=tone,
            staff_id=call.staff.id,
            now=call.now,
        )
        if found is None:
            return Refused(Reason.NOT_FOUND, {"item": item_id})
        item, before = found
        call.audit(
            "media.corrected",
            subject=f"media_item:{item.id}",
            before=before,
            after={"topic": item.topic, "tone": item.tone},
        )
        return Done(item)
