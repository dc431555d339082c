"""Residents and incidents end to end, in Telegram and in Viber (fakes over HTTP), on SQLite and
PostgreSQL: told at filing that the council knows, following instead of filing, filing anyway
(linked automatically), each status update delivered once by the delivery engine to a resident
who both follows and reported, and "not resolved for me" reopening their own ticket."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Runtime
from handlers.staff import incidents as ops
from handlers.staff.core import Actor, Desk
from storage.incidents import IncidentStatus
from storage.models import AuditEntry, IncidentFollower, IncidentTicket, Ticket
from storage.vocabulary import Role, TicketStatus, system_clock
from tests.harness import (
    WORLDS,
    Resident_,
    TelegramResident,
    ViberResident,
    World,
    find_resident,
    onboard,
    running_bot,
    submit_feedback,
)
from tests.staff_accounts import add_staff
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database

CHANNELS = ["viber", "telegram-webhook"]
STAFF = 9201
WEB = Actor(STAFF, desk=Desk.WEB)
WAIT = 10.0


async def until(check: Callable[[], bool]) -> None:
    """Wait for the delivery engine (it sends on its own schedule)."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not delivered in time"
        await asyncio.sleep(0.05)


def _neighbour(r: Resident_) -> Resident_:
    """A second resident in the same fake messenger."""
    if isinstance(r, ViberResident):
        return ViberResident(r.fake, "Nb7qWx2kP9m4yLp8vC3zHd==", name="Іван Коваль")
    assert isinstance(r, TelegramResident)
    return TelegramResident(r.fake, 5550002, polling=r.polling)


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> list[object]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(model))).all())


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_told_at_filing_follow_updates_once_and_not_resolved_reopens(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url, tickets_per_hour=10) as world:
        r = world.resident
        async with running_bot(world.settings) as runtime:
            sessionmaker = runtime.sessionmaker
            core = runtime.incidents  # what the desks call
            async with sessionmaker() as session, session.begin():
                await add_staff(session, STAFF, Role.OPERATOR, now=system_clock())
            await onboard(r)
            expected = system_clock() + timedelta(hours=5)
            opened = done(
                await ops.open_incident(
                    core,
                    WEB,
                    ops.Draft(
                        title="Немає води",
                        category="housing",
                        description="Аварія на водогоні.",
                        expected_at=expected,
                    ),
                )
            )
            incident_id = opened.incident.id

            # Told at once; following files nothing.
            await submit_feedback(r, "Третій день немає води")
            told = r.last_text()
            assert "Ми вже знаємо про це" in told and "Немає води" in told
            assert "Аварія на водогоні." in told
            assert expected.astimezone(world.settings.zone).strftime("%d.%m.%Y %H:%M") in told
            await r.press("🔔 Стежити за цим")
            assert "повідомимо вас" in r.last_text()
            assert await _rows(sessionmaker, Ticket) == []

            # Filing anyway files the draft, linked to the incident.
            await submit_feedback(r, "Немає води, потрібна вода для дитини")
            await r.press("📝 Усе одно подати")
            assert "ВД-" in r.last_text()
            (ticket,) = await _rows(sessionmaker, Ticket)
            assert isinstance(ticket, Ticket)
            (link,) = await _rows(sessionmaker, IncidentTicket)
            assert isinstance(link, IncidentTicket)
            assert (link.ticket_id, link.incident_id, link.linked_by) == (
                ticket.id,
                incident_id,
                "suggested",
            )
            assert len(await _rows(sessionmaker, IncidentFollower)) == 1
            # A neighbour follows without filing anything.
            neighbour = _neighbour(r)
            await onboard(neighbour)
            await submit_feedback(neighbour, "Немає води в будинку")
            await neighbour.press("🔔 Стежити за цим")
            assert len(await _rows(sessionmaker, IncidentFollower)) == 2

            # A follower with a linked ticket gets each update once.
            before = len(r.texts())
            change = ops.Change(status=IncidentStatus.WORKING, text="Бригада вже на місці.")
            assert done(await ops.update(core, WEB, incident_id, change)).recipients == 2
            await until(lambda: len(r.texts()) > before)
            await asyncio.sleep(0.3)  # a second copy would have arrived by now
            assert len(r.texts()) == before + 1
            assert "Бригада вже на місці." in r.last_text()
            assert "працюємо над цим" in r.last_text()

            before = len(r.texts())
            resolved = done(await ops.resolve(core, WEB, incident_id, "Воду подали."))
            assert resolved.closed_tickets == (ticket.id,)
            await until(lambda: len(r.texts()) > before)
            await asyncio.sleep(0.3)
            assert len(r.texts()) == before + 1
            assert "Воду подали." in r.last_text() and "для вас" in r.last_text()
            await until(lambda: "Воду подали." in neighbour.last_text())

            # A follower without a ticket who says "no" gets one filed, linked to the incident.
            await neighbour.press("❌ Ні, не вирішено")
            assert "зареєстрували ваше звернення" in neighbour.last_text()
            async with sessionmaker() as session:
                filed = (
                    await session.scalars(
                        select(IncidentTicket).where(IncidentTicket.linked_by == "resident")
                    )
                ).one()
                assert filed.incident_id == incident_id and filed.ticket_id != ticket.id

            # "Not resolved for me": their own ticket goes back to the department.
            await r.press("❌ Ні, не вирішено")
            assert "повернули ваше звернення" in r.last_text()
            async with sessionmaker() as session:
                reopened = await session.get(Ticket, ticket.id)
                assert reopened is not None
                assert reopened.status == TicketStatus.IN_PROGRESS  # with whoever answered
                assert reopened.resolution == "not_resolved"
                answers = await session.scalars(
                    select(AuditEntry.action).where(AuditEntry.action.like("incident.%"))
                )
                assert sorted(answers) == [
                    "incident.follow",
                    "incident.follow",
                    "incident.link",
                    "incident.open",
                    "incident.resolution",
                    "incident.resolution",
                    "incident.resolve",
                    "incident.update",
                ]
            if r.channel == "telegram":
                # A second answer (the inline buttons stay under the message) changes nothing.
                await r.press("✅ Так, вирішено")
                assert "вже відповіли" in r.last_text()


async def _resident_id(sessionmaker: async_sessionmaker[AsyncSession], r: Resident_) -> int:
    found = await find_resident(sessionmaker, r.channel, r.external_id)
    assert found is not None
    return found.id


@contextlib.asynccontextmanager
async def staffed(world_name: str, database_url: str) -> AsyncIterator[tuple[World, Runtime]]:
    """The bot against one messenger's fake, an operator on staff, the resident onboarded."""
    async with (
        WORLDS[world_name](database_url, tickets_per_hour=10) as world,
        running_bot(world.settings) as runtime,
    ):
        async with runtime.sessionmaker() as session, session.begin():
            await add_staff(session, STAFF, Role.OPERATOR, now=system_clock())
        await onboard(world.resident)
        yield world, runtime


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_mydata_lists_the_follows_and_forget_erases_them(
    world_name: str, database_url: str
) -> None:
    async with staffed(world_name, database_url) as (world, runtime):
        r = world.resident
        sessionmaker = runtime.sessionmaker
        core = runtime.incidents
        # A title as staff may type it: markup, an ampersand and an emoji, shown as typed.
        title = "Немає <b>води</b> & тиску 💧"
        draft = ops.Draft(title=title, category="housing", description="Аварія.")
        incident_id = done(await ops.open_incident(core, WEB, draft)).incident.id
        await submit_feedback(r, "Немає води з ранку")
        await r.press("🔔 Стежити за цим")
        neighbour = _neighbour(r)
        await onboard(neighbour)
        await submit_feedback(neighbour, "І в нас немає води")
        await neighbour.press("🔔 Стежити за цим")
        mine, theirs = (
            await _resident_id(sessionmaker, r),
            await _resident_id(sessionmaker, neighbour),
        )
        async with sessionmaker() as session:
            follow = await session.get_one(IncidentFollower, (incident_id, mine))
        since = follow.followed_at.astimezone(world.settings.zone).strftime("%d.%m.%Y")

        await r.command("mydata")
        summary, export = r.texts()[-2], r.last_text()
        assert f"№{incident_id} «{title}» — стежите з {since}" in summary
        assert summary.count("№") == 1  # the neighbour's follow is theirs
        listed = json.dumps(
            [
                {
                    "incident": incident_id,
                    "title": title,
                    "status": "investigating",
                    "followed_at": follow.followed_at.isoformat(),
                }
            ],
            ensure_ascii=False,
            indent=1,
        )
        # As the export indents it (one level deeper).
        assert '"incident_follows": ' + listed.replace("\n", "\n ") in export

        await r.command("forget")
        await r.press("🗑 Так, видалити")
        assert "видалено" in r.last_text()
        # Their follow is gone (no update reaches them, nothing ties them to it); the
        # neighbour's stays.
        followers = await _rows(sessionmaker, IncidentFollower)
        assert [f.resident_id for f in followers if isinstance(f, IncidentFollower)] == [theirs]
        async with sessionmaker() as session:
            entry = (
                await session.scalars(
                    select(AuditEntry).where(AuditEntry.action == "resident.forget")
                )
            ).one()
        assert entry.details is not None and entry.details["incident_follows"] == 1
