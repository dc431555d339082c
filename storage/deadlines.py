"""Deadlines of tickets: the legal terms of requests and appeals, and our service targets.

Pure rules, no database and no I/O. Every input datetime must be timezone-aware (the bot stores
UTC); every output is an aware datetime in UTC. Days are counted in the council's zone
(Europe/Kyiv), passed in as ``zone``, because "the day of receipt" and "the end of the last day"
are local notions: a request sent at 00:30 Kyiv time on Saturday was received on Saturday, even
though it is still Friday in UTC.

Common rules, from the Civil Code (the general rules on terms, applied where the special laws
are silent):

* art. 253: a term starts on the day after the event, so the day of receipt is not counted;
* art. 254 part 2–3: a term in months ends on the same day number of the last month, or on
  that month's last day when it has no such number (31 January + 1 month = 28/29 February);
* art. 254 part 5: when the last day of a term is a non-working day, the term ends on the next
  working day;
* art. 255 part 1: an act may be done until 24:00 of the last day, so a deadline is the END of
  its last day in the council's zone (23:59:59.999999 local). The 48-hour term is the exception:
  it is counted in hours and ends exactly 48 hours after receipt.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from storage.calendar import MAX_WORKING_DAYS, WorkCalendar


class TicketKind(StrEnum):
    FEEDBACK = "feedback"
    APPEAL = "appeal"
    INFO_REQUEST = "info_request"
    LEGAL_AID = "legal_aid"


class AppealTerm(StrEnum):
    # Law 393/96-ВР art. 20: 15 days for appeals that need no further study, otherwise
    # no more than one month.
    SIMPLE = "simple"
    STANDARD = "standard"


# Machine reason codes of extension_refusal.
REFUSAL_NOT_EXTENDABLE = "not_extendable"
REFUSAL_URGENT = "urgent"
REFUSAL_NOTICE_PERIOD_OVER = "notice_period_over"
REFUSAL_ALREADY_AT_MAXIMUM = "already_at_maximum"

# Law 2939-VI art. 20 parts 1 and 4: 5 working days; extension to 20 working days.
INFO_REQUEST_WORKING_DAYS = 5
INFO_REQUEST_EXTENDED_WORKING_DAYS = 20
# Law 2939-VI art. 20 part 2: 48 hours for urgent requests.
INFO_REQUEST_URGENT_TERM = timedelta(hours=48)
# Law 393/96-ВР art. 20 part 1: 15 days for simple appeals; 45 days in total at most.
APPEAL_SIMPLE_DAYS = 15
APPEAL_MAXIMUM_DAYS = 45
# Service targets (not legal deadlines): our own choice, overridable by the caller.
DEFAULT_FEEDBACK_DAYS = 10
# Law 3460-VI sets no term for free primary legal aid; 10 working days is our service target.
DEFAULT_LEGAL_AID_DAYS = 10


def _require_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _receipt_date(received_at: datetime, zone: ZoneInfo) -> date:
    """The day of receipt: the local date in the council's zone, never the UTC date."""
    _require_aware(received_at, "received_at")
    return received_at.astimezone(zone).date()


def _end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last instant of ``day`` in ``zone``, in UTC (Civil Code art. 255 part 1).

    Kyiv changes its clocks at 03:00/04:00, so 23:59:59.999999 is never ambiguous or missing.
    """
    return datetime.combine(day, time.max, tzinfo=zone).astimezone(UTC)


def _add_one_month(day: date) -> date:
    """Same day number next month, clipped to that month's last day (Civil Code art. 254)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    last_day = (following - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def _roll_to_working_day(day: date, calendar: WorkCalendar) -> date:
    """Civil Code art. 254 part 5: a term ending on a non-working day ends on the next one."""
    return day if calendar.is_working_day(day) else calendar.next_working_day(day)


def _check_urgent(kind: TicketKind, urgent: bool) -> None:
    # Only Law 2939-VI knows a 48-hour term; "urgent" on anything else is a caller's bug.
    if urgent and kind is not TicketKind.INFO_REQUEST:
        raise ValueError(f"only information requests can be urgent, not {kind}")


def _check_days(value: int, name: str) -> None:
    if not 1 <= value <= MAX_WORKING_DAYS:
        raise ValueError(f"{name} must be between 1 and {MAX_WORKING_DAYS}, got {value}")


def initial_deadline(
    kind: TicketKind | str,
    received_at: datetime,
    *,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    urgent: bool = False,
    appeal_term: AppealTerm | str = AppealTerm.STANDARD,
    feedback_days: int = DEFAULT_FEEDBACK_DAYS,
    legal_aid_days: int = DEFAULT_LEGAL_AID_DAYS,
) -> datetime:
    """The deadline of a new ticket received at ``received_at``.

    * info_request (Law 2939-VI art. 20): end of the 5th working day after receipt; urgent
      (art. 20 part 2, the requester gave a reason, which the caller checks): exactly 48 hours
      after receipt, weekends and holidays included.
    * appeal (Law 393/96-ВР art. 20), calendar days: ``simple`` = 15 days, ``standard`` = one
      month; either moved to the next working day if it ends on a non-working day.
    * feedback: service target of ``feedback_days`` calendar days, not moved off weekends.
    * legal_aid: service target of ``legal_aid_days`` working days.
    """
    kind = TicketKind(kind)
    _check_urgent(kind, urgent)
    received = _receipt_date(received_at, zone)

    if kind is TicketKind.INFO_REQUEST:
        if urgent:
            return received_at.astimezone(UTC) + INFO_REQUEST_URGENT_TERM
        return _end_of_day(calendar.add_working_days(received, INFO_REQUEST_WORKING_DAYS), zone)

    if kind is TicketKind.APPEAL:
        if AppealTerm(appeal_term) is AppealTerm.SIMPLE:
            last_day = received + timedelta(days=APPEAL_SIMPLE_DAYS)
        else:
            last_day = _add_one_month(received)
        return _end_of_day(_roll_to_working_day(last_day, calendar), zone)

    if kind is TicketKind.FEEDBACK:
        _check_days(feedback_days, "feedback_days")
        # Feedback is not an official appeal (Law 393/96-ВР art. 8 for anonymous ones); the
        # target is internal, so the civil-law rolling to a working day does not apply.
        return _end_of_day(received + timedelta(days=feedback_days), zone)

    _check_days(legal_aid_days, "legal_aid_days")
    return _end_of_day(calendar.add_working_days(received, legal_aid_days), zone)


def maximum_extension(
    kind: TicketKind | str,
    received_at: datetime,
    *,
    calendar: WorkCalendar,
    zone: ZoneInfo,
) -> datetime | None:
    """The latest deadline an extension may set; None when the kind cannot be extended.

    * info_request: end of the 20th working day after receipt (Law 2939-VI art. 20 part 4).
      Urgent requests cannot be extended at all; :func:`extension_refusal` says so.
    * appeal: 45 calendar days after receipt in total (Law 393/96-ВР art. 20 part 1), moved to
      the next working day if that day is non-working (Civil Code art. 254 part 5 applies to
      every term in days).
    * feedback, legal_aid: service targets, never extended.
    """
    kind = TicketKind(kind)
    received = _receipt_date(received_at, zone)
    if kind is TicketKind.INFO_REQUEST:
        last_day = calendar.add_working_days(received, INFO_REQUEST_EXTENDED_WORKING_DAYS)
        return _end_of_day(last_day, zone)
    if kind is TicketKind.APPEAL:
        last_day = received + timedelta(days=APPEAL_MAXIMUM_DAYS)
        return _end_of_day(_roll_to_working_day(last_day, calendar), zone)
    return None


def extension_refusal(
    kind: TicketKind | str,
    received_at: datetime,
    now: datetime,
    *,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    urgent: bool = False,
    current_deadline: datetime | None = None,
) -> str | None:
    """None if the deadline may be extended at ``now``, else a machine reason code.

    Checked in this order, so the most useful reason wins:

    * ``not_extendable``: feedback and legal aid (service targets);
    * ``urgent``: a 48-hour information request (Law 2939-VI art. 20 part 4 allows extension
      only of the 5-working-day term);
    * ``already_at_maximum``: ``current_deadline`` already reaches :func:`maximum_extension`;
    * ``notice_period_over``: the requester must be told of the extension in time.
      For an information request, within 5 working days of receipt (art. 20 part 4), i.e. while
      ``now`` is not after the original 5-working-day deadline, whatever ``current_deadline``
      says. For an appeal, before the current term expires (art. 20 part 1: the extension is
      set when the question "cannot be resolved within the month"): ``now`` must not be after
      ``current_deadline``; without one, the one-month term is assumed, since the 15-day term
      of a simple appeal is that month's shorter case. Callers should pass the current deadline.
    """
    kind = TicketKind(kind)
    _check_urgent(kind, urgent)
    _require_aware(now, "now")
    if current_deadline is not None:
        _require_aware(current_deadline, "current_deadline")

    maximum = maximum_extension(kind, received_at, calendar=calendar, zone=zone)
    if maximum is None:
        return REFUSAL_NOT_EXTENDABLE
    if urgent:
        return REFUSAL_URGENT
    if current_deadline is not None and current_deadline >= maximum:
        return REFUSAL_ALREADY_AT_MAXIMUM

    if kind is TicketKind.INFO_REQUEST:
        notice_until = initial_deadline(kind, received_at, calendar=calendar, zone=zone)
    elif current_deadline is not None:
        notice_until = current_deadline
    else:
        notice_until = initial_deadline(
            kind, received_at, calendar=calendar, zone=zone, appeal_term=AppealTerm.STANDARD
        )
    if now > notice_until:
        return REFUSAL_NOTICE_PERIOD_OVER
    return None


def is_overdue(deadline: datetime, now: datetime) -> bool:
    """True once ``now`` is past the deadline; the deadline instant itself is still in time."""
    _require_aware(deadline, "deadline")
    _require_aware(now, "now")
    return now > deadline


def due_within_working_days(
    deadline: datetime,
    now: datetime,
    n: int,
    *,
    calendar: WorkCalendar,
    zone: ZoneInfo,
) -> bool:
    """True when the ticket is not overdue and is due by the end of the n-th working day.

    Working days are numbered from today's local date in ``zone``: if today is a working day,
    it is working day 1; otherwise the next working day is working day 1. So ``n=1`` on a
    Wednesday means "due by the end of today", and ``n=1`` on a Saturday means "due by the end
    of Monday" (when Monday is a working day). ``n`` must be at least 1. A deadline that falls
    on a non-working day before the end of working day n counts as due within the window.
    """
    if not 1 <= n <= MAX_WORKING_DAYS:
        raise ValueError(f"n must be between 1 and {MAX_WORKING_DAYS}, got {n}")
    if is_overdue(deadline, now):
        return False
    today = now.astimezone(zone).date()
    first = today if calendar.is_working_day(today) else calendar.next_working_day(today)
    horizon = calendar.add_working_days(first, n - 1)
    return deadline <= _end_of_day(horizon, zone)


def recompute(
    kind: TicketKind | str,
    received_at: datetime,
    *,
    calendar: WorkCalendar,
    zone: ZoneInfo,
    urgent: bool,
    appeal_term: AppealTerm | str,
    extended: bool,
    feedback_days: int = DEFAULT_FEEDBACK_DAYS,
    legal_aid_days: int = DEFAULT_LEGAL_AID_DAYS,
) -> datetime:
    """The deadline of an open ticket after the holiday list or the martial-law switch changed.

    Deadlines are a pure function of the receipt and the calendar, so recomputing from scratch
    with the new calendar is exact. An extended ticket gets its maximum extension under the new
    calendar (a shorter extension chosen by staff is not modelled); an unextended one its
    initial deadline.
    """
    kind = TicketKind(kind)
    _check_urgent(kind, urgent)
    if extended:
        if urgent:
            raise ValueError("an urgent information request cannot have been extended")
        maximum = maximum_extension(kind, received_at, calendar=calendar, zone=zone)
        if maximum is None:
            raise ValueError(f"a {kind} ticket cannot have been extended")
        return maximum
    return initial_deadline(
        kind,
        received_at,
        calendar=calendar,
        zone=zone,
        urgent=urgent,
        appeal_term=appeal_term,
        feedback_days=feedback_days,
        legal_aid_days=legal_aid_days,
    )
