"""Working days of the council: statutory holidays, martial law, and counting days.

Pure rules, no database and no I/O. The holiday list itself is data that administrators edit
(a Cabinet order, a change of the law, a lifted martial law must not need a release), so
:class:`WorkCalendar` takes the holidays as an argument; :func:`statutory_holidays` only
produces the list used to SEED that data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# Guards for the bounded loops below. Deadlines count at most a few dozen working days; anything
# beyond these limits is a programming error, not a long deadline.
MAX_WORKING_DAYS = 1000
MAX_SPAN_DAYS = 3660
# How far next_working_day looks before giving up: a year with no working day at all can only
# come from a broken holiday list.
_MAX_SEARCH_DAYS = 366

# Saturday and Sunday are the weekly days off of the council's five-day week (Labour Code
# art. 67 part 1).
_SATURDAY = 5

# Labour Code art. 73 part 1 as amended by Law 3073-IX (2023): 7 January is no longer a holiday,
# Christmas is 25 December, Statehood Day moved to 15 July and Defenders Day to 1 October.
_FIXED_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "Новий рік"),
    (3, 8, "Міжнародний жіночий день"),
    (5, 1, "День праці"),
    (5, 8, "День пам'яті та перемоги над нацизмом у Другій світовій війні 1939–1945 років"),
    (6, 28, "День Конституції України"),
    (7, 15, "День Української Державності"),
    (8, 24, "День незалежності України"),
    (10, 1, "День захисників і захисниць України"),
    (12, 25, "Різдво Христове"),
)
_EASTER_NAME = "Великдень (Пасха)"
_TRINITY_NAME = "Трійця"


def orthodox_easter(year: int) -> date:
    """Gregorian date of Orthodox Easter (the Julian paschalion Ukraine's holiday follows).

    Meeus's Julian algorithm gives the date in the Julian calendar; it is then shifted by the
    Julian–Gregorian difference of that century (13 days in 1900–2099). Easter falls after
    the century's Julian 29 February, so the difference of ``year`` itself is the right one.
    """
    if not 1583 <= year <= 9999:
        # Before 1583 the Gregorian calendar did not exist; past 9999 ``date`` does not.
        raise ValueError(f"year out of range for the Gregorian calendar: {year}")
    a = year % 4
    b = year % 7
    c = year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    julian_to_gregorian = year // 100 - year // 400 - 2
    # The Julian date (month, day + 1) expressed as an offset from the Gregorian date.
    return date(year, month, day + 1) + timedelta(days=julian_to_gregorian)


def _is_weekend(day: date) -> bool:
    return day.weekday() >= _SATURDAY


def statutory_holidays(year: int) -> dict[date, str]:
    """Holidays of ``year`` under Labour Code art. 73, with the days off transferred by art. 67.

    For seeding the administrators' holiday list; these days are non-working only when martial
    law is lifted (see :class:`WorkCalendar`). Easter and Trinity are Sundays (art. 73 part 2:
    "one day (Sunday)"), so they always produce a transferred Monday.

    Art. 67 part 3: when a holiday falls on a weekly day off, the day off moves to the next day
    after the holiday that is a working day. When two holidays compete for the same day (e.g.
    1 May on a Saturday and Easter on 2 May, as in 2021 and 2027), the later one takes the next
    free working day, which is how the transfers were applied in 2021 (3 and 4 May off).
    """
    easter = orthodox_easter(year)
    holidays: dict[date, str] = {date(year, m, d): name for m, d, name in _FIXED_HOLIDAYS}
    holidays[easter] = _EASTER_NAME
    holidays[easter + timedelta(days=49)] = _TRINITY_NAME

    transferred: dict[date, str] = {}
    for day in sorted(holidays):
        if not _is_weekend(day):
            continue
        candidate = day + timedelta(days=1)
        # Bounded: a week always has weekdays, and at most a handful of them can be taken.
        for _ in range(_MAX_SEARCH_DAYS):
            taken = candidate in holidays or candidate in transferred
            if not _is_weekend(candidate) and not taken:
                break
            candidate += timedelta(days=1)
        transferred[candidate] = f"Перенесений вихідний ({holidays[day]})"
    return {**holidays, **transferred}


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days for the council.

    ``holidays`` are the non-working days of the administrators' list (holidays and the days off
    transferred to weekdays). Law 2136-IX "On the organisation of labour relations under martial
    law" (as amended by Law 2352-IX) suspends Labour Code art. 73 and art. 67 part 3 while
    martial law lasts, so holidays are ordinary working days then: they count as non-working
    only when ``martial_law`` is False. Weekends are never working days.
    """

    holidays: frozenset[date]
    martial_law: bool = True

    def is_working_day(self, day: date) -> bool:
        if _is_weekend(day):
            return False
        return self.martial_law or day not in self.holidays

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after ``day``."""
        candidate = day + timedelta(days=1)
        for _ in range(_MAX_SEARCH_DAYS):
            if self.is_working_day(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise ValueError(f"no working day within {_MAX_SEARCH_DAYS} days after {day}")

    def add_working_days(self, day: date, n: int) -> date:
        """The ``n``-th working day after ``day``; ``day`` itself is never counted.

        ``n == 0`` returns ``day`` unchanged (whether or not it is a working day).
        """
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be between 0 and {MAX_WORKING_DAYS}, got {n}")
        result = day
        for _ in range(n):
            result = self.next_working_day(result)
        return result

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in the half-open interval (start, end]; 0 when ``end <= start``."""
        span = (end - start).days
        if span > MAX_SPAN_DAYS:
            raise ValueError(f"span of {span} days exceeds {MAX_SPAN_DAYS}")
        return sum(
            1 for offset in range(1, span + 1) if self.is_working_day(start + timedelta(offset))
        )
