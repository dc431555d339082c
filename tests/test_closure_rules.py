"""The rules of "Питання вирішено?": which closing an answer belongs to, one answer per
closing, which kinds a "no" opens again, and the month a complaint may be filed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from handlers.tickets.closure import add_months, complaint_allowed, parse_refile, parse_resolved
from storage.models import Ticket
from storage.ticket_events import Link
from storage.ticket_rules import (
    TransitionError,
    answer_resolution,
    close,
    closure_round,
    reopen,
)

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


def _closed(kind: str, *, assignee: int | None = 7002) -> Ticket:
    ticket = Ticket(kind=kind, status="in_progress", assignee_id=assignee, resolution=None)
    close(ticket, now=NOW)
    return ticket


def test_an_answer_belongs_to_the_current_closing_and_counts_once() -> None:
    ticket = _closed("feedback")
    round_ = closure_round(ticket)
    assert round_ == int(NOW.timestamp())
    with pytest.raises(TransitionError, match="stale"):
        answer_resolution(ticket, resolved=True, round_=round_ - 1, now=NOW)
    answer_resolution(ticket, resolved=False, round_=round_, now=NOW)
    assert (ticket.resolution, ticket.resolution_at) == ("not_resolved", NOW)
    with pytest.raises(TransitionError, match="already_answered"):
        answer_resolution(ticket, resolved=True, round_=round_, now=NOW)


def test_no_reopens_feedback_and_legal_aid_only() -> None:
    for kind, status in (("feedback", "in_progress"), ("legal_aid", "in_progress")):
        ticket = _closed(kind)
        answer_resolution(ticket, resolved=False, round_=int(NOW.timestamp()), now=NOW)
        reopen(ticket, now=NOW)
        assert (ticket.status, ticket.closed_at) == (status, None)
        # Open now: an answer to the closing before is stale.
        with pytest.raises(TransitionError, match="stale"):
            answer_resolution(ticket, resolved=True, round_=int(NOW.timestamp()), now=NOW)
        # Closed again: a new question, the earlier answer cleared.
        close(ticket, now=NOW + timedelta(hours=1))
        assert ticket.resolution is None
    unassigned = _closed("feedback", assignee=None)
    answer_resolution(unassigned, resolved=False, round_=int(NOW.timestamp()), now=NOW)
    reopen(unassigned, now=NOW)
    assert unassigned.status == "new"
    for kind in ("appeal", "info_request"):
        ticket = _closed(kind)
        answer_resolution(ticket, resolved=False, round_=int(NOW.timestamp()), now=NOW)
        with pytest.raises(TransitionError, match="not_reopenable"):
            reopen(ticket, now=NOW)
    confirmed = _closed("feedback")
    answer_resolution(confirmed, resolved=True, round_=int(NOW.timestamp()), now=NOW)
    with pytest.raises(TransitionError, match="not_unresolved"):
        reopen(confirmed, now=NOW)


def test_a_complaint_within_a_month_of_the_closing() -> None:
    assert add_months(datetime(2026, 1, 31, tzinfo=UTC), 1) == datetime(2026, 2, 28, tzinfo=UTC)
    assert add_months(datetime(2026, 12, 5, tzinfo=UTC), 1) == datetime(2027, 1, 5, tzinfo=UTC)
    appeal = _closed("appeal")
    assert complaint_allowed(appeal, NOW + timedelta(days=31))
    assert not complaint_allowed(appeal, NOW + timedelta(days=31, seconds=1))
    # Law 2939-VI sets no such term for information requests.
    assert complaint_allowed(_closed("info_request"), NOW + timedelta(days=400))


def test_actions_are_parsed_strictly() -> None:
    assert parse_resolved("12:1764928800:yes") == (12, 1764928800, True)
    assert parse_resolved("12:1764928800:no") == (12, 1764928800, False)
    for bad in ("12:1:maybe", "12:yes", "x:1:yes", "12:-1:no", "1" * 19 + ":1:yes", ""):
        assert parse_resolved(bad) is None
    assert parse_refile("12:complaint") == (12, Link.COMPLAINT)
    for bad in ("12:appeal", "12", ":complaint", "12:complaint:x"):
        assert parse_refile(bad) is None
