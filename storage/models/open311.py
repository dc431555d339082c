"""Open311 GeoReport v2: the integrators' keys and what a request posted through the API keeps
beside its ticket (``storage.open311``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, BigId


class Open311Key(Base):
    """An integrator's ``api_key`` (the contact centre 1520, an executor's system): only its
    SHA-256 is stored; the key itself is shown once, by ``citybot open311 key add``. Revoked,
    never deleted: the requests it posted keep naming it."""

    __tablename__ = "open311_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class Open311Request(Base):
    """A ticket filed through ``POST requests.json``: the key that posted it, the token the
    integrator may look it up by, and the fields of the request that have no place on a ticket.
    The requester's name, e-mail and phone are the ticket's personal fields (erased with it),
    never kept here."""

    __tablename__ = "open311_requests"

    ticket_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    key_id: Mapped[int] = mapped_column(BigId, ForeignKey("open311_keys.id"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    lat: Mapped[float | None] = mapped_column(Float)
    long: Mapped[float | None] = mapped_column(Float)
    media_url: Mapped[str | None] = mapped_column(Text)
    # The integrator's own ids of the caller's device or account (optional in the spec): with
    # the text's digest, what makes a repeated POST within a minute the same request.
    device_id: Mapped[str | None] = mapped_column(String(64))
    account_id: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]


# A key's recent posts: the rate limit and the repeated-POST check read this.
Index("ix_open311_requests_key_created", Open311Request.key_id, Open311Request.created_at)
