"""Who a broadcast goes to: toggling its topics, districts and channels (news and polls alike).

A toggle changes the locked ``Broadcast`` row and returns the catalog key of what is wrong with
the request, or None; any desk renders that key in its own way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from messaging.i18n import N_
from storage.models import Broadcast
from storage.planning import audience, recipients_from
from storage.vocabulary import Channel, District, Topic

ALL: Final = "all"
# Districts a broadcast can target: a resident who chose "the whole city" gets every district's
# news anyway, so it is not a target of its own.
TARGET_DISTRICTS: Final = tuple(d for d in District if d is not District.WHOLE_CITY)
# Catalog keys of what is wrong with a toggle.
BAD_BUTTON: Final = "news.bad_button"
ONE_CHANNEL: Final = N_("news.one_channel")


def toggle_channel(broadcast: Broadcast, argument: str) -> str | None:
    """Switch one channel. No channels stored means every channel, and at least one must stay
    chosen."""
    if argument not in {c.value for c in Channel}:
        return BAD_BUTTON
    chosen = set(broadcast.channels or [c.value for c in Channel]) ^ {argument}
    if not chosen:
        return ONE_CHANNEL
    broadcast.channels = [] if len(chosen) == len(Channel) else sorted(chosen)
    return None


def toggle_code(broadcast: Broadcast, argument: str, *, topics: bool) -> str | None:
    """Switch one topic (``topics``) or district, or choose everyone with ``all``."""
    codes = [t.value for t in Topic] if topics else [d.value for d in TARGET_DISTRICTS]
    current = list(broadcast.topics if topics else broadcast.districts)
    if argument == ALL:
        updated: list[str] = []
    elif argument in codes:
        chosen = set(current) ^ {argument}
        # Every code chosen is the same as none: everyone.
        updated = [] if len(chosen) == len(codes) else [c for c in codes if c in chosen]
    else:
        return BAD_BUTTON
    if topics:
        broadcast.topics = updated
    else:
        broadcast.districts = updated
    return None


async def count_audience(session: AsyncSession, broadcast: Broadcast) -> int:
    """How many residents the broadcast would reach now (the planner's own WHERE clause)."""
    result = await session.execute(
        select(func.count()).select_from(recipients_from()).where(audience(broadcast))
    )
    return int(result.scalar_one())


def choose(
    broadcast: Broadcast,
    *,
    topics: Iterable[str],
    districts: Iterable[str],
    channels: Iterable[str],
) -> str | None:
    """Set every target at once (a form with a box per code): nothing or everything chosen means
    everyone; an unknown code is refused, and a broadcast needs at least one channel."""
    all_topics = [t.value for t in Topic]
    all_districts = [d.value for d in TARGET_DISTRICTS]
    all_channels = [c.value for c in Channel]
    chosen_topics, chosen_districts = set(topics), set(districts)
    chosen_channels = set(channels)
    if (
        not chosen_topics <= set(all_topics)
        or not chosen_districts <= set(all_districts)
        or not chosen_channels <= set(all_channels)
    ):
        return BAD_BUTTON
    if not chosen_channels:
        return ONE_CHANNEL

    def kept(chosen: set[str], every: list[str]) -> list[str]:
        return [] if len(chosen) == len(every) else [c for c in every if c in chosen]

    broadcast.topics = kept(chosen_topics, all_topics)
    broadcast.districts = kept(chosen_districts, all_districts)
    broadcast.channels = kept(chosen_channels, all_channels)
    return None
