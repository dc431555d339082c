"""The registry of civil-society organisations, for every desk: register and edit an
organisation, issue the one-time code that links its representative, invite organisations to
a consultation or a meeting (the invitation reaches the representative through the delivery
engine, with "we will take part" / "we cannot" buttons), and list who was invited and who
responded. Changes are for editors and administrators; every role reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_

from handlers.consultations.texts import ConsultationTexts
from handlers.staff.consultations.context import (
    MEETING_MAX,
    NO_TARGET,
    NOT_OPEN,
    ConsultationCore,
    OrganisationDraft,
    check_organisation,
    check_text,
    invalid,
)
from handlers.staff.core import EVERY_ROLE, Actor, Done, Outcome, Reason, Refused, StaffCall
from handlers.staff.tickets.context import Within
from messaging.i18n import LANGUAGES
from messaging.text import local_time
from storage import consultations, organisations
from storage.consultations import ConsultationStatus
from storage.models import Consultation, Organisation, Resident
from storage.organisations import Responded


def _audit(call: StaffCall, action: str, organisation_id: int, **details: object) -> None:
    call.audit(action, subject=f"organisation:{organisation_id}", **details)


def _apply(organisation: Organisation, draft: OrganisationDraft) -> None:
    organisation.name = draft.name.strip()
    organisation.kind = draft.kind
    organisation.contact_person = (draft.contact_person or "").strip() or None
    organisation.contact = (draft.contact or "").strip() or None
    organisation.topics = sorted(set(draft.topics))
    organisation.districts = sorted(set(draft.districts))


async def register(
    core: ConsultationCore, actor: Actor, draft: OrganisationDraft, *, within: Within | None = None
) -> Outcome[Organisation]:
    bad = check_organisation(draft)
    if bad is not None:
        return bad
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        organisation = organisations.create(
            call.session,
            name=draft.name.strip(),
            kind=draft.kind,
            contact_person=None,
            contact=None,
            topics=(),
            districts=(),
            now=call.now,
            created_by=call.staff.id,
        )
        _apply(organisation, draft)
        await call.session.flush()
        _audit(call, "organisation.register", organisation.id, kind=draft.kind)
        return Done(organisation)


async def edit(
    core: ConsultationCore,
    actor: Actor,
    organisation_id: int,
    draft: OrganisationDraft,
    *,
    within: Within | None = None,
) -> Outcome[Organisation]:
    bad = check_organisation(draft)
    if bad is not None:
        return bad
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        organisation = await organisations.get(call.session, organisation_id, lock=True)
        if organisation is None:
            return Refused(Reason.NOT_FOUND)
        _apply(organisation, draft)
        organisation.updated_at = call.now
        _audit(call, "organisation.edit", organisation.id, kind=draft.kind)
        return Done(organisation)


@dataclass(frozen=True, slots=True)
class Code:
    """A representative's one-time code, shown to staff once, and until when it works."""

    organisation: Organisation
    code: str
    expires_at: datetime


async def issue_code(
    core: ConsultationCore, actor: Actor, organisation_id: int, *, within: Within | None = None
) -> Outcome[Code]:
    """A new code for the organisation (the last one stops working). The audit record does not
    hold the code."""
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        organisation = await organisations.get(call.session, organisation_id, lock=True)
        if organisation is None:
            return Refused(Reason.NOT_FOUND)
        code = organisations.issue_code(organisation, now=call.now)
        _audit(call, "organisation.code", organisation.id)
        assert organisation.code_expires_at is not None
        return Done(Code(organisation, code, organisation.code_expires_at))


@dataclass(frozen=True, slots=True)
class Invited:
    """Invitations written; ``reached``: how many went to a linked representative (the others
    wait for staff to reach the contact person some other way)."""

    invitation_ids: tuple[int, ...]
    reached: int


@dataclass(frozen=True, slots=True)
class Invite:
    """To a consultation (``consultation_id``) or to a meeting (``meeting`` and its time)."""

    organisation_ids: tuple[int, ...]
    consultation_id: int | None = None
    meeting: str | None = None
    meeting_at: datetime | None = None


async def _target(call: StaffCall, invite: Invite) -> Consultation | Refused | None:
    if invite.consultation_id is None:
        meeting = (invite.meeting or "").strip()
        if not meeting:
            return invalid(NO_TARGET)
        return check_text(meeting, MEETING_MAX)
    consultation = await consultations.get(call.session, invite.consultation_id)
    if consultation is None:
        return Refused(Reason.NOT_FOUND)
    if consultation.status != ConsultationStatus.OPEN.value:
        return Refused(Reason.STATE, {"code": NOT_OPEN})
    return consultation


async def invite(
    core: ConsultationCore, actor: Actor, invite: Invite, *, within: Within | None = None
) -> Outcome[Invited]:
    """Invite each organisation once per call; a representative gets it in their language."""
    if not invite.organisation_ids:
        return invalid(NO_TARGET)
    async with core.call(actor, within) as call:
        if isinstance(call, Refused):
            return call
        target = await _target(call, invite)
        if isinstance(target, Refused):
            return target
        ids, reached = [], 0
        for organisation_id in dict.fromkeys(invite.organisation_ids):
            organisation = await organisations.get(call.session, organisation_id)
            if organisation is None:
                return Refused(Reason.NOT_FOUND, {"organisation": organisation_id})
            invitation = organisations.invite(
                call.session,
                organisation_id=organisation.id,
                consultation_id=invite.consultation_id,
                meeting=(invite.meeting or "").strip() or None,
                meeting_at=invite.meeting_at,
                sent_by=call.staff.id,
                now=call.now,
            )
            await call.session.flush()
            if organisation.representative_id is not None:
                invitation.broadcast_id = await _send(
                    core, call, organisation, invitation.id, invite, target
                )
                reached += 1
            _audit(
                call,
                "organisation.invite",
                organisation.id,
                invitation=invitation.id,
                consultation=invite.consultation_id,
            )
            ids.append(invitation.id)
        if reached:
            call.later(_wake, core)
        return Done(Invited(tuple(ids), reached))


async def _wake(core: ConsultationCore) -> None:
    core.wake()


async def _send(
    core: ConsultationCore,
    call: StaffCall,
    organisation: Organisation,
    invitation_id: int,
    invite: Invite,
    consultation: Consultation | None,
) -> int | None:
    texts = ConsultationTexts(core.catalog, core.zone)
    when = local_time(invite.meeting_at, core.zone) if invite.meeting_at else None
    planned = await consultations.plan_by_language(
        call.session,
        kind=consultations.KIND_INVITE,
        ref=str(invitation_id),
        title=organisation.name,
        texts={
            lang: str(
                texts.invitation(
                    lang,
                    organisation.name,
                    consultation=consultation,
                    meeting=invite.meeting,
                    meeting_at=when,
                )
            )
            for lang in LANGUAGES
        },
        buttons={
            lang: texts.invitation_buttons(lang, invitation_id, invite.consultation_id)
            for lang in LANGUAGES
        },
        audience=and_(Resident.id == organisation.representative_id),
        default_language=core.default_language,
        created_by=call.staff.id,
        now=call.now,
    )
    return planned.broadcast_ids[0] if planned.broadcast_ids else None


async def responses(
    core: ConsultationCore,
    actor: Actor,
    *,
    consultation_id: int | None = None,
    within: Within | None = None,
) -> Outcome[Sequence[Responded]]:
    """Who was invited (to this consultation, or to anything), who answered and how, and who
    submitted."""
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        return Done(await organisations.invitations(call.session, consultation_id=consultation_id))


async def registry(
    core: ConsultationCore, actor: Actor, *, within: Within | None = None
) -> Outcome[Sequence[Organisation]]:
    async with core.call(actor, within, roles=EVERY_ROLE) as call:
        if isinstance(call, Refused):
            return call
        return Done(await organisations.listing(call.session))
