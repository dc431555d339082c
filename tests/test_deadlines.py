"""Deadlines per ticket kind: a table of cases worked out by hand from the rules.

Reading aid for the expected values (weekdays from a printed calendar):
- Feb 2026: Mon 2, 9, 16, 23; Mar 2026: Mon 2, 9, 16, 23, 30; Apr 2026: Mon 6, 13, 20, 27;
  Aug 2026: Mon 3, 10, 17, 24, 31; 1 Jan 2027 is a Friday; 29 Feb 2028 is a Tuesday.
- Kyiv is UTC+2 in winter and UTC+3 in summer; 2026 clocks go forward on Sunday 29 March and
  back on Sunday 25 October.
- Holidays (non-working only with martial law off): the 2026 list written out below.
- A deadline is the end of its last local day: ``eod(y, m, d)`` = 23:59:59.999999 Kyiv time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from storage.calendar import WorkCalendar
from storage.deadlines import (
    AppealTerm,
    TicketKind,
    due_within_working_days,
    extension_refusal,
    initial_deadline,
    is_overdue,
    maximum_extension,
    recompute,
)

KYIV = ZoneInfo("Europe/Kyiv")

HOLIDAYS = frozenset(
    {
        date(2026, 1, 1),
        date(2026, 3, 8),
        date(2026, 3, 9),  # transferred from Sunday 8 March
        date(2026, 4, 12),
        date(2026, 4, 13),  # transferred from Easter Sunday
        date(2026, 5, 1),
        date(2026, 5, 8),
        date(2026, 5, 31),
        date(2026, 6, 1),  # transferred from Trinity Sunday
        date(2026, 6, 28),
        date(2026, 6, 29),  # transferred from Sunday 28 June
        date(2026, 7, 15),
        date(2026, 8, 24),
        date(2026, 10, 1),
        date(2026, 12, 25),
        date(2027, 1, 1),
    }
)
MARTIAL = WorkCalendar(HOLIDAYS, martial_law=True)
PEACE = WorkCalendar(HOLIDAYS, martial_law=False)


def kyiv(y: int, m: int, d: int, hour: int = 12, minute: int = 0) -> datetime:
    """A Kyiv wall-clock moment, given to the code as UTC (as the bot stores it)."""
    return datetime(y, m, d, hour, minute, tzinfo=KYIV).astimezone(UTC)


def eod(y: int, m: int, d: int) -> datetime:
    """The end of a Kyiv day: what a deadline on that day means."""
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=KYIV)


def utc(
    y: int, m: int, d: int, hour: int, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(y, m, d, hour, minute, second, us, tzinfo=UTC)


@dataclass(frozen=True)
class Case:
    kind: TicketKind
    received_at: datetime
    expected: datetime
    calendar: WorkCalendar = MARTIAL
    urgent: bool = False
    appeal_term: AppealTerm = AppealTerm.STANDARD
    feedback_days: int = 10
    legal_aid_days: int = 10


INFO = TicketKind.INFO_REQUEST
APPEAL = TicketKind.APPEAL
FEEDBACK = TicketKind.FEEDBACK
LEGAL_AID = TicketKind.LEGAL_AID
SIMPLE = AppealTerm.SIMPLE

CASES = [
    # --- information requests: 5 working days, the day of receipt not counted -----------------
    # Tue 3, Wed 4, Thu 5, Fri 6, Mon 9.
    pytest.param(Case(INFO, kyiv(2026, 2, 2, 10), eod(2026, 2, 9)), id="info-monday"),
    # Mon 9 .. Fri 13: the weekend is skipped.
    pytest.param(Case(INFO, kyiv(2026, 2, 6, 15), eod(2026, 2, 13)), id="info-friday"),
    pytest.param(Case(INFO, kyiv(2026, 2, 7, 12), eod(2026, 2, 13)), id="info-saturday"),
    # 23:59 Kyiv on Thursday is 21:59 UTC Thursday: received Thursday; Fri 13, Mon 16 .. Thu 19.
    pytest.param(Case(INFO, kyiv(2026, 2, 12, 23, 59), eod(2026, 2, 19)), id="info-thu-2359-kyiv"),
    # 00:30 Kyiv on Friday is still Thursday 22:30 UTC, but it was received on Friday (local):
    # Mon 16 .. Fri 20, one day later than the previous case.
    pytest.param(Case(INFO, kyiv(2026, 2, 13, 0, 30), eod(2026, 2, 20)), id="info-fri-0030-kyiv"),
    # Friday 23:59 and Saturday 00:30 Kyiv both start the count on Monday 16: Fri 20.
    pytest.param(Case(INFO, kyiv(2026, 2, 13, 23, 59), eod(2026, 2, 20)), id="info-fri-2359-kyiv"),
    pytest.param(Case(INFO, kyiv(2026, 2, 14, 0, 30), eod(2026, 2, 20)), id="info-sat-0030-kyiv"),
    # Martial law: 24 Aug is a working day. Fri 21, Mon 24, Tue 25, Wed 26, Thu 27.
    pytest.param(Case(INFO, kyiv(2026, 8, 20), eod(2026, 8, 27)), id="info-24aug-martial"),
    # Peace: 24 Aug (Monday) is off. Fri 21, Tue 25, Wed 26, Thu 27, Fri 28.
    pytest.param(Case(INFO, kyiv(2026, 8, 20), eod(2026, 8, 28), PEACE), id="info-24aug-peace"),
    # Martial law: 1 Jan is a working day. Thu 1, Fri 2, Mon 5, Tue 6, Wed 7 (7 Jan is no longer
    # a holiday at all).
    pytest.param(Case(INFO, kyiv(2025, 12, 31), eod(2026, 1, 7)), id="info-new-year-martial"),
    # Peace: Fri 2, Mon 5, Tue 6, Wed 7, Thu 8.
    pytest.param(Case(INFO, kyiv(2025, 12, 31), eod(2026, 1, 8), PEACE), id="info-new-year-peace"),
    # Martial: Fri 10, Mon 13, Tue 14, Wed 15, Thu 16.
    pytest.param(Case(INFO, kyiv(2026, 4, 9), eod(2026, 4, 16)), id="info-easter-martial"),
    # Peace: Monday 13 Apr is the day off transferred from Easter Sunday: Fri 10, Tue 14 .. Fri 17.
    pytest.param(Case(INFO, kyiv(2026, 4, 9), eod(2026, 4, 17), PEACE), id="info-easter-peace"),
    # Martial: Mon 1 Jun .. Fri 5 Jun.
    pytest.param(Case(INFO, kyiv(2026, 5, 29), eod(2026, 6, 5)), id="info-trinity-martial"),
    # Peace: Monday 1 Jun is the day off transferred from Trinity: Tue 2 .. Fri 5, Mon 8.
    pytest.param(Case(INFO, kyiv(2026, 5, 29), eod(2026, 6, 8), PEACE), id="info-trinity-peace"),
    # DST starts Sunday 29 Mar: received at UTC+2, due at UTC+3. Mon 30 .. Fri 3 Apr,
    # 23:59:59.999999 Kyiv summer time = 20:59:59.999999 UTC.
    pytest.param(
        Case(INFO, utc(2026, 3, 27, 8), utc(2026, 4, 3, 20, 59, 59, 999999)),
        id="info-dst-spring-weekend",
    ),
    # DST ends Sunday 25 Oct: received at UTC+3, due at UTC+2. Mon 26 .. Fri 30 Oct,
    # 23:59:59.999999 Kyiv winter time = 21:59:59.999999 UTC.
    pytest.param(
        Case(INFO, utc(2026, 10, 23, 7), utc(2026, 10, 30, 21, 59, 59, 999999)),
        id="info-dst-autumn-weekend",
    ),
    # --- urgent information requests: exactly 48 hours, weekends and holidays included ---------
    pytest.param(
        Case(INFO, utc(2026, 2, 6, 14), utc(2026, 2, 8, 14), urgent=True), id="urgent-over-weekend"
    ),
    # 48 real hours across the spring clock change: 10:00 Kyiv Friday -> 11:00 Kyiv Sunday.
    pytest.param(
        Case(INFO, utc(2026, 3, 27, 8), utc(2026, 3, 29, 8), urgent=True), id="urgent-across-dst"
    ),
    pytest.param(
        Case(INFO, utc(2026, 8, 23, 6), utc(2026, 8, 25, 6), PEACE, urgent=True),
        id="urgent-over-holiday-peace",
    ),
    # --- appeals: calendar days, ending on a non-working day moves to the next working day ------
    # Standard: one month, the same day number: Mon 2 Feb -> Mon 2 Mar.
    pytest.param(Case(APPEAL, kyiv(2026, 2, 2), eod(2026, 3, 2)), id="appeal-month"),
    # 31 Mar -> 30 Apr (April has no 31st), a Thursday.
    pytest.param(Case(APPEAL, kyiv(2026, 3, 31), eod(2026, 4, 30)), id="appeal-month-clip-30"),
    # 31 Jan 2028 -> 29 Feb 2028 (leap year), a Tuesday.
    pytest.param(Case(APPEAL, kyiv(2028, 1, 31), eod(2028, 2, 29)), id="appeal-month-clip-leap"),
    # 31 Jan 2026 -> 28 Feb 2026, a Saturday -> Monday 2 Mar.
    pytest.param(
        Case(APPEAL, kyiv(2026, 1, 31), eod(2026, 3, 2)), id="appeal-month-clip-then-weekend"
    ),
    # Fri 24 Jul -> Mon 24 Aug: a working day under martial law...
    pytest.param(Case(APPEAL, kyiv(2026, 7, 24), eod(2026, 8, 24)), id="appeal-24aug-martial"),
    # ...a holiday otherwise -> Tue 25 Aug.
    pytest.param(Case(APPEAL, kyiv(2026, 7, 24), eod(2026, 8, 25), PEACE), id="appeal-24aug-peace"),
    # Tue 1 Dec -> Fri 1 Jan 2027: working day under martial law...
    pytest.param(Case(APPEAL, kyiv(2026, 12, 1), eod(2027, 1, 1)), id="appeal-new-year-martial"),
    # ...otherwise New Year -> Mon 4 Jan 2027.
    pytest.param(
        Case(APPEAL, kyiv(2026, 12, 1), eod(2027, 1, 4), PEACE), id="appeal-new-year-peace"
    ),
    # Simple: 15 days. Mon 2 Feb + 15 = Tue 17 Feb.
    pytest.param(
        Case(APPEAL, kyiv(2026, 2, 2), eod(2026, 2, 17), appeal_term=SIMPLE), id="appeal-15"
    ),
    # Fri 6 Feb + 15 = Sat 21 Feb -> Mon 23 Feb.
    pytest.param(
        Case(APPEAL, kyiv(2026, 2, 6), eod(2026, 2, 23), appeal_term=SIMPLE),
        id="appeal-15-ends-saturday",
    ),
    # Sat 28 Mar 23:30 Kyiv (21:30 UTC) + 15 = Easter Sunday 12 Apr -> Mon 13 Apr (martial).
    pytest.param(
        Case(APPEAL, kyiv(2026, 3, 28, 23, 30), eod(2026, 4, 13), appeal_term=SIMPLE),
        id="appeal-15-ends-easter-martial",
    ),
    # Peace: Monday 13 Apr is the transferred day off -> Tue 14 Apr.
    pytest.param(
        Case(APPEAL, kyiv(2026, 3, 28, 23, 30), eod(2026, 4, 14), PEACE, appeal_term=SIMPLE),
        id="appeal-15-ends-easter-peace",
    ),
    # --- feedback: N calendar days, our own target, never moved off weekends --------------------
    # Received Friday (23:59 Kyiv = 21:59 UTC): Fri 13 + 10 = Mon 23 Feb.
    pytest.param(
        Case(FEEDBACK, kyiv(2026, 2, 13, 23, 59), eod(2026, 2, 23)), id="feedback-fri-2359-kyiv"
    ),
    # Received Saturday (00:30 Kyiv = Friday 22:30 UTC): Sat 14 + 10 = Tue 24 Feb.
    pytest.param(
        Case(FEEDBACK, kyiv(2026, 2, 14, 0, 30), eod(2026, 2, 24)), id="feedback-sat-0030-kyiv"
    ),
    # Summer: Sat 00:30 Kyiv = Friday 21:30 UTC; Sat 18 Jul + 10 = Tue 28 Jul.
    pytest.param(
        Case(FEEDBACK, utc(2026, 7, 17, 21, 30), eod(2026, 7, 28)), id="feedback-summer-sat-0030"
    ),
    # Thu 12 Feb + 10 = Sunday 22 Feb, kept.
    pytest.param(
        Case(FEEDBACK, kyiv(2026, 2, 12), eod(2026, 2, 22)), id="feedback-ends-sunday-kept"
    ),
    pytest.param(
        Case(FEEDBACK, kyiv(2026, 2, 2), eod(2026, 2, 5), feedback_days=3), id="feedback-3-days"
    ),
    # --- legal aid: N working days, our own target ----------------------------------------------
    # Feb 3, 4, 5, 6, 9, 10, 11, 12, 13, 16.
    pytest.param(Case(LEGAL_AID, kyiv(2026, 2, 2), eod(2026, 2, 16)), id="legal-aid-10"),
    # Aug 18, 19, 20, 21, 24, 25, 26, 27, 28, 31.
    pytest.param(
        Case(LEGAL_AID, kyiv(2026, 8, 17), eod(2026, 8, 31)), id="legal-aid-24aug-martial"
    ),
    # Aug 18, 19, 20, 21, 25, 26, 27, 28, 31, Sep 1.
    pytest.param(
        Case(LEGAL_AID, kyiv(2026, 8, 17), eod(2026, 9, 1), PEACE), id="legal-aid-24aug-peace"
    ),
    # Fri 6 Feb: Mon 9, Tue 10, Wed 11.
    pytest.param(
        Case(LEGAL_AID, kyiv(2026, 2, 6), eod(2026, 2, 11), legal_aid_days=3), id="legal-aid-3"
    ),
]


@pytest.mark.parametrize("case", CASES)
def test_initial_deadline(case: Case) -> None:
    deadline = initial_deadline(
        case.kind,
        case.received_at,
        calendar=case.calendar,
        zone=KYIV,
        urgent=case.urgent,
        appeal_term=case.appeal_term,
        feedback_days=case.feedback_days,
        legal_aid_days=case.legal_aid_days,
    )
    assert deadline == case.expected
    assert deadline.tzinfo is UTC


def test_deadline_is_end_of_local_day_in_utc() -> None:
    # Winter: Mon 9 Feb 23:59:59.999999 Kyiv (UTC+2).
    winter = initial_deadline(INFO, kyiv(2026, 2, 2, 10), calendar=MARTIAL, zone=KYIV)
    assert winter == utc(2026, 2, 9, 21, 59, 59, 999999)
    # Summer: received Mon 3 Aug; Tue 4 .. Fri 7, Mon 10 Aug 23:59:59.999999 Kyiv (UTC+3).
    summer = initial_deadline(INFO, kyiv(2026, 8, 3, 10), calendar=MARTIAL, zone=KYIV)
    assert summer == utc(2026, 8, 10, 20, 59, 59, 999999)
    # Still in time during the whole last local day, late one microsecond after it.
    assert not is_overdue(winter, utc(2026, 2, 9, 21, 59, 59, 999999))
    assert is_overdue(winter, utc(2026, 2, 9, 22))


def test_plain_strings_are_accepted_for_kinds() -> None:
    assert initial_deadline(
        "appeal", kyiv(2026, 2, 2), calendar=MARTIAL, zone=KYIV, appeal_term="simple"
    ) == eod(2026, 2, 17)


def test_initial_deadline_rejects_bad_input() -> None:
    received = kyiv(2026, 2, 2)
    with pytest.raises(ValueError, match="complaint"):
        initial_deadline("complaint", received, calendar=MARTIAL, zone=KYIV)
    with pytest.raises(ValueError, match="urgent"):
        initial_deadline(APPEAL, received, calendar=MARTIAL, zone=KYIV, urgent=True)
    with pytest.raises(ValueError, match="feedback_days"):
        initial_deadline(FEEDBACK, received, calendar=MARTIAL, zone=KYIV, feedback_days=0)
    with pytest.raises(ValueError, match="legal_aid_days"):
        initial_deadline(LEGAL_AID, received, calendar=MARTIAL, zone=KYIV, legal_aid_days=5000)


def test_naive_datetimes_are_rejected() -> None:
    # Naive on purpose (DTZ001): the point is that they are refused.
    with pytest.raises(ValueError, match="timezone-aware"):
        initial_deadline(INFO, datetime(2026, 2, 2, 10), calendar=MARTIAL, zone=KYIV)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        is_overdue(eod(2026, 2, 9), datetime(2026, 2, 9, 10))  # noqa: DTZ001


# --- maximum extension ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "received_at", "calendar", "expected"),
    [
        # Feb 3-6 (4), 9-13 (9), 16-20 (14), 23-27 (19), Mon 2 Mar (20).
        pytest.param(INFO, kyiv(2026, 2, 2), MARTIAL, eod(2026, 3, 2), id="info-20-martial"),
        # Mar 3-6 (4), 9-13 (9), 16-20 (14), 23-27 (19), Mon 30 (20).
        pytest.param(INFO, kyiv(2026, 3, 2), MARTIAL, eod(2026, 3, 30), id="info-20-march"),
        # Peace: 9 Mar is off, so one day later: Tue 31 Mar.
        pytest.param(INFO, kyiv(2026, 3, 2), PEACE, eod(2026, 3, 31), id="info-20-march-peace"),
        # Mon 2 Feb + 45 days = Thu 19 Mar (day-of-year 33 + 45 = 78).
        pytest.param(APPEAL, kyiv(2026, 2, 2), MARTIAL, eod(2026, 3, 19), id="appeal-45"),
        # Thu 26 Feb + 45 = Easter Sunday 12 Apr -> Mon 13 Apr under martial law...
        pytest.param(APPEAL, kyiv(2026, 2, 26), MARTIAL, eod(2026, 4, 13), id="appeal-45-sun"),
        # ...and Tue 14 Apr without it (13 Apr is the transferred day off).
        pytest.param(APPEAL, kyiv(2026, 2, 26), PEACE, eod(2026, 4, 14), id="appeal-45-peace"),
    ],
)
def test_maximum_extension(
    kind: TicketKind, received_at: datetime, calendar: WorkCalendar, expected: datetime
) -> None:
    assert maximum_extension(kind, received_at, calendar=calendar, zone=KYIV) == expected


@pytest.mark.parametrize("kind", [FEEDBACK, LEGAL_AID])
def test_service_targets_have_no_extension(kind: TicketKind) -> None:
    assert maximum_extension(kind, kyiv(2026, 2, 2), calendar=MARTIAL, zone=KYIV) is None


# --- extension refusal ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    kind: TicketKind
    received_at: datetime
    now: datetime
    expected: str | None
    calendar: WorkCalendar = MARTIAL
    urgent: bool = False
    current_deadline: datetime | None = None


RECEIVED = kyiv(2026, 2, 2, 10)  # Monday; info due Mon 9 Feb, appeal due Mon 2 Mar

REFUSALS = [
    pytest.param(Refusal(INFO, RECEIVED, kyiv(2026, 2, 4), None), id="info-within-notice"),
    pytest.param(
        Refusal(INFO, RECEIVED, eod(2026, 2, 9).astimezone(UTC), None), id="info-last-instant"
    ),
    pytest.param(
        Refusal(INFO, RECEIVED, kyiv(2026, 2, 10, 0, 0), "notice_period_over"),
        id="info-refused-after-notice-period",
    ),
    # Peace: 24 Aug is off, so a request of Thu 20 Aug is still in its 5 days on Fri 28 Aug...
    pytest.param(
        Refusal(INFO, kyiv(2026, 8, 20), kyiv(2026, 8, 28, 10), None, PEACE),
        id="info-notice-peace",
    ),
    # ...but not under martial law (due Thu 27 Aug).
    pytest.param(
        Refusal(INFO, kyiv(2026, 8, 20), kyiv(2026, 8, 28, 10), "notice_period_over"),
        id="info-notice-martial",
    ),
    pytest.param(
        Refusal(INFO, RECEIVED, kyiv(2026, 2, 3), "urgent", urgent=True), id="info-urgent"
    ),
    pytest.param(
        Refusal(
            INFO, RECEIVED, kyiv(2026, 2, 3), "already_at_maximum", current_deadline=eod(2026, 3, 2)
        ),
        id="info-already-extended",
    ),
    pytest.param(
        Refusal(FEEDBACK, RECEIVED, kyiv(2026, 2, 3), "not_extendable"), id="feedback-extension"
    ),
    pytest.param(
        Refusal(LEGAL_AID, RECEIVED, kyiv(2026, 2, 3), "not_extendable"), id="legal-aid-extension"
    ),
    pytest.param(
        Refusal(APPEAL, RECEIVED, kyiv(2026, 2, 27), None, current_deadline=eod(2026, 3, 2)),
        id="appeal-within-month",
    ),
    pytest.param(
        Refusal(
            APPEAL,
            RECEIVED,
            kyiv(2026, 3, 3, 9),
            "notice_period_over",
            current_deadline=eod(2026, 3, 2),
        ),
        id="appeal-after-month",
    ),
    # A simple appeal (due Tue 17 Feb) cannot be extended once its own term has passed...
    pytest.param(
        Refusal(
            APPEAL,
            RECEIVED,
            kyiv(2026, 2, 18, 9),
            "notice_period_over",
            current_deadline=eod(2026, 2, 17),
        ),
        id="appeal-simple-after-15-days",
    ),
    # ...without a current deadline the one-month term is assumed.
    pytest.param(Refusal(APPEAL, RECEIVED, kyiv(2026, 2, 18, 9), None), id="appeal-no-current"),
    # Extended to 30 days (Wed 4 Mar), below the 45-day cap (Thu 19 Mar): may extend again.
    pytest.param(
        Refusal(APPEAL, RECEIVED, kyiv(2026, 3, 3), None, current_deadline=eod(2026, 3, 4)),
        id="appeal-partly-extended",
    ),
    pytest.param(
        Refusal(
            APPEAL,
            RECEIVED,
            kyiv(2026, 3, 3),
            "already_at_maximum",
            current_deadline=eod(2026, 3, 19),
        ),
        id="appeal-45-day-cap",
    ),
]


@pytest.mark.parametrize("case", REFUSALS)
def test_extension_refusal(case: Refusal) -> None:
    reason = extension_refusal(
        case.kind,
        case.received_at,
        case.now,
        calendar=case.calendar,
        zone=KYIV,
        urgent=case.urgent,
        current_deadline=case.current_deadline,
    )
    assert reason == case.expected


def test_extension_refusal_rejects_urgent_appeals() -> None:
    with pytest.raises(ValueError, match="urgent"):
        extension_refusal(
            APPEAL, RECEIVED, kyiv(2026, 2, 3), calendar=MARTIAL, zone=KYIV, urgent=True
        )


# --- overdue and "due soon" ----------------------------------------------------------------------


def test_is_overdue_boundaries() -> None:
    deadline = utc(2026, 2, 9, 21, 59, 59, 999999)
    assert not is_overdue(deadline, deadline)
    assert is_overdue(deadline, deadline + timedelta(microseconds=1))
    assert not is_overdue(deadline, utc(2026, 2, 2, 10))


@pytest.mark.parametrize(
    ("deadline", "now", "n", "calendar", "expected"),
    [
        # Deadline Mon 9 Feb. On Wed 4: working day 1 = Wed, 3 = Fri, 4 = Mon.
        pytest.param(eod(2026, 2, 9), kyiv(2026, 2, 4, 10), 1, MARTIAL, False, id="wed-n1"),
        pytest.param(eod(2026, 2, 9), kyiv(2026, 2, 4, 10), 3, MARTIAL, False, id="wed-n3"),
        pytest.param(eod(2026, 2, 9), kyiv(2026, 2, 4, 10), 4, MARTIAL, True, id="wed-n4"),
        # Saturday: working day 1 is Monday.
        pytest.param(eod(2026, 2, 9), kyiv(2026, 2, 7, 10), 1, MARTIAL, True, id="saturday-n1"),
        pytest.param(eod(2026, 2, 9), kyiv(2026, 2, 9, 23), 1, MARTIAL, True, id="due-today"),
        pytest.param(eod(2026, 2, 9), kyiv(2026, 2, 10, 0), 5, MARTIAL, False, id="overdue"),
        # Deadline on Sunday 22 Feb; on Fri 20 working day 1 ends Friday, 2 ends Monday.
        pytest.param(eod(2026, 2, 22), kyiv(2026, 2, 20, 9), 1, MARTIAL, False, id="sunday-n1"),
        pytest.param(eod(2026, 2, 22), kyiv(2026, 2, 20, 9), 2, MARTIAL, True, id="sunday-n2"),
        # Deadline Tue 25 Aug, now Fri 21 Aug: day 2 is Mon 24 (martial) or Tue 25 (peace).
        pytest.param(eod(2026, 8, 25), kyiv(2026, 8, 21, 9), 2, MARTIAL, False, id="24aug-martial"),
        pytest.param(eod(2026, 8, 25), kyiv(2026, 8, 21, 9), 2, PEACE, True, id="24aug-peace"),
        # Today is 24 Aug: a working day under martial law, so day 1 is today; otherwise Tue 25.
        pytest.param(eod(2026, 8, 25), kyiv(2026, 8, 24, 9), 1, MARTIAL, False, id="on-24aug-mart"),
        pytest.param(eod(2026, 8, 25), kyiv(2026, 8, 24, 9), 1, PEACE, True, id="on-24aug-peace"),
        # Fri 13 Feb 23:30 UTC is Sat 14 Feb 01:30 Kyiv: today is Saturday, day 1 is Mon 16.
        # (Counting from the UTC date, Friday, would say False.)
        pytest.param(
            eod(2026, 2, 16), utc(2026, 2, 13, 23, 30), 1, MARTIAL, True, id="local-today"
        ),
    ],
)
def test_due_within_working_days(
    deadline: datetime, now: datetime, n: int, calendar: WorkCalendar, expected: bool
) -> None:
    assert due_within_working_days(deadline, now, n, calendar=calendar, zone=KYIV) is expected


def test_due_within_working_days_needs_positive_n() -> None:
    with pytest.raises(ValueError, match="n must be"):
        due_within_working_days(eod(2026, 2, 9), kyiv(2026, 2, 4), 0, calendar=MARTIAL, zone=KYIV)


# --- recompute after the calendar changed --------------------------------------------------------


def test_recompute_when_martial_law_is_lifted() -> None:
    # Received Thu 20 Aug: due Thu 27 Aug under martial law, Fri 28 Aug once 24 Aug is off.
    received = kyiv(2026, 8, 20)
    results = [
        recompute(
            INFO,
            received,
            calendar=calendar,
            zone=KYIV,
            urgent=False,
            appeal_term=AppealTerm.STANDARD,
            extended=False,
        )
        for calendar in (MARTIAL, PEACE)
    ]
    assert results == [eod(2026, 8, 27), eod(2026, 8, 28)]


def test_recompute_when_the_holiday_list_changes() -> None:
    # Received Thu 20 Aug, peace: due Fri 28 Aug. Administrators then add Fri 21 Aug as a day
    # off: Tue 25, Wed 26, Thu 27, Fri 28, Mon 31 Aug.
    received = kyiv(2026, 8, 20)
    before = recompute(
        INFO,
        received,
        calendar=PEACE,
        zone=KYIV,
        urgent=False,
        appeal_term=AppealTerm.STANDARD,
        extended=False,
    )
    changed = WorkCalendar(HOLIDAYS | {date(2026, 8, 21)}, martial_law=False)
    after = recompute(
        INFO,
        received,
        calendar=changed,
        zone=KYIV,
        urgent=False,
        appeal_term=AppealTerm.STANDARD,
        extended=False,
    )
    assert before == eod(2026, 8, 28)
    assert after == eod(2026, 8, 31)


@pytest.mark.parametrize(
    ("kind", "received_at", "calendar", "expected"),
    [
        pytest.param(INFO, kyiv(2026, 3, 2), MARTIAL, eod(2026, 3, 30), id="info-martial"),
        pytest.param(INFO, kyiv(2026, 3, 2), PEACE, eod(2026, 3, 31), id="info-peace"),
        pytest.param(APPEAL, kyiv(2026, 2, 26), MARTIAL, eod(2026, 4, 13), id="appeal-martial"),
        pytest.param(APPEAL, kyiv(2026, 2, 26), PEACE, eod(2026, 4, 14), id="appeal-peace"),
    ],
)
def test_recompute_extended_ticket_gets_maximum(
    kind: TicketKind, received_at: datetime, calendar: WorkCalendar, expected: datetime
) -> None:
    result = recompute(
        kind,
        received_at,
        calendar=calendar,
        zone=KYIV,
        urgent=False,
        appeal_term=AppealTerm.STANDARD,
        extended=True,
    )
    assert result == expected


def test_recompute_simple_appeal_and_urgent_request() -> None:
    # Simple appeal of Sat 28 Mar (+15 = Easter Sunday): Mon 13 Apr, then Tue 14 Apr in peace.
    received = kyiv(2026, 3, 28)
    for calendar, expected in ((MARTIAL, eod(2026, 4, 13)), (PEACE, eod(2026, 4, 14))):
        assert (
            recompute(
                APPEAL,
                received,
                calendar=calendar,
                zone=KYIV,
                urgent=False,
                appeal_term=AppealTerm.SIMPLE,
                extended=False,
            )
            == expected
        )
    # 48 hours do not depend on the calendar.
    for calendar in (MARTIAL, PEACE):
        assert recompute(
            INFO,
            utc(2026, 8, 23, 6),
            calendar=calendar,
            zone=KYIV,
            urgent=True,
            appeal_term=AppealTerm.STANDARD,
            extended=False,
        ) == utc(2026, 8, 25, 6)


@pytest.mark.parametrize(
    ("kind", "urgent", "match"),
    [
        pytest.param(FEEDBACK, False, "cannot have been extended", id="feedback"),
        pytest.param(LEGAL_AID, False, "cannot have been extended", id="legal-aid"),
        pytest.param(INFO, True, "urgent", id="urgent-info"),
    ],
)
def test_recompute_rejects_impossible_extensions(
    kind: TicketKind, urgent: bool, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        recompute(
            kind,
            kyiv(2026, 2, 2),
            calendar=MARTIAL,
            zone=KYIV,
            urgent=urgent,
            appeal_term=AppealTerm.STANDARD,
            extended=True,
        )
