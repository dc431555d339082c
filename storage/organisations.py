"""The registry of civil-society organisations (issue 18): NGOs, parties, religious communities
and initiative groups, their representatives and the invitations staff send them.

A representative is a resident linked by a one-time code, as ``/link`` links two messengers
(``storage.linking``): staff issue the code from a desk and hand it to the organisation's
contact person, who types it to the bot. Codes are ``CODE_LENGTH`` characters of an alphabet
without look-alikes (32^10 ≈ 10^15 values), valid ``CODE_TTL``, single use, and kept only as
their SHA-256: guessing one among the few live codes is hopeless without a throttle, and a
leaked database gives no live code away. The caller commits.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConsultationSubmission, Invitation, Organisation, Resident

CODE_PREFIX: Final = "ORG-"
# Digits and capitals without the look-alikes 0/O and 1/I: 32 characters.
CODE_ALPHABET: Final = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
CODE_LENGTH: Final = 10
CODE_TTL: Final = timedelta(days=7)


class OrganisationKind(StrEnum):
    NGO = "ngo"
    PARTY = "party"
    RELIGIOUS = "religious"
    INITIATIVE = "initiative"


class Response(StrEnum):
    YES = "yes"
    NO = "no"


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def looks_like_code(text: str | None) -> str | None:
    """The organisation code in a message that is nothing but one (any case, spaces and the
    prefix optional after it was typed as shown): ``ORG-ABCDE23456``."""
    if not text:
        return None
    compact = "".join(text.split()).upper()
    if not compact.startswith(CODE_PREFIX):
        return None
    body = compact[len(CODE_PREFIX) :].replace("-", "")
    if len(body) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in body):
        return None
    return CODE_PREFIX + body


def create(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    contact_person: str | None,
    contact: str | None,
    topics: Sequence[str],
    districts: Sequence[str],
    now: datetime,
    created_by: int | None,
) -> Organisation:
    organisation = Organisation(
        name=name,
        kind=kind,
        contact_person=contact_person,
        contact=contact,
        topics=sorted(set(topics)),
        districts=sorted(set(districts)),
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    session.add(organisation)
    return organisation


async def get(
    session: AsyncSession, organisation_id: int, *, lock: bool = False
) -> Organisation | None:
    query = select(Organisation).where(Organisation.id == organisation_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def listing(session: AsyncSession) -> list[Organisation]:
    return list((await session.scalars(select(Organisation).order_by(Organisation.name))).all())


def issue_code(organisation: Organisation, *, now: datetime) -> str:
    """A new one-time code for the organisation's representative (the last one stops working)."""
    body = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    code = CODE_PREFIX + body
    organisation.code_hash = _digest(code)
    organisation.code_expires_at = now + CODE_TTL
    organisation.updated_at = now
    return code


async def redeem(
    session: AsyncSession, *, code: str, resident: Resident, now: datetime
) -> Organisation | None:
    """Make ``resident`` the representative of the organisation whose live code this is; None
    when no live code matches (wrong, used or expired). The code is used up."""
    normal = looks_like_code(code)
    if normal is None:
        return None
    query = select(Organisation).where(Organisation.code_hash == _digest(normal)).with_for_update()
    organisation = (await session.execute(query)).scalar_one_or_none()
    if organisation is None:
        return None
    expires = organisation.code_expires_at
    organisation.code_hash = None
    organisation.code_expires_at = None
    if expires is None or expires <= now:
        return None
    organisation.representative_id = resident.id
    organisation.linked_at = now
    organisation.updated_at = now
    return organisation


async def represented_by(session: AsyncSession, resident_id: int) -> list[Organisation]:
    query = (
        select(Organisation)
        .where(Organisation.representative_id == resident_id)
        .order_by(Organisation.name)
    )
    return list((await session.scalars(query)).all())


# -- invitations ------------------------------------------------------------------------------


def invite(
    session: AsyncSession,
    *,
    organisation_id: int,
    consultation_id: int | None,
    meeting: str | None,
    meeting_at: datetime | None,
    sent_by: int | None,
    now: datetime,
) -> Invitation:
    invitation = Invitation(
        organisation_id=organisation_id,
        consultation_id=consultation_id,
        meeting=meeting,
        meeting_at=meeting_at,
        sent_by=sent_by,
        sent_at=now,
    )
    session.add(invitation)
    return invitation


async def get_invitation(session: AsyncSession, invitation_id: int) -> Invitation | None:
    return await session.get(Invitation, invitation_id)


async def respond(
    session: AsyncSession, *, invitation_id: int, response: Response, now: datetime
) -> bool:
    """Record the answer once (a second press changes nothing): whether it was recorded."""
    result = await session.execute(
        update(Invitation)
        .where(Invitation.id == invitation_id, Invitation.response.is_(None))
        .values(response=response.value, responded_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


@dataclass(frozen=True, slots=True)
class Responded:
    """An invitation as staff see it: the organisation, its answer, and (for a consultation)
    whether it submitted."""

    invitation: Invitation
    organisation: Organisation
    submitted: bool


async def invitations(
    session: AsyncSession, *, consultation_id: int | None = None
) -> list[Responded]:
    query = (
        select(Invitation, Organisation)
        .join(Organisation, Organisation.id == Invitation.organisation_id)
        .order_by(Invitation.id)
    )
    if consultation_id is not None:
        query = query.where(Invitation.consultation_id == consultation_id)
    rows = (await session.execute(query)).all()
    submitted: set[int] = set()
    if consultation_id is not None:
        submitted = {
            organisation_id
            for organisation_id in (
                await session.scalars(
                    select(ConsultationSubmission.organisation_id).where(
                        ConsultationSubmission.consultation_id == consultation_id,
                        ConsultationSubmission.organisation_id.is_not(None),
                    )
                )
            ).all()
            if organisation_id is not None
        }
    return [Responded(row[0], row[1], row[1].id in submitted) for row in rows]


async def count(session: AsyncSession) -> int:
    return int((await session.scalar(select(func.count()).select_from(Organisation))) or 0)
