"""A resident's button actions come from the client: a modified Telegram client sends any
callback_data, and in Viber anyone can type ``act:…``. Actions naming another resident's ticket,
or no action of ours at all, are refused with one answer, change nothing and are audited once
each — in Telegram and Viber, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import actions as act
from handlers import forged
from storage.deadlines import TicketKind
from storage.models import AuditEntry, ConversationState, Ticket, TicketMessage
from storage.vocabulary import Digest, District, Topic
from tests.harness import WORLDS, TelegramResident, ViberResident, find_resident, onboard

pytestmark = pytest.mark.migrated_database

REFUSED = "Цю дію не виконано"


async def forge(resident: TelegramResident | ViberResident, action: str) -> None:
    """Send ``action`` as if a button carried it."""
    if isinstance(resident, ViberResident):
        assert await resident.fake.send_text(resident.external_id, "act:" + action) == 200
        return
    last = resident.fake.messages(resident.user_id)[-1]
    update = await resident.fake.press_button(
        resident.user_id, last["message_id"], action, strict=False
    )
    assert update.status == 200, update.status


async def _audit(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessionmaker() as session:
        query = select(AuditEntry).where(AuditEntry.action == "resident.forged_action")
        return list((await session.scalars(query.order_by(AuditEntry.id))).all())


@pytest.mark.parametrize("world_name", ["viber", "telegram-webhook"])
async def test_forged_ticket_actions_are_refused_unchanged_and_audited(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world:
        owner = world.resident
        assert isinstance(owner, TelegramResident | ViberResident)
        intruder: TelegramResident | ViberResident = (
            ViberResident(owner.fake, "intruder==", name="Сторонній")
            if isinstance(owner, ViberResident)
            else TelegramResident(owner.fake, 5550777, polling=False)
        )
        async with world.restart() as sessionmaker:
            await onboard(owner)
            await owner.command("feedback")
            await owner.press("Інше")
            await owner.say("Приватне: моя адреса вул. Таємна, 7")
            await owner.press("Далі ➡️")
            await owner.press("Ні")
            await owner.press("✅ Надіслати")
            async with sessionmaker() as session:
                ticket = (await session.scalars(select(Ticket))).one()
                session.expunge(ticket)
            # Closed, so that a rating would be accepted from its owner.
            async with sessionmaker() as session, session.begin():
                stored = await session.get(Ticket, ticket.id)
                assert stored is not None
                stored.status = "closed"

            await onboard(intruder)
            # The intruder is in the middle of a form: a refused action leaves it there.
            await intruder.command("feedback")
            await intruder.press("Інше")
            intruder_row = await find_resident(sessionmaker, intruder.channel, intruder.external_id)
            assert intruder_row is not None
            for action in (f"myopen:{ticket.id}", f"mywrite:{ticket.id}", f"rate:{ticket.id}:5"):
                await forge(intruder, action)
                assert REFUSED in intruder.last_text(), action
                assert "Таємна" not in intruder.last_text()

            async with sessionmaker() as session:
                after = await session.get(Ticket, ticket.id)
                assert after is not None
                assert (after.status, after.rating, after.body) == (
                    "closed",
                    None,
                    "Приватне: моя адреса вул. Таємна, 7",
                )
                messages = (await session.scalars(select(TicketMessage))).all()
                assert list(messages) == []
                state = (
                    await session.scalars(
                        select(ConversationState).where(
                            ConversationState.resident_id == intruder_row.id
                        )
                    )
                ).one()
                assert (state.flow, state.step) == ("ticket", "body")

            rows = await _audit(sessionmaker)
            assert [(r.actor, r.subject, r.details) for r in rows] == [
                (
                    f"resident:{intruder_row.id}",
                    f"ticket:{ticket.id}",
                    {"kind": kind, "target": ticket.id, "reason": "not_own"},
                )
                for kind in ("myopen", "mywrite", "rate")
            ]

            # The owner's own buttons still work, and are not audited as forged.
            await owner.command("mytickets")
            await owner.press(f"{after.number} · Закрито")
            await owner.press("⭐⭐⭐⭐⭐")
            assert "коментар" in owner.last_text()
            assert len(await _audit(sessionmaker)) == 3


@pytest.mark.parametrize("world_name", ["viber", "telegram-webhook"])
async def test_unknown_and_malformed_actions_are_refused_and_audited(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        assert isinstance(r, TelegramResident | ViberResident)
        async with world.restart() as sessionmaker:
            await onboard(r)
            resident = await find_resident(sessionmaker, r.channel, r.external_id)
            assert resident is not None
            district = resident.district
            forged = [
                # (action, kind, target, reason)
                ("drop:tables", "unknown", None, "unknown"),
                ("form:explode", "unknown", None, "unknown"),
                ("district:atlantis", "district", None, "malformed"),
                ("lang:xx", "lang", None, "malformed"),
                ("file:complaint_to_god", "file", None, "malformed"),
                ("myopen:1 OR 1=1", "myopen", None, "malformed"),
                # Longer than any database id: refused, not a failing query.
                ("myopen:" + "9" * 30, "myopen", None, "malformed"),
                ("rate:1:9", "rate", 1, "malformed"),
                ("pv:12:x", "pv", 12, "malformed"),
                ("pv:99999:0", "pv", 99999, "not_received"),
            ]
            for action, *_ in forged:
                await forge(r, action)
                assert REFUSED in r.last_text(), action
            rows = await _audit(sessionmaker)
            assert [(row.actor, row.details) for row in rows] == [
                (f"resident:{resident.id}", {"kind": kind, "target": target, "reason": reason})
                for _action, kind, target, reason in forged
            ]
            # No text of the action is kept (in Viber it is whatever the person typed).
            assert all("atlantis" not in str(row.details) for row in rows)
            after = await find_resident(sessionmaker, r.channel, r.external_id)
            assert after is not None and after.district == district and after.language == "uk"
            # Still usable afterwards.
            await r.command("mytickets")
            assert "ще немає звернень" in r.last_text()


def test_every_action_our_buttons_carry_passes_the_check() -> None:
    """A new action added to handlers/actions.py but not to handlers/forged.py would be refused
    as forged whenever a resident pressed it: this fails first."""
    samples = {
        act.LANGUAGE: "lang:uk",
        act.TOPIC_TOGGLE: f"topic:{next(iter(Topic)).value}",
        act.DISTRICT: f"district:{next(iter(District)).value}",
        act.DIGEST: f"digest:{next(iter(Digest)).value}",
        act.CHOOSE: f"choose:{next(iter(forged._CHOICES))}",
        act.MY_OPEN: "myopen:12",
        act.MY_WRITE: "mywrite:12",
        act.RATE: "rate:12:5",
        act.RESOLVED: "solved:12:1733353200:yes",
        act.REFILE: "refile:12:complaint",
        act.POLL_VOTE: "pv:3:1",
        act.DRAFT: f"draft:{act.DRAFT_KINDS[0]}",
        act.DRAFT_CATEGORY: "draftcat:housing",
        act.DRAFT_TO: "draftto:12",
        act.LINK_PREFER: "linkvia:viber",
        act.INCIDENT_FOLLOW: "incfollow:4",
        act.INCIDENT_FILE: "incfile:4",
        act.INCIDENT_SOLVED: "incsolved:4:no",
    }
    constants = {
        name: value
        for name, value in vars(act).items()
        if name.isupper() and isinstance(value, str) and not name.startswith("CMD_")
    }
    assert constants, "no action constants found"
    for value in constants.values():
        forged.check(samples.get(value, value))  # raises ForgedAction if refused
    forged.check(f"{act.FILE}:{next(iter(TicketKind)).value}")
