"""Orthodox Easter, the statutory holiday list, and counting working days.

Every expected date below was worked out by hand from a printed calendar, not by the code under
test. 2026: 1 Jan is a Thursday; 2027: 1 Jan is a Friday.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from storage.calendar import WorkCalendar, orthodox_easter, statutory_holidays

# The 2026 list by hand: holidays of Labour Code art. 73 plus the Mondays art. 67 part 3 gives
# for those falling on a weekend (8 Mar, Easter, Trinity and 28 Jun are Sundays in 2026).
HOLIDAYS_2026 = {
    date(2026, 1, 1): "Новий рік",
    date(2026, 3, 8): "Міжнародний жіночий день",
    date(2026, 3, 9): "Перенесений вихідний (Міжнародний жіночий день)",
    date(2026, 4, 12): "Великдень (Пасха)",
    date(2026, 4, 13): "Перенесений вихідний (Великдень (Пасха))",
    date(2026, 5, 1): "День праці",
    date(2026, 5, 8): (
        "День пам'яті та перемоги над нацизмом у Другій світовій війні 1939–1945 років"
    ),
    date(2026, 5, 31): "Трійця",
    date(2026, 6, 1): "Перенесений вихідний (Трійця)",
    date(2026, 6, 28): "День Конституції України",
    date(2026, 6, 29): "Перенесений вихідний (День Конституції України)",
    date(2026, 7, 15): "День Української Державності",
    date(2026, 8, 24): "День незалежності України",
    date(2026, 10, 1): "День захисників і захисниць України",
    date(2026, 12, 25): "Різдво Христове",
}

MARTIAL = WorkCalendar(frozenset(HOLIDAYS_2026), martial_law=True)
PEACE = WorkCalendar(frozenset(HOLIDAYS_2026), martial_law=False)


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        (2021, date(2021, 5, 2)),
        (2022, date(2022, 4, 24)),
        (2023, date(2023, 4, 16)),
        (2024, date(2024, 5, 5)),
        (2025, date(2025, 4, 20)),
        (2026, date(2026, 4, 12)),
        (2027, date(2027, 5, 2)),
    ],
    ids=lambda value: str(value),
)
def test_orthodox_easter_known_dates(year: int, expected: date) -> None:
    assert orthodox_easter(year) == expected


def test_orthodox_easter_is_always_a_sunday_in_the_julian_window() -> None:
    for year in range(1900, 2200):
        easter = orthodox_easter(year)
        assert easter.weekday() == 6, year
        # Julian 22 March – 25 April is Gregorian 4 April – 8 May in 1900–2099 and one day
        # later from 2100.
        assert date(year, 4, 3) <= easter <= date(year, 5, 9), year


@pytest.mark.parametrize("year", [1582, 10000])
def test_orthodox_easter_rejects_years_outside_the_gregorian_range(year: int) -> None:
    with pytest.raises(ValueError, match="year out of range"):
        orthodox_easter(year)


def test_statutory_holidays_2026_with_transfers() -> None:
    assert statutory_holidays(2026) == HOLIDAYS_2026


def test_statutory_holidays_2027_colliding_transfers() -> None:
    # 1 May 2027 is a Saturday and Easter is Sunday 2 May: the two days off go to Monday 3 and
    # Tuesday 4 May (as in 2021). 8 May and 25 Dec are Saturdays, Trinity is Sunday 20 June.
    holidays = statutory_holidays(2027)
    assert sorted(holidays) == [
        date(2027, 1, 1),
        date(2027, 3, 8),
        date(2027, 5, 1),
        date(2027, 5, 2),
        date(2027, 5, 3),
        date(2027, 5, 4),
        date(2027, 5, 8),
        date(2027, 5, 10),
        date(2027, 6, 20),
        date(2027, 6, 21),
        date(2027, 6, 28),
        date(2027, 7, 15),
        date(2027, 8, 24),
        date(2027, 10, 1),
        date(2027, 12, 25),
        date(2027, 12, 27),
    ]
    assert holidays[date(2027, 5, 3)] == "Перенесений вихідний (День праці)"
    assert holidays[date(2027, 5, 4)] == "Перенесений вихідний (Великдень (Пасха))"
    assert holidays[date(2027, 12, 27)] == "Перенесений вихідний (Різдво Христове)"


def test_statutory_holidays_no_longer_include_7_january_or_old_dates() -> None:
    # Law 3073-IX (2023): Christmas only on 25 Dec; Statehood Day 15 Jul (was 28 Jul);
    # Defenders Day 1 Oct (was 14 Oct).
    holidays = statutory_holidays(2026)
    for old in (date(2026, 1, 7), date(2026, 7, 28), date(2026, 10, 14)):
        assert old not in holidays


@pytest.mark.parametrize(
    ("calendar", "day", "expected"),
    [
        pytest.param(MARTIAL, date(2026, 2, 6), True, id="friday"),
        pytest.param(MARTIAL, date(2026, 2, 7), False, id="saturday"),
        pytest.param(MARTIAL, date(2026, 2, 8), False, id="sunday"),
        pytest.param(MARTIAL, date(2026, 8, 24), True, id="independence-day-martial"),
        pytest.param(PEACE, date(2026, 8, 24), False, id="independence-day-peace"),
        pytest.param(PEACE, date(2026, 4, 13), False, id="easter-transfer-peace"),
        pytest.param(MARTIAL, date(2026, 4, 13), True, id="easter-transfer-martial"),
        pytest.param(PEACE, date(2026, 4, 12), False, id="easter-sunday-peace"),
        pytest.param(MARTIAL, date(2026, 4, 12), False, id="easter-sunday-martial"),
        pytest.param(PEACE, date(2026, 1, 7), True, id="7-january-peace"),
    ],
)
def test_is_working_day(calendar: WorkCalendar, day: date, expected: bool) -> None:
    assert calendar.is_working_day(day) is expected


@pytest.mark.parametrize(
    ("calendar", "day", "expected"),
    [
        pytest.param(MARTIAL, date(2026, 2, 6), date(2026, 2, 9), id="friday-to-monday"),
        pytest.param(MARTIAL, date(2026, 2, 9), date(2026, 2, 10), id="strictly-after"),
        pytest.param(MARTIAL, date(2026, 2, 7), date(2026, 2, 9), id="saturday-to-monday"),
        pytest.param(MARTIAL, date(2026, 8, 21), date(2026, 8, 24), id="24-aug-martial"),
        pytest.param(PEACE, date(2026, 8, 21), date(2026, 8, 25), id="24-aug-peace"),
        pytest.param(PEACE, date(2026, 5, 29), date(2026, 6, 2), id="trinity-monday-peace"),
        pytest.param(PEACE, date(2025, 12, 31), date(2026, 1, 2), id="new-year-peace"),
    ],
)
def test_next_working_day(calendar: WorkCalendar, day: date, expected: date) -> None:
    assert calendar.next_working_day(day) == expected


def test_next_working_day_gives_up_on_a_broken_holiday_list() -> None:
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(400))
    broken = WorkCalendar(every_day, martial_law=False)
    with pytest.raises(ValueError, match="no working day"):
        broken.next_working_day(date(2026, 1, 1))
    # Under martial law the same list is ignored, so the calendar still works.
    assert WorkCalendar(every_day).next_working_day(date(2026, 1, 1)) == date(2026, 1, 2)


@pytest.mark.parametrize(
    ("calendar", "day", "n", "expected"),
    [
        pytest.param(MARTIAL, date(2026, 2, 6), 0, date(2026, 2, 6), id="zero-is-same-day"),
        pytest.param(MARTIAL, date(2026, 2, 7), 0, date(2026, 2, 7), id="zero-on-saturday"),
        pytest.param(MARTIAL, date(2026, 2, 6), 1, date(2026, 2, 9), id="one-from-friday"),
        # 2 Jan 2026 is a Friday; 7 Jan is no longer a holiday.
        pytest.param(PEACE, date(2026, 1, 2), 5, date(2026, 1, 9), id="five-over-7-january"),
        pytest.param(MARTIAL, date(2026, 4, 10), 1, date(2026, 4, 13), id="easter-martial"),
        pytest.param(PEACE, date(2026, 4, 10), 1, date(2026, 4, 14), id="easter-peace"),
        pytest.param(MARTIAL, date(2026, 4, 10), 5, date(2026, 4, 17), id="5-easter-martial"),
        pytest.param(PEACE, date(2026, 4, 10), 5, date(2026, 4, 20), id="5-easter-peace"),
        # 3 Mar 2026 (Tue) + 20: Mar 4-6 (3), 9-13 (8), 16-20 (13), 23-27 (18), 30, 31 (20).
        pytest.param(MARTIAL, date(2026, 3, 3), 20, date(2026, 3, 31), id="twenty-martial"),
        # Peace: 9 Mar is the transferred Women's Day, so one more day: 1 Apr.
        pytest.param(PEACE, date(2026, 3, 3), 20, date(2026, 4, 1), id="twenty-peace"),
    ],
)
def test_add_working_days(calendar: WorkCalendar, day: date, n: int, expected: date) -> None:
    assert calendar.add_working_days(day, n) == expected


@pytest.mark.parametrize("n", [-1, 1001], ids=["negative", "absurd"])
def test_add_working_days_rejects_bad_counts(n: int) -> None:
    with pytest.raises(ValueError, match="working days must be between"):
        MARTIAL.add_working_days(date(2026, 1, 1), n)


def test_add_working_days_accepts_the_upper_bound() -> None:
    # 1000 working days = 200 full weeks after a Friday: the Friday 1400 days later.
    assert MARTIAL.add_working_days(date(2026, 1, 2), 1000) == date(2026, 1, 2) + timedelta(
        days=1400
    )


@pytest.mark.parametrize(
    ("calendar", "start", "end", "expected"),
    [
        pytest.param(MARTIAL, date(2026, 1, 2), date(2026, 1, 9), 5, id="one-week"),
        pytest.param(MARTIAL, date(2026, 1, 2), date(2026, 1, 2), 0, id="empty"),
        pytest.param(MARTIAL, date(2026, 1, 9), date(2026, 1, 2), 0, id="reversed"),
        pytest.param(MARTIAL, date(2026, 2, 6), date(2026, 2, 8), 0, id="weekend-only"),
        pytest.param(MARTIAL, date(2026, 2, 6), date(2026, 2, 9), 1, id="end-included"),
        pytest.param(MARTIAL, date(2026, 4, 10), date(2026, 4, 17), 5, id="easter-martial"),
        pytest.param(PEACE, date(2026, 4, 10), date(2026, 4, 17), 4, id="easter-peace"),
        pytest.param(PEACE, date(2025, 12, 31), date(2026, 1, 2), 1, id="new-year-peace"),
    ],
)
def test_working_days_between(
    calendar: WorkCalendar, start: date, end: date, expected: int
) -> None:
    assert calendar.working_days_between(start, end) == expected


def test_working_days_between_rejects_huge_spans() -> None:
    with pytest.raises(ValueError, match="span"):
        MARTIAL.working_days_between(date(2000, 1, 1), date(2026, 1, 1))


def test_calendar_is_immutable_and_hashable() -> None:
    # Hashable by value, so a calendar can key a cache of computed deadlines.
    assert len({MARTIAL, PEACE, WorkCalendar(frozenset(HOLIDAYS_2026))}) == 2
    with pytest.raises(AttributeError):
        MARTIAL.martial_law = False  # type: ignore[misc]
