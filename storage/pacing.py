"""Whether a messenger is slowing the delivery engine down right now, shared through the
database: the engine runs in the elected process, the progress message may be rendered by
another one. One ``app_settings`` row per channel (``pacing:telegram``, ``pacing:viber``),
written on each 429 (Viber: status 12) — rare by design — and read with the progress."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AppSetting
from storage.vocabulary import parse_aware

PREFIX = "pacing:"


@dataclass(frozen=True, slots=True)
class Throttle:
    channel: str
    # The messenger's own retry_after, and when the pause it asked for ends.
    retry_after: float
    paused_until: datetime
    # The rate the engine resumed at (messages or calls per second).
    rate: float


async def record_throttle(
    session: AsyncSession, *, channel: str, retry_after: float, now: datetime, rate: float
) -> None:
    until = now + timedelta(seconds=retry_after)
    value = {"retry_after": retry_after, "paused_until": until.isoformat(), "rate": rate}
    setting = await session.get(AppSetting, PREFIX + channel)
    if setting is None:
        session.add(AppSetting(key=PREFIX + channel, value=value))
    else:
        setting.value = value
    await session.flush()


async def current_throttles(
    session: AsyncSession, *, now: datetime, grace: timedelta = timedelta(0)
) -> list[Throttle]:
    """The channels paused by their messenger at ``now`` (or less than ``grace`` ago: a pause of
    one second would otherwise rarely be seen by a message edited every few seconds)."""
    rows = await session.scalars(select(AppSetting).where(AppSetting.key.startswith(PREFIX)))
    found = []
    for row in rows:
        try:
            until = parse_aware(str(row.value["paused_until"]))
            throttle = Throttle(
                channel=row.key.removeprefix(PREFIX),
                retry_after=float(row.value["retry_after"]),
                paused_until=until,
                rate=float(row.value.get("rate", 0.0)),
            )
        except (KeyError, TypeError, ValueError):
            continue
        if until + grace > now:
            found.append(throttle)
    return sorted(found, key=lambda throttle: throttle.channel)
