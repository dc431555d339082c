"""One resident across Telegram and Viber (storage/linking.py, handlers/linking.py), end to end
over the fake messengers on SQLite and PostgreSQL: a code from one messenger typed in the other
links the two; tickets, consent and settings are one; news arrives once through the preferred
messenger; merging keeps every ticket, vote and delivery; codes expire, work once and cannot be
guessed; unlinking and /forget; every step audited."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Runtime
from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from bot.telegram.staff.news.composer import count_audience
from storage import incidents, linking
from storage.broadcasts import DeliveryState, Outcome, create_broadcast, record_outcomes
from storage.models import (
    AuditEntry,
    Broadcast,
    Delivery,
    Incident,
    IncidentAnswer,
    IncidentFollower,
    Poll,
    PollVote,
    Resident,
    Ticket,
)
from storage.planning import plan_broadcast
from storage.polls import create_poll
from storage.vocabulary import Role
from tests.harness import (
    TELEGRAM_TOKEN,
    VIBER_TOKEN,
    Resident_,
    TelegramResident,
    ViberResident,
    bot_settings,
    file_feedback,
    onboard,
    running_bot,
)
from tests.staff_accounts import add_staff
from tests.test_broadcast_helpers import Person, add_residents, new_broadcast, wait_done

pytestmark = pytest.mark.migrated_database

GROUP_CHAT = -4500001
ADMIN = 7001
NAMES = {"telegram": "Telegram", "viber": "Viber"}
SETTINGS = "⚙️ Налаштування"
LINK = "🔗 Telegram і Viber"


@dataclass
class OffsetClock:
    """The real clock, moved forward by hand (the delivery engine keeps running on it)."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass
class Pair:
    runtime: Runtime
    telegram: TelegramResident
    viber: ViberResident
    tg: FakeTelegram
    vb: FakeViber
    clock: OffsetClock

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        return self.runtime.sessionmaker

    def by(self, channel: str) -> Resident_:
        return self.telegram if channel == "telegram" else self.viber


@contextlib.asynccontextmanager
async def pair_world(database_url: str) -> AsyncIterator[Pair]:
    """One bot serving both messengers (Telegram by webhook) with an operator chat."""
    clock = OffsetClock()
    async with FakeTelegram(TELEGRAM_TOKEN) as tg, FakeViber(VIBER_TOKEN) as vb:
        settings = bot_settings(
            database_url,
            telegram_token=TELEGRAM_TOKEN,
            telegram_api_url=tg.base_url,
            telegram_mode="webhook",
            webhook_secret="s3cr3t-Token_x-long-enough",
            viber_token=VIBER_TOKEN,
            viber_api_url=vb.base_url,
            operator_chat_id=str(GROUP_CHAT),
            tickets_per_hour="10",
        )
        tg.user(ADMIN, first_name="Ірина")
        tg.add_group(GROUP_CHAT, "Оператори", members=(ADMIN,), admins=(ADMIN,))
        async with running_bot(settings, clock=clock) as runtime:
            async with runtime.sessionmaker() as session, session.begin():
                await add_staff(session, ADMIN, Role.ADMIN, now=clock())
            yield Pair(
                runtime=runtime,
                telegram=TelegramResident(tg, 5550001, polling=False),
                viber=ViberResident(vb, "Rr8bGz1kQ0m7yKp3vN2wXg=="),
                tg=tg,
                vb=vb,
                clock=clock,
            )


def other(channel: str) -> str:
    return "viber" if channel == "telegram" else "telegram"


async def get_code(r: Resident_) -> str:
    """A code through Settings (Viber residents have no commands)."""
    await r.press(SETTINGS)
    await r.press(LINK)
    found = re.search(r"\b(\d{6})\b", r.last_text())
    assert found, r.last_text()
    return found.group(1)


async def accounts(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Resident]:
    async with sessionmaker() as session:
        rows = (await session.scalars(select(Resident).order_by(Resident.id))).all()
    found: dict[str, Resident] = {}
    for row in rows:
        # The first account in each messenger (the pair's own).
        found.setdefault(row.channel, row)
    return found


async def audit_count(sessionmaker: async_sessionmaker[AsyncSession], action: str) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(AuditEntry.action == action)
        return int((await session.execute(query)).scalar_one())


async def news_once(pair: Pair, text: str) -> dict[str, int]:
    """Send a news item through the delivery engine; how many copies each messenger got."""
    broadcast_id, planned = await new_broadcast(pair.sessionmaker, text=text)
    assert planned == 1
    done = await wait_done(pair.sessionmaker, broadcast_id, timeout=20)
    assert done.sent == 1
    return {
        channel: sum(text in shown for shown in pair.by(channel).texts())
        for channel in ("telegram", "viber")
    }


LINK_WORDS = ("🔗", "об'єднано", "роз'єднано", "Код", "коду", "спроб", "Роз'єднати")


def no_slash_commands(texts: list[str]) -> bool:
    """None of the linking texts (others belong to their own features) names a slash command:
    Viber residents cannot use them."""
    ours = [text for text in texts if any(word in text for word in LINK_WORDS)]
    assert ours, texts
    return not any(re.search(r"(^|\s)/[a-z]", text) for text in ours)


@pytest.mark.parametrize("issuer_channel", ["telegram", "viber"])
async def test_a_code_from_one_messenger_typed_in_the_other_makes_one_resident(
    issuer_channel: str, database_url: str
) -> None:
    async with pair_world(database_url) as pair:
        issuer, newcomer = pair.by(issuer_channel), pair.by(other(issuer_channel))
        await onboard(issuer)
        # A brand-new user of the other messenger: the bot asks for consent first...
        await newcomer.start()
        assert "Погоджуюсь" in " ".join(newcomer.labels())
        code = await get_code(issuer)
        assert NAMES[other(issuer_channel)] in issuer.last_text()
        assert "10 хвилин" in issuer.last_text()

        # ...but the code links them at once: consent and settings are the person's already.
        await newcomer.say(code)
        assert "об'єднано" in newcomer.last_text(), newcomer.last_text()
        assert "✍️ Звернутися" in newcomer.labels()
        rows = await accounts(pair.sessionmaker)
        primary, alias = rows[issuer_channel], rows[other(issuer_channel)]
        assert alias.linked_to == primary.id and primary.linked_to is None
        assert await audit_count(pair.sessionmaker, linking.AUDIT_LINKED) == 1
        # The one who asked for the code is told, in their messenger (also of a link they did
        # not make themselves).
        assert "щойно об'єднано" in issuer.last_text()

        # A ticket filed in the other messenger is the person's: listed in the first one,
        # and staff see both messengers on its card.
        number = await file_feedback(newcomer, "На вул. Металургів, 5 не світять ліхтарі")
        if issuer_channel == "viber":
            # Viber shows the keyboard of where the resident is: the settings.
            await issuer.press("⬅️ Назад")
        await issuer.press("📂 Мої звернення")
        assert any(number in label for label in issuer.labels()), issuer.labels()
        cards = [m.get("text") or "" for m in pair.tg.messages(GROUP_CHAT)]
        card = next(text for text in cards if number in text)
        assert "Той самий мешканець у: " in card
        assert NAMES[issuer_channel] in card and NAMES[other(issuer_channel)] in card

        # News reaches the person once, through the preferred messenger (the first one).
        assert await news_once(pair, "Перша новина") == {
            issuer_channel: 1,
            other(issuer_channel): 0,
        }

        # A staff answer goes there too, though the ticket was filed in the other messenger.
        card_id = next(m["message_id"] for m in pair.tg.messages(GROUP_CHAT) if number in m["text"])
        answered = await pair.tg.send_text(
            ADMIN, "Ліхтарі полагодять до п'ятниці", chat_id=GROUP_CHAT, reply_to=card_id
        )
        assert answered.status == 200
        assert "Ліхтарі полагодять до п'ятниці" in issuer.last_text()
        assert not any("полагодять" in text for text in newcomer.texts())

        # They switch to the other messenger — from the other messenger.
        await newcomer.press(SETTINGS)
        await newcomer.press(LINK)
        assert f"надходять у: {NAMES[issuer_channel]}" in newcomer.last_text()
        await newcomer.press(f"Отримувати в {NAMES[other(issuer_channel)]}")
        assert "Тепер новини й відповіді надходитимуть" in newcomer.last_text()
        assert await news_once(pair, "Друга новина") == {
            issuer_channel: 0,
            other(issuer_channel): 1,
        }
        assert await audit_count(pair.sessionmaker, linking.AUDIT_PREFERRED) == 1
        answered = await pair.tg.send_text(
            ADMIN, "Ще одна відповідь", chat_id=GROUP_CHAT, reply_to=card_id
        )
        assert answered.status == 200
        assert "Ще одна відповідь" in newcomer.last_text()
        assert not any("Ще одна відповідь" in text for text in issuer.texts())

        # /mydata lists both messengers.
        await pair.telegram.command("mydata")
        summary, export = pair.telegram.texts()[-2:]
        assert "Telegram" in summary and "Viber" in summary
        assert '"messengers"' in export and pair.viber.external_id in export
        assert no_slash_commands(pair.viber.texts())


async def _poll(
    session: AsyncSession, *, now: datetime, open_: bool, question: str
) -> tuple[int, int]:
    broadcast = await create_broadcast(session, text=question, now=now)
    poll = Poll(
        broadcast_id=broadcast.id,
        question=question,
        options=["Так", "Ні"],
        status="open" if open_ else "closed",
        closes_at=now + timedelta(days=1) if open_ else now - timedelta(days=1),
        created_at=now,
    )
    session.add(poll)
    await session.flush()
    return poll.id, broadcast.id


async def test_merging_two_residents_with_tickets_votes_and_deliveries_keeps_everything(
    database_url: str,
) -> None:
    async with pair_world(database_url) as pair:
        await onboard(pair.telegram)
        await onboard(pair.viber)
        first = await file_feedback(pair.telegram, "Яма на дорозі біля школи")
        second = await file_feedback(pair.viber, "Не вивозять сміття третій тиждень")
        # Both got the same news before they were linked: two deliveries of one broadcast.
        shared, planned = await new_broadcast(pair.sessionmaker, text="Спільна новина")
        assert planned == 2
        await wait_done(pair.sessionmaker, shared, timeout=20)
        rows = await accounts(pair.sessionmaker)
        tg_id, vb_id = rows["telegram"].id, rows["viber"].id
        now = datetime.now(UTC)
        async with pair.sessionmaker() as session, session.begin():
            both_open, _ = await _poll(session, now=now, open_=True, question="Відкрите")
            both_closed, _ = await _poll(session, now=now, open_=False, question="Закрите")
            viber_only, _ = await _poll(session, now=now, open_=True, question="Лише Viber")
            for poll_id, resident_id, option in (
                (both_open, tg_id, 0),
                (both_open, vb_id, 1),
                (both_closed, tg_id, 0),
                (both_closed, vb_id, 1),
                (viber_only, vb_id, 1),
            ):
                session.add(
                    PollVote(
                        poll_id=poll_id,
                        resident_id=resident_id,
                        option=option,
                        channel="x",
                        district="city",
                        voted_at=now,
                    )
                )

        code = await get_code(pair.telegram)
        await pair.viber.say(code)
        assert "об'єднано" in pair.viber.last_text()

        async with pair.sessionmaker() as session:
            owners = {
                number: owner
                for number, owner in await session.execute(
                    select(Ticket.number, Ticket.resident_id)
                )
            }
            votes = (
                await session.execute(
                    select(PollVote.poll_id, PollVote.resident_id, PollVote.option)
                )
            ).all()
            deliveries = (
                await session.execute(
                    select(Delivery.resident_id, Delivery.channel).where(
                        Delivery.broadcast_id == shared
                    )
                )
            ).all()
        # Every ticket is the person's.
        assert owners == {first: tg_id, second: tg_id}
        # One voice per poll: the open poll keeps the primary's choice; the closed one keeps
        # its published totals (the other vote detached, as /forget leaves it); a poll only the
        # other account voted in moves to the person.
        by_poll = {poll: sorted((r, o) for p, r, o in votes if p == poll) for poll, _, _ in votes}
        assert by_poll[both_open] == [(tg_id, 0)]
        assert (tg_id, 0) in by_poll[both_closed] and len(by_poll[both_closed]) == 2
        assert all(r in (tg_id,) or r < 0 for r, _ in by_poll[both_closed])
        assert by_poll[viber_only] == [(tg_id, 1)]
        # Delivery history stays whole: the broadcast both got keeps both rows.
        assert sorted(deliveries) == sorted([(tg_id, "telegram"), (vb_id, "viber")])

        # Both tickets are listed in either messenger.
        await pair.viber.press("📂 Мої звернення")
        assert any(first in label for label in pair.viber.labels())
        assert any(second in label for label in pair.viber.labels())


async def test_codes_expire_work_once_and_cannot_be_guessed(database_url: str) -> None:
    async with pair_world(database_url) as pair:
        tg, vb = pair.telegram, pair.viber
        await onboard(tg)
        await vb.start()

        expired = await get_code(tg)
        pair.clock.advance(linking.CODE_TTL + timedelta(seconds=1))
        await vb.say(expired)
        assert "Термін дії коду минув" in vb.last_text()
        # The consent screen is still there: the resident is not stuck.
        assert "Погоджуюсь" in " ".join(vb.labels())

        code = await get_code(tg)
        # Typed in the messenger it came from: told where it belongs.
        await tg.say(code)
        assert "у Viber" in tg.last_text()

        # Wrong codes: with the expired one, the fifth guess in ten minutes...
        wrong = [c for c in ("000000", "111111", "222222", "333333", "444444") if c != code][:4]
        for guess in wrong:
            await vb.say(guess[:3] + " " + guess[3:])
            assert "Код не підходить" in vb.last_text()
        # ...and then even the right code is refused: guessing cannot simply go on.
        await vb.say(code)
        assert "Забагато невдалих спроб" in vb.last_text()
        assert (await accounts(pair.sessionmaker))["viber"].linked_to is None

        # Ten minutes later a new code works.
        pair.clock.advance(linking.GUESS_WINDOW)
        fresh = await get_code(tg)
        await vb.say(fresh)
        assert "об'єднано" in vb.last_text()

        # Single use: the same code from another Viber account is just a wrong code.
        stranger = ViberResident(pair.vb, "Zz9stranger0000000000Q==", name="Інший")
        await stranger.start()
        await stranger.say(fresh)
        assert "Код не підходить" in stranger.last_text()
        rows = await accounts(pair.sessionmaker)
        assert rows["viber"].linked_to == rows["telegram"].id
        async with pair.sessionmaker() as session:
            stranger_row = (
                await session.scalars(
                    select(Resident).where(Resident.external_id == stranger.external_id)
                )
            ).one()
        assert stranger_row.linked_to is None

        # A linked person typing six digits is told they are linked already.
        await vb.say("123456")
        assert "уже об'єднано" in vb.last_text()

        assert no_slash_commands(vb.texts())
        assert no_slash_commands(stranger.texts())
        assert await audit_count(pair.sessionmaker, linking.AUDIT_ISSUED) == 3
        # expired, four wrong, the stranger's reuse
        assert await audit_count(pair.sessionmaker, linking.AUDIT_GUESS) == 6
        # same messenger, throttled (six digits from a linked person are answered, not audited)
        assert await audit_count(pair.sessionmaker, linking.AUDIT_REFUSED) == 2
        assert await audit_count(pair.sessionmaker, linking.AUDIT_LINKED) == 1


async def test_unlink_splits_them_and_forget_erases_both(database_url: str) -> None:
    async with pair_world(database_url) as pair:
        tg, vb = pair.telegram, pair.viber
        await onboard(tg)
        await vb.start()
        await vb.say(await get_code(tg))
        number = await file_feedback(vb, "Не працює світлофор на перехресті")

        # Unlinked from Viber: the data stays with the first (Telegram) profile; Viber starts
        # afresh and asks for consent again.
        await vb.press(SETTINGS)
        await vb.press(LINK)
        await vb.press("Роз'єднати")
        assert "залишаться в Telegram" in vb.last_text()
        await vb.press("Так, роз'єднати")
        assert "роз'єднано" in vb.last_text()
        rows = await accounts(pair.sessionmaker)
        assert rows["viber"].linked_to is None
        assert rows["viber"].onboarded_at is None and rows["viber"].consent_at is None
        assert rows["telegram"].consent_at is not None
        await tg.press("📂 Мої звернення")
        assert any(number in label for label in tg.labels())
        await vb.say("Доброго дня")
        assert "Погоджуюсь" in " ".join(vb.labels())
        assert await audit_count(pair.sessionmaker, linking.AUDIT_UNLINKED) == 1

        # Linked again, then /forget in Telegram erases both accounts.
        await vb.say(await get_code(tg))
        assert "об'єднано" in vb.last_text()
        await tg.command("forget")
        await tg.press("🗑 Так, видалити")
        rows = await accounts(pair.sessionmaker)
        for row in rows.values():
            assert row.erased_at is not None and row.name is None and row.consent_at is None
        assert rows["viber"].linked_to is None
        async with pair.sessionmaker() as session:
            ticket = (await session.scalars(select(Ticket))).one()
        assert ticket.body is None and ticket.erased_at is not None
        assert await audit_count(pair.sessionmaker, linking.AUDIT_UNLINKED) == 2
        assert no_slash_commands(vb.texts())


# -- storage level: the global cap, and the address planning picks ---------------------------


async def _link(
    sessionmaker: async_sessionmaker[AsyncSession], primary_id: int, alias_id: int
) -> None:
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        primary = await session.get(Resident, primary_id)
        alias = await session.get(Resident, alias_id)
        assert primary is not None and alias is not None
        issued = await linking.issue_code(session, resident=primary, now=now)
        await linking.redeem(session, code=issued.code, identity=alias, now=now)


async def test_the_aliass_incident_follows_and_answers_become_the_persons(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_residents(sessionmaker, [Person("telegram", "400"), Person("viber", "a400==")])
    person, alias = ids["400"], ids["a400=="]
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        water, heat = (
            Incident(title=title, status="resolved", opened_at=now, updated_at=now)
            for title in ("Немає води", "Немає опалення")
        )
        session.add_all([water, heat])
        await session.flush()
        both, theirs = water.id, heat.id
        session.add_all(
            [
                IncidentFollower(incident_id=both, resident_id=person, followed_at=now),
                IncidentFollower(incident_id=both, resident_id=alias, followed_at=now),
                IncidentFollower(incident_id=theirs, resident_id=alias, followed_at=now),
                IncidentAnswer(incident_id=both, resident_id=person, resolved=True, at=now),
                IncidentAnswer(incident_id=both, resident_id=alias, resolved=False, at=now),
                IncidentAnswer(incident_id=theirs, resident_id=alias, resolved=False, at=now),
            ]
        )
    await _link(sessionmaker, person, alias)
    async with sessionmaker() as session:
        follows = await session.execute(
            select(IncidentFollower.incident_id, IncidentFollower.resident_id)
        )
        assert sorted(tuple(row) for row in follows) == sorted([(both, person), (theirs, person)])
        answers = await session.execute(
            select(IncidentAnswer.incident_id, IncidentAnswer.resident_id, IncidentAnswer.resolved)
        )
        # Where both answered, the person's answer is the primary's.
        assert sorted(tuple(row) for row in answers) == sorted(
            [(both, person, True), (theirs, person, False)]
        )
        # So the updates of what the alias followed reach the person, who may answer them.
        assert await incidents.is_recipient(session, incident_id=theirs, resident_id=person)
        entry = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == linking.AUDIT_LINKED)
            )
        ).one()
        assert entry.details is not None and entry.details["incident_follows"] == 1


async def test_a_global_cap_stops_guessing_from_many_accounts(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    guessers = [Person("viber", f"guesser-{n:03d}==") for n in range(linking.GUESSES_GLOBAL)]
    ids = await add_residents(sessionmaker, [Person("telegram", "100"), *guessers])
    ids.update(await add_residents(sessionmaker, [Person("viber", "honest==")]))
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        owner = await session.get(Resident, ids["100"])
        assert owner is not None
        code = (await linking.issue_code(session, resident=owner, now=now)).code
    wrong = "000000" if code != "000000" else "999999"
    for person in guessers:
        async with sessionmaker() as session, session.begin():
            guesser = await session.get(Resident, ids[person.external_id])
            assert guesser is not None
            with pytest.raises(linking.LinkRefused) as refused:
                await linking.redeem(session, code=wrong, identity=guesser, now=now)
            assert refused.value.reason == linking.UNKNOWN
    async with sessionmaker() as session, session.begin():
        honest = await session.get(Resident, ids["honest=="])
        assert honest is not None
        with pytest.raises(linking.LinkRefused) as refused:
            await linking.redeem(session, code=code, identity=honest, now=now)
        assert refused.value.reason == linking.THROTTLED_GLOBAL
    # At the cap, one code among 10^6 is hit within its life with probability below 10^-4.
    windows = linking.CODE_TTL / linking.GUESS_WINDOW
    assert linking.GUESSES_GLOBAL * max(windows, 1) / 10**linking.CODE_DIGITS < 1e-4


async def test_planning_reaches_a_person_once_through_a_reachable_preferred_messenger(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    ids = await add_residents(
        sessionmaker,
        [Person("telegram", "200"), Person("viber", "alias=="), Person("telegram", "300")],
    )
    await _link(sessionmaker, ids["200"], ids["alias=="])

    async def planned(
        changes: dict[str, dict[str, object]] | None = None,
    ) -> set[tuple[int | None, str, str]]:
        """Change residents (by messenger id), plan a broadcast; its recipients."""
        now = datetime.now(UTC)
        async with sessionmaker() as session, session.begin():
            for external_id, values in (changes or {}).items():
                await session.execute(
                    update(Resident).where(Resident.external_id == external_id).values(values)
                )
            broadcast = await create_broadcast(session, text="x", now=now)
            audience = await count_audience(session, broadcast)
            count = await plan_broadcast(session, broadcast_id=broadcast.id, now=now)
            rows = await session.execute(
                select(Delivery.resident_id, Delivery.channel, Delivery.external_id).where(
                    Delivery.broadcast_id == broadcast.id
                )
            )
            found = {(r, c, e) for r, c, e in rows}
            assert count == audience == len(found)
            return found

    person, other_one = ids["200"], ids["300"]
    assert await planned() == {(person, "telegram", "200"), (other_one, "telegram", "300")}
    assert await planned({"200": {"preferred_channel": "viber"}}) == {
        (person, "viber", "alias=="),
        (other_one, "telegram", "300"),
    }
    # The preferred account blocked the bot: the other one is used.
    assert (person, "telegram", "200") in await planned({"alias==": {"is_active": False}})
    # Both blocked: nobody to send to.
    assert all(row[0] != person for row in await planned({"200": {"is_active": False}}))
    # Telegram reachable again, preferred again: Telegram.
    back: dict[str, dict[str, object]] = {
        "200": {"is_active": True, "preferred_channel": None},
        "alias==": {"is_active": True},
    }
    assert (person, "telegram", "200") in await planned(back)
    async with sessionmaker() as session:
        broadcasts = int((await session.execute(select(func.count(Broadcast.id)))).scalar_one())
    assert broadcasts == 5


async def test_a_blocked_delivery_marks_the_account_it_went_to(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The engine reports "blocked" for a delivery; the account it was addressed to is marked,
    not the person's primary row (which the delivery's ``resident_id`` names)."""
    ids = await add_residents(sessionmaker, [Person("telegram", "400"), Person("viber", "gone==")])
    await _link(sessionmaker, ids["400"], ids["gone=="])
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        primary = await session.get(Resident, ids["400"])
        assert primary is not None
        assert await linking.set_preferred(session, primary=primary, channel="viber", now=now)
        broadcast = await create_broadcast(session, text="x", now=now)
        await plan_broadcast(session, broadcast_id=broadcast.id, now=now)
        delivery = (
            await session.scalars(select(Delivery).where(Delivery.broadcast_id == broadcast.id))
        ).one()
        assert (delivery.resident_id, delivery.external_id) == (ids["400"], "gone==")
        await record_outcomes(
            session,
            outcomes=[Outcome(delivery.id, DeliveryState.BLOCKED, resident_id=ids["400"])],
            now=now,
        )
    async with sessionmaker() as session:
        alias = await session.get(Resident, ids["gone=="])
        primary = await session.get(Resident, ids["400"])
        assert alias is not None and primary is not None
        assert not alias.is_active and primary.is_active
        # The next news goes to the account that can still be reached.
        assert (await linking.delivery_identity(session, primary)).id == primary.id


async def test_six_digits_inside_a_ticket_form_belong_to_the_form(database_url: str) -> None:
    async with pair_world(database_url) as pair:
        tg, vb = pair.telegram, pair.viber
        await onboard(tg)
        await onboard(vb)
        code = await get_code(tg)
        await vb.press("✍️ Звернутися")
        await vb.press("💬 Відгук або питання")
        await vb.press("🏠 Житло та комунальні послуги")
        # The body of the feedback is just a number: it stays the body, nothing is linked.
        await vb.say(code)
        assert "Код" not in vb.last_text() and "об'єднано" not in vb.last_text()
        rows = await accounts(pair.sessionmaker)
        assert rows["viber"].linked_to is None
        assert await audit_count(pair.sessionmaker, linking.AUDIT_GUESS) == 0
        await vb.press("Далі ➡️")
        await vb.press("Ні")
        assert code in vb.last_text()


async def test_a_poll_reaches_the_person_once_and_their_vote_counts_from_either_messenger(
    database_url: str,
) -> None:
    async with pair_world(database_url) as pair:
        tg, vb = pair.telegram, pair.viber
        await onboard(tg)
        await vb.start()
        await vb.say(await get_code(tg))
        await vb.press(SETTINGS)
        await vb.press(LINK)
        await vb.press("Отримувати в Viber")
        now = datetime.now(UTC)
        async with pair.sessionmaker() as session, session.begin():
            poll = await create_poll(
                session,
                question="Де поставити лавки?",
                options=["У парку", "Біля школи"],
                closes_at=now + timedelta(days=1),
                now=now,
            )
            broadcast = await session.get(Broadcast, poll.broadcast_id)
            assert broadcast is not None
            broadcast.buttons = [
                [["У парку", f"pv:{poll.id}:0"]],
                [["Біля школи", f"pv:{poll.id}:1"]],
            ]
            await session.flush()
            assert await plan_broadcast(session, broadcast_id=broadcast.id, now=now) == 1
        await wait_done(pair.sessionmaker, poll.broadcast_id, timeout=20)
        assert sum("Де поставити лавки?" in text for text in vb.texts()) == 1
        assert not any("Де поставити лавки?" in text for text in tg.texts())

        # Voted in Viber: the person's vote (the primary row), counted for Viber.
        await vb.press("У парку")
        rows = await accounts(pair.sessionmaker)
        async with pair.sessionmaker() as session:
            votes = (await session.execute(select(PollVote.resident_id, PollVote.channel))).all()
        assert [tuple(vote) for vote in votes] == [(rows["telegram"].id, "viber")]

        # News meant for one messenger is listed by /news in that messenger only.
        async with pair.sessionmaker() as session, session.begin():
            item = await create_broadcast(
                session, text="Лише для Viber", channels=["viber"], now=now
            )
            await session.execute(
                update(Broadcast)
                .where(Broadcast.id == item.id)
                .values(status="finished", started_at=now)
            )
        await vb.press("⬅️ Назад")  # the poll's answer, then the linked screen: to the menu
        await vb.say("📰 Новини")
        assert "Лише для Viber" in vb.last_text()
        await tg.command("news")
        assert "Лише для Viber" not in tg.last_text()


async def test_someone_elses_code_in_the_same_messenger_is_a_wrong_code(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Only the code's owner hears "use the other messenger": anyone else in the same messenger
    gets (and is counted for) a wrong code, so live codes cannot be found there for free."""
    ids = await add_residents(sessionmaker, [Person("telegram", "500"), Person("telegram", "501")])
    now = datetime.now(UTC)
    async with sessionmaker() as session, session.begin():
        owner = await session.get(Resident, ids["500"])
        stranger = await session.get(Resident, ids["501"])
        assert owner is not None and stranger is not None
        code = (await linking.issue_code(session, resident=owner, now=now)).code
    for who, reason in ((owner, linking.SAME_CHANNEL), (stranger, linking.UNKNOWN)):
        async with sessionmaker() as session, session.begin():
            with pytest.raises(linking.LinkRefused) as refused:
                await linking.redeem(session, code=code, identity=who, now=now)
            assert refused.value.reason == reason
    assert await audit_count(sessionmaker, linking.AUDIT_GUESS) == 1
    assert await audit_count(sessionmaker, linking.AUDIT_REFUSED) == 1
