"""Incidents (issue 17): one problem many residents write about (the water off in a district),
the tickets staff or the suggester linked to it, the residents who follow it, and each status
update sent to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId


class Incident(Base):
    """One problem, described for residents: what, where (no districts: the whole city), how
    far staff are with it (investigating → working → resolved) and when it should be over."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(256))
    category: Mapped[str | None] = mapped_column(String(32))
    # District codes (``storage.vocabulary.District``); empty: the whole city.
    districts: Mapped[list[str]] = mapped_column(JSON, default=list)
    # What residents are told about it (plain text as staff typed it).
    description: Mapped[str] = mapped_column(Text, default="")
    # investigating | working | resolved (``storage.incidents.IncidentStatus``).
    status: Mapped[str] = mapped_column(String(16), index=True)
    expected_at: Mapped[datetime | None]
    opened_at: Mapped[datetime] = mapped_column(index=True)
    resolved_at: Mapped[datetime | None]
    # The answer given at closing: each linked feedback ticket's answer, and the legal answer
    # staff may send to linked appeals and information requests.
    answer: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class IncidentTicket(Base):
    """A ticket about an incident. A ticket belongs to one incident at most."""

    __tablename__ = "incident_tickets"

    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    # "staff" (``staff_id`` linked it), "suggested" (the resident filed anyway after the match
    # prompt, or the suggester's auto-link) or "resident" (filed from a "not resolved for me").
    linked_by: Mapped[str] = mapped_column(String(16))
    staff_id: Mapped[int | None] = mapped_column(BigInteger)
    linked_at: Mapped[datetime]


class IncidentFollower(Base):
    """A resident who chose "follow" at the match prompt instead of filing a ticket: they get
    every status update as the residents of linked tickets do."""

    __tablename__ = "incident_followers"

    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    followed_at: Mapped[datetime]


Index("ix_incident_followers_resident", IncidentFollower.resident_id)


class IncidentUpdate(Base):
    """A status update as it was sent: its text, the status it announced, who sent it and to
    how many residents (the audit and the delivery both read it)."""

    __tablename__ = "incident_updates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    staff_id: Mapped[int | None] = mapped_column(BigInteger)
    at: Mapped[datetime]
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    # Also sent as urgent news to the districts' subscribers (the broadcast planned).
    news_broadcast_id: Mapped[int | None] = mapped_column(BigId)


class IncidentAnswer(Base):
    """A resident's answer to the final "resolved for you?" question: one per resident and
    incident (a second press changes nothing)."""

    __tablename__ = "incident_answers"

    incident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    resident_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    resolved: Mapped[bool] = mapped_column(Boolean)
    # The ticket the "no" reopened or filed (None for a "yes").
    ticket_id: Mapped[int | None] = mapped_column(BigId)
    at: Mapped[datetime]
