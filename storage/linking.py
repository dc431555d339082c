"""One resident across Telegram and Viber: linking codes, the merge, unlinking, and where a
linked person is reached.

The model (chosen over a separate identities table because every query over ``residents`` stays
as it is for the unlinked majority):

- A person in both messengers is two ``residents`` rows. The **primary** — the one that asked
  for the code — owns everything: settings, consent, topics, district, digest, tickets, votes,
  deliveries and the conversation state. The other row is an **alias** (``linked_to`` = the
  primary's id): it only keeps what belongs to that messenger account (channel, id, whether the
  messenger can reach it, when it was last seen). Every incoming event of the alias is handled
  as the primary's (``resolve``); its replies still go back to the messenger it came from.
- News and staff answers reach the person once, through ``preferred_channel`` (None: the
  primary's own messenger); when that account blocked the bot and the other did not, through
  the other one. Broadcast planning keeps its single ``INSERT … SELECT``: the alias rows are left
  out, and the address is a ``CASE`` over an outer join with the few reachable aliases
  (``persons``, ``delivery_channel``, ``delivery_external_id``).
- Staff answers and notices go to the preferred messenger too (not the one a ticket was filed
  from: the person chose where the bot reaches them); the ticket keeps the messenger it came
  from in ``tickets.channel``.
- Unlinking gives the alias back a resident of its own with default settings (not onboarded, no
  consent: it is asked again there); every ticket, vote and delivery stays with the primary.

Codes: six random digits, valid ``CODE_TTL``, single use, one live code per resident, to be
typed in the *other* messenger. Guessing is capped (``GUESSES_PER_RESIDENT`` wrong codes per
resident and ``GUESSES_GLOBAL`` in all per ``GUESS_WINDOW``, counted from the audit log, the
attempts serialised by a row lock), so at most 50 of the 10^6 codes can be tried while one code
lives: a chance of at most 5·10^-5 of hitting it. The person who asked for the code is told in
their messenger when it is used (``handlers.linking.LinkNotices``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import (
    ColumnElement,
    FromClause,
    and_,
    case,
    delete,
    func,
    not_,
    or_,
    outerjoin,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from storage import audit
from storage.models import (
    AppSetting,
    AuditEntry,
    ConversationState,
    Delivery,
    IncidentAnswer,
    IncidentFollower,
    LinkCode,
    Poll,
    PollVote,
    Resident,
    Ticket,
)
from storage.residents import Known, set_topics
from storage.vocabulary import Digest, Topic

CODE_DIGITS: Final = 6
CODE_TTL: Final = timedelta(minutes=10)
GUESS_WINDOW: Final = timedelta(minutes=10)
# Wrong codes one resident may type per window: enough for typos, far too few to guess.
GUESSES_PER_RESIDENT: Final = 5
# Wrong codes everyone together may type per window: against many accounts guessing at once.
# Past it nobody can link for the rest of the window (a guessing attack costs availability,
# never an account).
GUESSES_GLOBAL: Final = 50
# Codes one resident may ask for per window (each replaces the last).
CODES_PER_RESIDENT: Final = 5
# The ``app_settings`` row code attempts lock, one after the other.
GUARD_KEY: Final = "link.guard"

AUDIT_ISSUED: Final = "link.code_issued"
# A wrong or expired code (counted against guessing) and any other refusal (not counted).
AUDIT_GUESS: Final = "link.code_wrong"
AUDIT_REFUSED: Final = "link.code_refused"
AUDIT_LINKED: Final = "resident.linked"
AUDIT_UNLINKED: Final = "resident.unlinked"
AUDIT_PREFERRED: Final = "resident.preferred_channel"

# Why a code was not accepted.
UNKNOWN: Final = "unknown"  # no such live code (wrong, or used already)
EXPIRED: Final = "expired"
SAME_CHANNEL: Final = "same_channel"  # typed in the messenger it was issued in
ALREADY_LINKED: Final = "already_linked"  # either side is linked already
THROTTLED: Final = "throttled"  # too many wrong codes from this resident
THROTTLED_GLOBAL: Final = "throttled_global"  # too many wrong codes from everyone
# Refusals that count as a guess.
_GUESSES: Final = frozenset({UNKNOWN, EXPIRED})


class LinkRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TooManyCodes(Exception):
    """The resident asked for codes too often."""


def looks_like_code(text: str | None) -> str | None:
    """The code in a message that is nothing but six digits (spaces allowed: "123 456")."""
    if text is None:
        return None
    compact = "".join(text.split())
    if len(compact) == CODE_DIGITS and compact.isascii() and compact.isdigit():
        return compact
    return None


# -- who is who ------------------------------------------------------------------------------


async def resolve(session: AsyncSession, known: Known) -> tuple[Known, Resident | None]:
    """The person behind an incoming event's identity: ``known`` itself, or — for an alias —
    its primary with the primary's conversation state, and the alias row (the identity the
    event came from)."""
    identity = known.resident
    if identity.linked_to is None:
        return known, None
    row = (
        (
            await session.execute(
                select(Resident, ConversationState)
                .outerjoin(ConversationState, ConversationState.resident_id == Resident.id)
                .options(joinedload(Resident.topics))
                .where(Resident.id == identity.linked_to)
            )
        )
        .unique()
        .one_or_none()
    )
    if row is None:
        # A dangling link (cannot happen through this module): the identity stands alone.
        identity.linked_to = None
        return known, None
    primary, state = row
    return Known(resident=primary, state=state, created=False), identity


async def alias_of(session: AsyncSession, primary: Resident) -> Resident | None:
    result = await session.execute(select(Resident).where(Resident.linked_to == primary.id))
    return result.scalar_one_or_none()


async def identities(session: AsyncSession, resident: Resident) -> list[Resident]:
    """The person's messenger accounts: the primary first, then the alias if linked."""
    alias = await alias_of(session, resident)
    return [resident] if alias is None else [resident, alias]


def preferred(primary: Resident) -> str:
    return primary.preferred_channel or primary.channel


async def delivery_identity(session: AsyncSession, primary: Resident) -> Resident:
    """The account to reach the person through (same rule as ``delivery_channel``): the
    preferred one, or the other when only that one can be reached."""
    alias = await alias_of(session, primary)
    if alias is None:
        return primary
    wanted, other = (alias, primary) if preferred(primary) == alias.channel else (primary, alias)
    return other if not wanted.is_active and other.is_active else wanted


# -- SQL for planning (broadcasts, digests) ----------------------------------------------------

# A person's reachable alias, joined to their primary row in ``persons()``.
_Alias = aliased(Resident, name="linked_alias")


def persons() -> FromClause:
    """``residents`` with each row's reachable alias (NULLs for nearly everyone): what
    ``reachable``, ``delivery_channel`` and ``delivery_external_id`` read. An outer join
    against the few aliases (a hash of a small set), not a subquery per row: planning a million
    residents stays one cheap statement."""
    return outerjoin(
        Resident,
        _Alias,
        and_(_Alias.linked_to == Resident.id, _Alias.is_active.is_(True)),
    )


def _via_alias() -> ColumnElement[bool]:
    """Reached through the alias: it is preferred, or the primary's own account is blocked."""
    return and_(
        _Alias.id.is_not(None),
        or_(Resident.preferred_channel == _Alias.channel, Resident.is_active.is_(False)),
    )


def delivery_channel() -> ColumnElement[str]:
    return case((_via_alias(), _Alias.channel), else_=Resident.channel)


def delivery_external_id() -> ColumnElement[str]:
    return case((_via_alias(), _Alias.external_id), else_=Resident.external_id)


def reachable() -> ColumnElement[bool]:
    """A person (a primary or an unlinked resident, never an alias) one of whose accounts the
    messenger can reach."""
    return and_(
        Resident.linked_to.is_(None),
        or_(Resident.is_active.is_(True), _Alias.id.is_not(None)),
    )


# -- codes -----------------------------------------------------------------------------------


async def _count_audit(
    session: AsyncSession, *, action: str, since: datetime, actor: str | None = None
) -> int:
    query = select(func.count()).where(AuditEntry.action == action, AuditEntry.at > since)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    return int((await session.execute(query)).scalar_one())


def _actor(resident: Resident) -> str:
    return f"resident:{resident.id}"


async def issue_code(session: AsyncSession, *, resident: Resident, now: datetime) -> LinkCode:
    """A new code for ``resident`` (a primary or unlinked resident), replacing their previous
    one. Raises ``TooManyCodes`` past ``CODES_PER_RESIDENT`` per window."""
    issued = await _count_audit(
        session, action=AUDIT_ISSUED, since=now - GUESS_WINDOW, actor=_actor(resident)
    )
    if issued >= CODES_PER_RESIDENT:
        raise TooManyCodes
    await session.execute(
        delete(LinkCode).where(or_(LinkCode.resident_id == resident.id, LinkCode.expires_at <= now))
    )
    while True:
        code = "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))
        # Live codes are few (one per resident, ten minutes): a clash is rare and retried.
        if await session.get(LinkCode, code) is None:
            break
    row = LinkCode(
        code=code,
        resident_id=resident.id,
        channel=resident.channel,
        created_at=now,
        expires_at=now + CODE_TTL,
    )
    session.add(row)
    await session.flush()
    audit.record(
        session,
        actor=_actor(resident),
        action=AUDIT_ISSUED,
        now=now,
        details={"channel": resident.channel, "expires_at": row.expires_at.isoformat()},
    )
    return row


async def _one_at_a_time(session: AsyncSession) -> None:
    """Serialise code attempts (they are rare): on PostgreSQL concurrent attempts would each
    count the guesses before any of them recorded its own, and together pass the caps. The
    row is made by migration 0015; made here if missing (a concurrent first maker fails on the
    primary key and its update is delivered again)."""
    guard = await session.get(AppSetting, GUARD_KEY, with_for_update=True)
    if guard is None:
        session.add(AppSetting(key=GUARD_KEY, value={}))
        await session.flush()


async def _throttled(session: AsyncSession, *, resident: Resident, now: datetime) -> str | None:
    """Whether this resident (or everyone) typed too many wrong codes lately. Only guesses
    (``AUDIT_GUESS``) count; while throttled, even a right code is refused, or guessing would
    simply go on until it hits."""
    await _one_at_a_time(session)
    since = now - GUESS_WINDOW
    mine = await _count_audit(session, action=AUDIT_GUESS, since=since, actor=_actor(resident))
    if mine >= GUESSES_PER_RESIDENT:
        return THROTTLED
    if await _count_audit(session, action=AUDIT_GUESS, since=since) >= GUESSES_GLOBAL:
        return THROTTLED_GLOBAL
    return None


def _refuse(
    session: AsyncSession, *, resident: Resident, reason: str, now: datetime
) -> LinkRefused:
    """The refusal to raise, audited: a wrong or expired code as a guess, the rest not."""
    audit.record(
        session,
        actor=_actor(resident),
        action=AUDIT_GUESS if reason in _GUESSES else AUDIT_REFUSED,
        now=now,
        details={"reason": reason, "channel": resident.channel},
    )
    return LinkRefused(reason)


@dataclass(frozen=True, slots=True)
class Merged:
    """What moved from the alias to the primary."""

    tickets: int
    votes: int
    votes_dropped: int
    deliveries: int
    follows: int


@dataclass(frozen=True, slots=True)
class Linked:
    primary: Resident
    alias: Resident
    merged: Merged


async def redeem(session: AsyncSession, *, code: str, identity: Resident, now: datetime) -> Linked:
    """``identity`` (the account the code was typed in, not linked) typed ``code``: link it as
    the alias of the code's owner and merge its data into theirs. Raises ``LinkRefused``; every
    refusal is audited, and wrong or expired codes count as guesses."""
    reason = await _throttled(session, resident=identity, now=now)
    if reason is not None:
        raise _refuse(session, resident=identity, reason=reason, now=now)
    found = await session.get(LinkCode, code, with_for_update=True)
    if found is None:
        raise _refuse(session, resident=identity, reason=UNKNOWN, now=now)
    if found.expires_at <= now:
        await session.delete(found)
        raise _refuse(session, resident=identity, reason=EXPIRED, now=now)
    if found.channel == identity.channel:
        if found.resident_id == identity.id:
            # Not a guess: the resident typed their own code in the same messenger (it stays).
            raise _refuse(session, resident=identity, reason=SAME_CHANNEL, now=now)
        # Someone else's live code in the same messenger: told (and counted) as a wrong code,
        # or guessing there would find live codes without limit, to use from the other one.
        raise _refuse(session, resident=identity, reason=UNKNOWN, now=now)
    primary = await session.get(Resident, found.resident_id, populate_existing=True)
    if (
        primary is None
        or primary.linked_to is not None
        or identity.linked_to is not None
        or await alias_of(session, primary) is not None
        or await alias_of(session, identity) is not None
    ):
        raise _refuse(session, resident=identity, reason=ALREADY_LINKED, now=now)
    # Single use: gone before anything else happens.
    await session.delete(found)
    merged = await _merge(session, primary=primary, alias=identity, now=now)
    identity.linked_to = primary.id
    primary.preferred_channel = None
    await session.flush()
    audit.record(
        session,
        actor=_actor(primary),
        action=AUDIT_LINKED,
        subject=f"resident:{identity.id}",
        now=now,
        details={
            "channels": [primary.channel, identity.channel],
            "tickets": merged.tickets,
            "votes": merged.votes,
            "votes_dropped": merged.votes_dropped,
            "deliveries": merged.deliveries,
            "incident_follows": merged.follows,
        },
    )
    return Linked(primary=primary, alias=identity, merged=merged)


async def _merge(
    session: AsyncSession, *, primary: Resident, alias: Resident, now: datetime
) -> Merged:
    """Move the alias's data to the primary; nothing is lost.

    - Tickets: all of them (each keeps the messenger it was filed from in ``tickets.channel``).
    - Poll votes (primary key poll, resident, option): a poll only the alias voted in moves.
      A poll both voted in keeps the primary's choice — one person, one voice: in an open poll
      the alias's votes are withdrawn; in a closed one they stay in the published totals under
      a random negative id, as ``/forget`` leaves them (results already announced never change).
    - Deliveries (unique broadcast, resident): those of broadcasts the primary did not get move;
      a broadcast both got keeps the alias's row under the alias's id (history stays whole).
    - Incidents the alias followed, and its answers to "resolved for you?": they move (only a
      person, never an alias, is sent an incident's updates or may answer); where both follow
      one incident or both answered, the primary's row is the person's.
    - Settings stay the primary's (they asked for the code); a ban on either side applies to
      the person. The alias's conversation state is dropped by the caller's turn.
    """
    ids = {"primary": primary.id, "alias": alias.id}
    tickets = await session.execute(
        update(Ticket)
        .where(Ticket.resident_id == ids["alias"])
        .values(resident_id=ids["primary"])
        .execution_options(synchronize_session=False)
    )
    both = (
        await session.execute(
            select(Poll.id, Poll.status, Poll.closes_at).where(
                select(PollVote.poll_id)
                .where(PollVote.poll_id == Poll.id, PollVote.resident_id == ids["alias"])
                .exists(),
                select(PollVote.poll_id)
                .where(PollVote.poll_id == Poll.id, PollVote.resident_id == ids["primary"])
                .exists(),
            )
        )
    ).all()
    dropped = 0
    for poll_id, status, closes_at in both:
        theirs = and_(PollVote.poll_id == poll_id, PollVote.resident_id == ids["alias"])
        if status == "open" and closes_at > now:
            result = await session.execute(
                delete(PollVote).where(theirs).execution_options(synchronize_session=False)
            )
            dropped += int(getattr(result, "rowcount", 0) or 0)
        else:
            await session.execute(
                update(PollVote)
                .where(theirs)
                .values(resident_id=-(secrets.randbits(62) + 1))
                .execution_options(synchronize_session=False)
            )
    votes = await session.execute(
        update(PollVote)
        .where(PollVote.resident_id == ids["alias"])
        .values(resident_id=ids["primary"])
        .execution_options(synchronize_session=False)
    )
    primary_broadcasts = select(Delivery.broadcast_id).where(Delivery.resident_id == ids["primary"])
    deliveries = await session.execute(
        update(Delivery)
        .where(
            Delivery.resident_id == ids["alias"],
            not_(Delivery.broadcast_id.in_(primary_broadcasts.scalar_subquery())),
        )
        .values(resident_id=ids["primary"])
        .execution_options(synchronize_session=False)
    )
    follows = await _merge_incidents(session, ids)
    await session.execute(delete(LinkCode).where(LinkCode.resident_id == ids["alias"]))
    if primary.banned_at is None and alias.banned_at is not None:
        primary.banned_at, primary.banned_by = alias.banned_at, alias.banned_by
    if not primary.name and alias.name:
        primary.name = alias.name
    return Merged(
        tickets=int(getattr(tickets, "rowcount", 0) or 0),
        votes=int(getattr(votes, "rowcount", 0) or 0),
        votes_dropped=dropped,
        deliveries=int(getattr(deliveries, "rowcount", 0) or 0),
        follows=follows,
    )


async def _merge_incidents(session: AsyncSession, ids: dict[str, int]) -> int:
    """The alias's incident follows and answers become the primary's (see ``_merge``);
    returns how many follows moved."""
    moved = 0
    for table in (IncidentFollower, IncidentAnswer):
        primary_has = select(table.incident_id).where(table.resident_id == ids["primary"])
        both = and_(
            table.resident_id == ids["alias"],
            table.incident_id.in_(primary_has.scalar_subquery()),
        )
        await session.execute(
            delete(table).where(both).execution_options(synchronize_session=False)
        )
        result = await session.execute(
            update(table)
            .where(table.resident_id == ids["alias"])
            .values(resident_id=ids["primary"])
            .execution_options(synchronize_session=False)
        )
        if table is IncidentFollower:
            moved = int(getattr(result, "rowcount", 0) or 0)
    return moved


# -- after linking ---------------------------------------------------------------------------


async def set_preferred(
    session: AsyncSession, *, primary: Resident, channel: str, now: datetime
) -> bool:
    """Send news and answers through ``channel`` (one of the person's messengers). False when
    the person has no account there."""
    accounts = {account.channel for account in await identities(session, primary)}
    if channel not in accounts:
        return False
    wanted = None if channel == primary.channel else channel
    if primary.preferred_channel != wanted:
        primary.preferred_channel = wanted
        audit.record(
            session,
            actor=_actor(primary),
            action=AUDIT_PREFERRED,
            now=now,
            details={"channel": channel},
        )
    return True


async def unlink(
    session: AsyncSession, *, primary: Resident, now: datetime, reason: str = "resident"
) -> Resident | None:
    """Split the person again. The alias becomes a resident of its own with default settings
    (not onboarded, no consent: that messenger asks again); tickets, votes and deliveries stay
    with the primary. Returns the former alias (None when not linked)."""
    alias = await alias_of(session, primary)
    if alias is None:
        return None
    alias.linked_to = None
    primary.preferred_channel = None
    alias.language = primary.language
    alias.consent_at = None
    alias.policy_version = None
    alias.onboarded_at = None
    alias.district = None
    alias.digest = Digest.INSTANT.value
    alias.subscribed = True
    alias.last_digest_at = None
    # A ban stays with both: unlinking is no way around it.
    if primary.banned_at is not None:
        alias.banned_at, alias.banned_by = primary.banned_at, primary.banned_by
    set_topics(alias, (topic.value for topic in Topic))
    await session.execute(
        delete(ConversationState).where(ConversationState.resident_id == alias.id)
    )
    audit.record(
        session,
        actor=_actor(primary),
        action=AUDIT_UNLINKED,
        subject=f"resident:{alias.id}",
        now=now,
        details={"channels": [primary.channel, alias.channel], "reason": reason},
    )
    return alias
