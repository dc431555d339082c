"""Quiet hours: a daily window of council (wall-clock) time in which non-urgent pushes wait.

The window is given as ``HH:MM-HH:MM`` in the council's time zone and may cross midnight
(``22:00-08:00``, the default). Comparing local wall-clock times makes it follow daylight saving
time: the quiet night ends at 08:00 Kyiv time in winter (06:00 UTC) and in summer (05:00 UTC).
The delivery engine asks ``contains(now)`` at every claim: while it is quiet only urgent
broadcasts are claimed, and the other deliveries simply stay pending until the window ends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(value: str) -> tuple[time, time] | None:
    """``"22:00-08:00"`` -> (22:00, 08:00); an empty value -> None (no quiet hours).
    Raises ValueError with a readable reason otherwise."""
    if not value.strip():
        return None
    match = _WINDOW.match(value)
    if match is None:
        raise ValueError(f"must be HH:MM-HH:MM (or empty to disable), got {value!r}")
    hour1, minute1, hour2, minute2 = (int(group) for group in match.groups())
    if hour1 > 23 or hour2 > 23 or minute1 > 59 or minute2 > 59:
        raise ValueError(f"is not a valid time window, got {value!r}")
    start, end = time(hour1, minute1), time(hour2, minute2)
    if start == end:
        raise ValueError(f"starts and ends at the same time (leave it empty to disable): {value!r}")
    return start, end


@dataclass(frozen=True, slots=True)
class QuietHours:
    start: time
    end: time
    zone: ZoneInfo

    @classmethod
    def parse(cls, value: str, zone: ZoneInfo) -> QuietHours | None:
        window = parse_window(value)
        return None if window is None else cls(window[0], window[1], zone)

    def contains(self, now: datetime) -> bool:
        """Whether ``now`` (timezone-aware) falls inside the window; the start is inside, the end
        is not."""
        local = now.astimezone(self.zone).time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def ends_after(self, now: datetime) -> datetime | None:
        """When the current quiet period ends (None if it is not quiet now)."""
        if not self.contains(now):
            return None
        local = now.astimezone(self.zone)
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.end and self.start > self.end:
            day += timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=self.zone)
