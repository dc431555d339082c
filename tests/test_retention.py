"""The retention job (``storage.retention``, nightly in ``bot.schedule``) on SQLite and
PostgreSQL: tickets closed or refused longer ago than CITYBOT_RETENTION_YEARS lose their personal
data the way ``/forget`` erases it, ticket by ticket; recent and open tickets, the resident's
account and files another ticket still names are kept; running again changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_settings
from bot.schedule import RETENTION_JOB, register_retention
from broadcasts.jobs import OnceJobs
from storage import kept_files, ticket_rules, tickets
from storage.deadlines import TicketKind
from storage.filing import Attachment, FilingPolicy, TicketForm, file_ticket
from storage.models import AuditEntry, JobRun, KeptFile, Resident, Ticket, TicketMessage
from storage.residents import get_or_create_resident
from storage.retention import AUDIT_RETENTION, Swept, cutoff, erase_expired
from storage.textfold import fold
from storage.vocabulary import MessageDirection, TicketStatus

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2031, 6, 15, 0, 41, tzinfo=UTC)
FIVE_YEARS_AND_A_DAY = NOW.replace(year=2026) - timedelta(days=1)
FOUR_YEARS = NOW.replace(year=2027)
NAME = "Коваленко Олена Іванівна"


async def _kept(session: AsyncSession, key: str) -> str:
    file_id = await kept_files.add(
        session,
        channel="viber",
        external_id="olena==",
        update_key=key,
        kind="photo",
        file_name=f"{key}.jpg",
        mime_type="image/jpeg",
        content=key.encode(),
        now=NOW - timedelta(days=3000),
    )
    return kept_files.ref_of(file_id)


async def _file(
    session: AsyncSession, resident: Resident, body: str, at: datetime, refs: list[str]
) -> Ticket:
    ticket = await file_ticket(
        session,
        resident=resident,
        form=TicketForm(
            kind=TicketKind.APPEAL,
            channel="viber",
            body=body,
            category="housing",
            appeal_type="complaint",
            full_name=NAME,
            address="вул. Шевченка, 1",
            contact="+380671234567",
            attachments=tuple(Attachment("photo", ref, "photo.jpg", "фото") for ref in refs),
        ),
        now=at,
        policy=FilingPolicy(zone=KYIV),
    )
    tickets.add_message(
        session, ticket, direction=MessageDirection.STAFF, now=at, text="Відповідь", author_id=1
    )
    return ticket


async def _world(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """One resident with two tickets past the term (closed, refused), one closed four years
    ago and one still open (filed six years ago). The recent ticket shares a file with an old
    one."""
    async with sessionmaker() as session, session.begin():
        resident, _ = await get_or_create_resident(
            session,
            channel="viber",
            external_id="olena==",
            name="Олена",
            language="uk",
            now=NOW - timedelta(days=3000),
        )
        old_file, shared, recent_file = [await _kept(session, k) for k in ("u1", "u2", "u3")]
        closed = await _file(
            session, resident, "Протікає дах", NOW.replace(year=2025), [old_file, shared]
        )
        ticket_rules.close(closed, now=FIVE_YEARS_AND_A_DAY)
        refused = await _file(session, resident, "Шум уночі", NOW.replace(year=2025), [])
        ticket_rules.refuse(
            refused, ground="incomplete", comment="Немає адреси", now=FIVE_YEARS_AND_A_DAY
        )
        filed = NOW.replace(year=2027) - timedelta(days=30)
        recent = await _file(session, resident, "Немає опалення", filed, [shared, recent_file])
        ticket_rules.close(recent, now=FOUR_YEARS)
        still_open = await _file(session, resident, "Не працює ліфт", NOW.replace(year=2025), [])
        await session.flush()
        return {
            "resident": resident.id,
            "closed": closed.id,
            "refused": refused.id,
            "recent": recent.id,
            "open": still_open.id,
            "old_file": kept_files.id_of(old_file) or 0,
            "shared": kept_files.id_of(shared) or 0,
            "recent_file": kept_files.id_of(recent_file) or 0,
        }


async def _thread(session: AsyncSession, ticket_id: int) -> list[TicketMessage]:
    query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
    return list((await session.scalars(query.order_by(TicketMessage.id))).all())


async def _audits(session: AsyncSession) -> list[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.action == AUDIT_RETENTION)
    return list((await session.scalars(query.order_by(AuditEntry.id))).all())


async def test_tickets_past_the_term_are_erased_once_and_nothing_else(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _world(sessionmaker)
    # One ticket a transaction: the batches follow one another until none is left.
    swept = await erase_expired(sessionmaker, years=5, clock=lambda: NOW, batch=1)
    # Two tickets; their threads: two photos and an answer, and one answer; one file (the
    # shared one is still named by the recent ticket).
    assert swept == Swept(tickets=2, messages=4, files=1)
    async with sessionmaker() as session:
        for key in ("closed", "refused"):
            ticket = await session.get_one(Ticket, ids[key])
            personal = (ticket.full_name, ticket.address, ticket.contact, ticket.body)
            assert personal == (None, None, None, None)
            assert ticket.refusal_comment is None and ticket.erased_at == NOW
            # The desk's search text is the number alone now.
            assert ticket.search_text == fold(ticket.number)
            # The council keeps the number, kind, dates and status.
            assert ticket.number and ticket.kind == "appeal"
            assert ticket.closed_at == FIVE_YEARS_AND_A_DAY
            thread = await _thread(session, ids[key])
            assert thread and all(
                m.text is m.attachment_ref is m.attachment_name is None for m in thread
            )
        assert (await session.get_one(Ticket, ids["refused"])).status == TicketStatus.REFUSED
        for key in ("recent", "open"):
            ticket = await session.get_one(Ticket, ids[key])
            assert ticket.full_name == NAME and ticket.contact == "+380671234567"
            assert ticket.body and ticket.erased_at is None
            assert {m.text for m in await _thread(session, ids[key])} >= {"Відповідь"}
        recent_refs = {m.attachment_ref for m in await _thread(session, ids["recent"])}
        assert recent_refs >= {kept_files.ref_of(ids["shared"])}
        files = set((await session.scalars(select(KeptFile.id))).all())
        assert files == {ids["shared"], ids["recent_file"]}
        # The resident keeps their account (and name): only the old tickets went.
        resident = await session.get_one(Resident, ids["resident"])
        assert resident.name == "Олена" and resident.erased_at is None
        audits = await _audits(session)
        assert [(a.actor, a.at) for a in audits] == [("system:retention", NOW)] * 2
        assert [a.details["tickets"] for a in audits] == [1, 1]
        assert sum(a.details["messages"] for a in audits) == 4
        assert sum(a.details["files"] for a in audits) == 1
        assert audits[0].details["years"] == 5
        # Counts and the term only: nothing personal in the record.
        assert NAME not in str(audits[0].details) and "Олена" not in str(audits[0].details)

    # Idempotent: a second night finds nothing and records nothing.
    assert await erase_expired(sessionmaker, years=5, clock=lambda: NOW) == Swept()
    async with sessionmaker() as session:
        assert len(await _audits(session)) == 2
        erased = select(func.count()).select_from(Ticket).where(Ticket.erased_at.is_not(None))
        assert await session.scalar(erased) == 2


async def test_retention_zero_keeps_everything(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _world(sessionmaker)
    assert await erase_expired(sessionmaker, years=0, clock=lambda: NOW) == Swept()
    # Ten years: the tickets closed five years ago are within the term.
    assert await erase_expired(sessionmaker, years=10, clock=lambda: NOW) == Swept()
    async with sessionmaker() as session:
        ticket = await session.get_one(Ticket, ids["closed"])
        assert ticket.body == "Протікає дах" and ticket.erased_at is None
        assert await _audits(session) == []


def test_the_term_is_counted_in_calendar_years() -> None:
    assert cutoff(NOW, 5) == datetime(2026, 6, 15, 0, 41, tzinfo=UTC)
    leap = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)
    assert cutoff(leap, 5) == datetime(2023, 2, 28, 12, 0, tzinfo=UTC)


async def test_the_nightly_job_runs_once_per_night(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The job ``citybot run`` registers, fired the way the scheduler fires it."""
    ids = await _world(sessionmaker)
    settings = load_settings({"CITYBOT_RETENTION_YEARS": "5"})
    scheduler = AsyncIOScheduler(timezone=settings.zone)
    jobs = OnceJobs(scheduler=scheduler, sessionmaker=sessionmaker, zone=settings.zone)
    register_retention(jobs, settings, sessionmaker=sessionmaker, clock=lambda: NOW)
    job = scheduler.get_job(RETENTION_JOB)
    assert job is not None
    name, _trigger, run = job.args
    assert await jobs.run_once(name, NOW, run)
    # Another process, the same night: already done.
    assert not await jobs.run_once(name, NOW, run)
    async with sessionmaker() as session:
        assert (await session.get_one(Ticket, ids["closed"])).erased_at == NOW
        assert (await session.get_one(Ticket, ids["recent"])).erased_at is None
        runs = (await session.scalars(select(JobRun).where(JobRun.job == name))).all()
        assert len(runs) == 1 and runs[0].finished_at is not None
        assert len(await _audits(session)) == 1
    # Switched off: no job at all.
    off = AsyncIOScheduler(timezone=settings.zone)
    jobs = OnceJobs(scheduler=off, sessionmaker=sessionmaker, zone=settings.zone)
    register_retention(
        jobs,
        load_settings({"CITYBOT_RETENTION_YEARS": "0"}),
        sessionmaker=sessionmaker,
        clock=lambda: NOW,
    )
    assert off.get_jobs() == []
