"""Polls end to end: the real bot in the staff chat of the fake Telegram, residents of both
messengers voting with the buttons the delivery engine sent them; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.telegram import UploadedFile
from bot.telegram.staff.polls.composer import PollComposer, parse_poll
from bot.telegram.staff.polls.router import KEY
from storage import polls
from storage.models import Broadcast, Poll, PollVote
from tests.news_world import (
    EDITOR,
    add_people,
    jobs,
    label,
    news_world,
    wait_for,
    with_buttons,
    workflow,
)
from tests.staff_world import ADMIN, OPERATOR, OUTSIDER, World
from tests.test_broadcast_helpers import Person, wait_done

pytestmark = pytest.mark.migrated_database

TG_POKROVSKYI = Person("telegram", "6200001", "pokrovskyi")
TG_TERNIVSKYI = Person("telegram", "6200002", "ternivskyi")
TG_NO_CONSENT = Person("telegram", "6200003", "pokrovskyi", consent=False)
VB_POKROVSKYI = Person("viber", "VbPollPokrovskyi000001==", "pokrovskyi")
PEOPLE = (TG_POKROVSKYI, TG_TERNIVSKYI, TG_NO_CONSENT, VB_POKROVSKYI)
QUESTION = "Чи потрібен новий сквер на вул. <b>Соборності</b>?"
POLL = f"/poll {QUESTION}\n- Так 🌳\n- Ні\n- Байдуже"
PNG = b"\x89PNG\r\n\x1a\n"


def composer(world: World) -> PollComposer:
    return workflow(world, KEY, PollComposer)


def poll_previews(world: World) -> list[dict[str, Any]]:
    return with_buttons(world, "pl:")


async def press(world: World, user_id: int, message_id: int, prefix: str) -> str | None:
    return await world.press(user_id, message_id, label(world, message_id, prefix))


async def only_poll(world: World) -> Poll:
    """The newest poll."""
    async with world.runtime.sessionmaker() as session:
        poll = (await session.scalars(select(Poll).order_by(Poll.id.desc()))).first()
        assert poll is not None
        return poll


async def votes(world: World, poll_id: int) -> list[tuple[int, int]]:
    async with world.runtime.sessionmaker() as session:
        rows = await session.execute(
            select(PollVote.resident_id, PollVote.option)
            .where(PollVote.poll_id == poll_id)
            .order_by(PollVote.resident_id, PollVote.option)
        )
        return [(int(r), int(o)) for r, o in rows.all()]


async def results(world: World, poll_id: int) -> polls.Results:
    async with world.runtime.sessionmaker() as session:
        found = await polls.results(session, poll_id=poll_id)
    assert found is not None
    return found


async def send_poll(world: World, *settings: str, text: str = POLL) -> Poll:
    """Compose the poll, change the given settings (button prefixes), send it, wait for the
    engine to deliver it."""
    await world.say(EDITOR, text)
    preview = poll_previews(world)[-1]
    pid = preview["message_id"]
    for prefix in settings:
        await press(world, EDITOR, pid, prefix)
    answer = await press(world, EDITOR, pid, "📨")
    assert answer is not None and "надсилається" in answer, answer
    poll = await only_poll(world)
    await wait_done(world.runtime.sessionmaker, poll.broadcast_id)
    return poll


def tg_poll_message(world: World, person: Person) -> dict[str, Any]:
    messages = world.telegram.messages(int(person.external_id))
    found = [m for m in messages if "Опитування" in (m.get("text") or "")]
    assert found, messages
    return found[0]


async def tg_vote(world: World, person: Person, option_label: str) -> dict[str, Any]:
    """Press the option button in the resident's copy; returns the (edited) message."""
    message = tg_poll_message(world, person)
    buttons = {
        button["text"]: button["callback_data"]
        for row in message["reply_markup"]["inline_keyboard"]
        for button in row
    }
    update = await world.telegram.press_button(
        int(person.external_id), message["message_id"], buttons[option_label]
    )
    assert update.status == 200
    return tg_poll_message(world, person)


async def test_vote_change_duplicate_and_results_on_both_channels(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        ids = await add_people(world, PEOPLE)
        poll = await send_poll(world)
        # Everyone with consent got the question with one button per option, in both messengers.
        message = tg_poll_message(world, TG_POKROVSKYI)
        assert "Чи потрібен новий сквер на вул. <b>Соборності</b>?" in message["text"]
        assert [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row] == [
            "Так 🌳",
            "Ні",
            "Байдуже",
        ]
        assert world.telegram.messages(int(TG_NO_CONSENT.external_id)) == []
        assert world.viber is not None
        viber_labels = [
            b["Text"]
            for b in (world.viber.current_keyboard(VB_POKROVSKYI.external_id) or {})["Buttons"]
        ]
        # The options, then the resident's main menu (Viber shows the last keyboard sent).
        assert viber_labels[:3] == ["Так 🌳", "Ні", "Байдуже"]
        assert viber_labels[3] == "✍️ Звернутися"

        # Telegram: vote, then change the vote; the message is edited in place with results.
        edited = await tg_vote(world, TG_POKROVSKYI, "Так 🌳")
        assert "Ваш голос враховано: Так 🌳" in edited["text"]
        assert "Так 🌳 — 1 (100%)" in edited["text"]
        edited = await tg_vote(world, TG_POKROVSKYI, "Ні")
        assert "Ваш голос враховано: Ні" in edited["text"]
        assert await votes(world, poll.id) == [(ids[TG_POKROVSKYI.external_id], 1)]
        # The same update delivered twice, and the same button pressed twice: one vote.
        message = tg_poll_message(world, TG_POKROVSKYI)
        data = next(
            b["callback_data"]
            for row in message["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"].endswith("Ні")
        )
        update = await world.telegram.press_button(
            int(TG_POKROVSKYI.external_id), message["message_id"], data
        )
        again = await world.telegram.push_update(dict(update))
        assert again.status == 200
        assert await votes(world, poll.id) == [(ids[TG_POKROVSKYI.external_id], 1)]

        # Viber: the same poll, voted with the keyboard.
        assert await world.viber.press_button(VB_POKROVSKYI.external_id, "Байдуже") == 200
        assert "Ваш голос враховано: Байдуже" in world.viber.texts(VB_POKROVSKYI.external_id)[-1]
        # A redelivered Viber callback (same message token) counts once.
        token = 987654321
        for _ in range(2):
            status = await world.viber.send_text(
                VB_POKROVSKYI.external_id, f"act:pv:{poll.id}:2", message_token=token
            )
            assert status == 200
        await tg_vote(world, TG_TERNIVSKYI, "Ні")

        found = await results(world, poll.id)
        assert found.reached == 3 and found.total.voters == 3
        assert found.total.votes == [0, 2, 1]
        assert found.by_channel["telegram"].votes == [0, 2, 0]
        assert found.by_channel["viber"].votes == [0, 0, 1]
        assert found.by_district["pokrovskyi"].votes == [0, 1, 1]
        assert found.by_district["ternivskyi"].votes == [0, 1, 0]
        assert found.by_district["pokrovskyi"].voters == 2

        # /pollresults: totals, shares, breakdowns, reach, and a PNG chart in the staff chat.
        await world.say(OPERATOR, f"/pollresults {poll.id}")
        text = next(t for t in reversed(world.texts()) if t.startswith(f"📊 Опитування №{poll.id}"))
        assert "Отримали: 3 · Проголосували: 3" in text
        assert "Ні — 2 (67%)" in text and "Байдуже — 1 (33%)" in text
        assert "Покровський (проголосували: 2)" in text and "Viber (проголосували: 1)" in text
        photo = world.telegram.calls_to("sendPhoto")[-1]["photo"]
        assert isinstance(photo, UploadedFile)
        assert photo.data.startswith(PNG) and len(photo.data) > 1000
        assert world.chat()[-1].get("photo")


async def test_multiple_choice_toggles_and_hidden_results(database_url: str) -> None:
    async with news_world(database_url) as world:
        ids = await add_people(world, [TG_POKROVSKYI])
        resident = ids[TG_POKROVSKYI.external_id]
        # Multiple choice; residents do not see results after voting.
        poll = await send_poll(world, "🔘", "📊 Результати після голосу")
        assert poll.multiple and not poll.results_after_vote
        edited = await tg_vote(world, TG_POKROVSKYI, "Так 🌳")
        edited = await tg_vote(world, TG_POKROVSKYI, "▫️ Байдуже")
        assert "Ваш голос враховано: Так 🌳, Байдуже" in edited["text"]
        assert "Результати" not in edited["text"]
        assert await votes(world, poll.id) == [(resident, 0), (resident, 2)]
        # Pressing a chosen option unchooses it; pressing the same (stale) button again changes
        # nothing: each press sets a state, it does not flip it.
        message = tg_poll_message(world, TG_POKROVSKYI)
        unchoose = next(
            b["callback_data"]
            for row in message["reply_markup"]["inline_keyboard"]
            for b in row
            if b["text"] == "✅ Так 🌳"
        )
        for _ in range(2):
            await world.telegram.press_button(
                int(TG_POKROVSKYI.external_id), message["message_id"], unchoose, strict=False
            )
        assert await votes(world, poll.id) == [(resident, 2)]


async def test_forged_and_unknown_votes_are_refused(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        await add_people(world, [TG_POKROVSKYI, VB_POKROVSKYI])
        # A draft poll nobody received.
        await world.say(EDITOR, "/poll Інше питання\nА\nБ")
        poll = await send_poll(world, "✅ Viber")
        async with world.runtime.sessionmaker() as session:
            other = (await session.scalars(select(Poll).where(Poll.id != poll.id))).one()
        user = int(TG_POKROVSKYI.external_id)
        message = tg_poll_message(world, TG_POKROVSKYI)
        refused = "Цю дію не виконано"
        forged = (
            (f"pv:{poll.id}:7", poll.id, "bad_option"),
            (f"pv:{poll.id}:x", poll.id, "malformed"),
            (f"pv:{other.id}:0", other.id, "not_received"),
            ("pv:999999:0", 999999, "not_received"),
            (f"pv:{poll.id}:0:+", poll.id, "malformed"),
        )
        for data, _target, _reason in forged:
            await world.telegram.press_button(user, message["message_id"], data, strict=False)
            assert refused in world.resident_texts(user)[-1], data
        # Viber got no poll (channels: Telegram only): its forged press is refused.
        assert world.viber is not None
        await world.viber.send_text(VB_POKROVSKYI.external_id, f"act:pv:{poll.id}:0")
        assert refused in world.viber.texts(VB_POKROVSKYI.external_id)[-1]
        assert await votes(world, poll.id) == []
        rows = await world.audit("resident.forged_action")
        assert [(row.subject, row.details) for row in rows] == [
            (f"poll:{target}", {"kind": "pv", "target": target, "reason": reason})
            for _data, target, reason in (*forged, ("", poll.id, "not_received"))
        ]


async def test_closing_posts_chart_publishes_to_voters_and_refuses_late_votes(
    database_url: str,
) -> None:
    async with news_world(database_url, viber=True) as world:
        await add_people(world, PEOPLE)
        poll = await send_poll(world, "📣")
        assert poll.publish_results
        await tg_vote(world, TG_POKROVSKYI, "Так 🌳")
        assert world.viber is not None
        await world.viber.press_button(VB_POKROVSKYI.external_id, "Ні")
        closer = composer(world).closer
        # Not due yet: nothing closes.
        assert await closer.run() == []
        world.clock.advance(timedelta(days=7, minutes=1))
        photos = len(world.telegram.calls_to("sendPhoto"))
        assert await closer.run() == [poll.id]
        # Exactly once: a second run (or another process) closes nothing.
        assert await closer.run() == []
        assert len(world.telegram.calls_to("sendPhoto")) == photos + 1
        assert any(t.startswith(f"🔒 Опитування №{poll.id} закрито") for t in world.texts())
        assert world.chat()[-1].get("photo")
        # The results go to the two voters only, through the delivery engine.
        async with world.runtime.sessionmaker() as session:
            closed = await session.get(Poll, poll.id)
            assert closed is not None and closed.status == "closed"
            assert closed.results_broadcast_id is not None
            published = await session.get(Broadcast, closed.results_broadcast_id)
            assert published is not None and published.kind == "poll_results"
        done = await wait_done(world.runtime.sessionmaker, closed.results_broadcast_id)
        assert done.sent == 2

        async def got_results() -> bool:
            return (
                "Результати опитування" in world.resident_texts(int(TG_POKROVSKYI.external_id))[-1]
            )

        await wait_for(got_results)
        assert "Результати опитування" in world.viber.texts(VB_POKROVSKYI.external_id)[-1]
        assert not any(
            "Результати опитування" in t
            for t in world.resident_texts(int(TG_TERNIVSKYI.external_id))
        )
        # A vote after closing: a clear answer with the final results, nothing stored.
        message = tg_poll_message(world, TG_TERNIVSKYI)
        data = message["reply_markup"]["inline_keyboard"][1][0]["callback_data"]
        await world.telegram.press_button(
            int(TG_TERNIVSKYI.external_id), message["message_id"], data
        )
        late = world.resident_texts(int(TG_TERNIVSKYI.external_id))[-1]
        assert "уже закрите" in late and "Так 🌳 — 1 (50%)" in late
        assert len(await votes(world, poll.id)) == 2


async def test_poll_and_results_commands_are_for_staff_only(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [TG_POKROVSKYI])
        for user, text in ((OUTSIDER, "лише зареєстровані"), (OPERATOR, "лише редактори")):
            await world.say(user, POLL)
            assert text in world.texts()[-1], user
        async with world.runtime.sessionmaker() as session:
            assert (await session.scalars(select(Poll))).all() == []
        await world.say(ADMIN, POLL)
        pid = poll_previews(world)[-1]["message_id"]
        for user in (OUTSIDER, OPERATOR):
            for data in world.buttons(pid).values():
                await world.press_data(user, pid, data)
                assert world.last_answer.get("show_alert") is True, data
        poll = await only_poll(world)
        await world.say(OUTSIDER, f"/pollresults {poll.id}")
        assert "лише зареєстровані працівники" in world.texts()[-1]
        denied = await world.audit("poll.denied")
        assert len(denied) == 2 + 2 * len(world.buttons(pid)) + 1
        await world.say(OPERATOR, "/pollresults abc")
        assert "номер опитування" in world.texts()[-1]
        await world.say(OPERATOR, "/pollresults 4242")
        assert "не знайдено" in world.texts()[-1]


async def test_bad_poll_texts_get_a_clear_answer(database_url: str) -> None:
    async with news_world(database_url) as world:
        await world.say(EDITOR, "/poll Лише питання")
        assert "щонайменше 2 варіанти" in world.texts()[-1]
        await world.say(EDITOR, "/poll Питання\n" + "\n".join(f"В{i}" for i in range(11)))
        assert "Забагато варіантів" in world.texts()[-1]
        await world.say(EDITOR, "/poll Питання\nТак\nтак")
        assert "повторюються" in world.texts()[-1]
        await world.say(EDITOR, "/poll Питання\nТак\n" + "д" * 101)
        assert "Варіант задовгий" in world.texts()[-1]
        # /poll alone asks; the answer creates the draft; a second answer is refused.
        await world.say(EDITOR, "/poll")
        prompt = world.chat()[-1]["message_id"]
        await world.say(EDITOR, "Питання 🙂\nТак\nНі", reply_to=prompt)
        assert poll_previews(world)
        await world.say(EDITOR, "ще раз\nА\nБ", reply_to=prompt)
        assert "вже відповіли" in world.texts()[-1]
        poll = await only_poll(world)
        assert poll.question == "Питання 🙂" and poll.options == ["Так", "Ні"]
        # A closing time in the past is refused; the question stays open.
        pid = poll_previews(world)[-1]["message_id"]
        await press(world, EDITOR, pid, "🔒")
        closes_prompt = world.chat()[-1]["message_id"]
        await world.say(EDITOR, "01.01.2020 10:00", reply_to=closes_prompt)
        assert "уже минув" in world.texts()[-1]
        await world.say(EDITOR, "вчора", reply_to=closes_prompt)
        assert "Не вдалося розібрати час" in world.texts()[-1]


def test_parse_poll() -> None:
    draft = parse_poll("Питання?\n1. Так\n2) Ні\n• Можливо\n\n")
    assert not isinstance(draft, str)
    assert draft.question == "Питання?" and draft.options == ("Так", "Ні", "Можливо")
    assert parse_poll("") == "poll.compose.empty"
    assert parse_poll("П\n-\nА") == "poll.compose.few"


async def test_scheduled_poll_is_started_by_the_scheduler(database_url: str) -> None:
    async with news_world(database_url) as world:
        await add_people(world, [TG_POKROVSKYI])
        await world.say(EDITOR, POLL)
        pid = poll_previews(world)[-1]["message_id"]
        when = (world.clock() + timedelta(days=1)).astimezone(world.runtime.settings.zone)
        # Scheduling after the closing time is refused (the poll would be closed on arrival).
        await press(world, EDITOR, pid, "🕒")
        prompt = world.chat()[-1]["message_id"]
        await world.say(
            EDITOR, (when + timedelta(days=8)).strftime("%d.%m.%Y %H:%M"), reply_to=prompt
        )
        assert "має закриватися пізніше" in world.texts()[-1]
        await world.say(EDITOR, when.strftime("%d.%m.%Y %H:%M"), reply_to=prompt)
        assert "заплановане на" in world.texts()[-2]
        poll = await only_poll(world)
        assert world.telegram.messages(int(TG_POKROVSKYI.external_id)) == []

        assert await jobs(world).start_scheduled() == []
        world.clock.advance(timedelta(days=1, minutes=1))
        assert await jobs(world).start_scheduled() == [poll.broadcast_id]
        await wait_done(world.runtime.sessionmaker, poll.broadcast_id)
        edited = await tg_vote(world, TG_POKROVSKYI, "Ні")
        assert "Ваш голос враховано: Ні" in edited["text"]


async def test_mydata_shows_votes_and_forget_unlinks_them(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        ids = await add_people(world, PEOPLE)
        resident = ids[TG_POKROVSKYI.external_id]
        user = int(TG_POKROVSKYI.external_id)
        closed = await send_poll(world)
        await tg_vote(world, TG_POKROVSKYI, "Так 🌳")
        await tg_vote(world, TG_TERNIVSKYI, "Ні")
        async with world.runtime.sessionmaker() as session, session.begin():
            assert await polls.close_poll(session, poll_id=closed.id, now=world.clock())
        still_open = await send_poll(world, text="/poll Друге питання\n- Так 🌳\n- Ні")
        messages = [
            m for m in world.telegram.messages(user) if "Друге питання" in (m.get("text") or "")
        ]
        data = next(
            button["callback_data"]
            for row in messages[0]["reply_markup"]["inline_keyboard"]
            for button in row
            if button["text"] == "Ні"
        )
        await world.telegram.press_button(user, messages[0]["message_id"], data)
        assert await votes(world, still_open.id) == [(resident, 1)]

        await world.telegram.send_text(user, "/mydata")
        export = world.telegram.messages(user)[-1]["text"]
        assert '"poll_votes"' in export and "Друге питання" in export and '"Так 🌳"' in export

        await world.telegram.send_text(user, "/forget")
        confirm = world.telegram.messages(user)[-1]
        yes = confirm["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
        await world.telegram.press_button(user, confirm["message_id"], yes)
        # The open poll's vote is withdrawn; the closed poll keeps its totals, unlinked.
        assert await votes(world, still_open.id) == []
        kept = await votes(world, closed.id)
        assert len(kept) == 2 and all(voter != resident for voter, _ in kept)
        assert (await results(world, closed.id)).total.votes == [1, 1, 0]
        async with world.runtime.sessionmaker() as session:
            assert await polls.resident_votes(session, resident_id=resident) == []


async def test_the_officials_summary_lists_polls_closed_in_the_period(database_url: str) -> None:
    from broadcasts.summary import PollLine, polls_closed_between

    async with news_world(database_url, viber=True) as world:
        await add_people(world, PEOPLE)
        poll = await send_poll(world)
        await tg_vote(world, TG_POKROVSKYI, "Ні")
        await tg_vote(world, TG_TERNIVSKYI, "Ні")
        now = world.clock()
        async with world.runtime.sessionmaker() as session, session.begin():
            assert await polls.close_poll(session, poll_id=poll.id, now=now)
        async with world.runtime.sessionmaker() as session:
            week = await polls_closed_between(session, now - timedelta(days=7), now + timedelta(1))
            before = await polls_closed_between(session, now - timedelta(days=14), now)
        assert week == [PollLine(question=QUESTION, votes=2, leader="Ні")]
        assert before == []


async def test_poll_export_has_totals_and_no_voters(database_url: str) -> None:
    import csv
    import io

    from storage.export import ExportKind, Period, export_csv

    async with news_world(database_url, viber=True) as world:
        await add_people(world, PEOPLE)
        poll = await send_poll(world)
        await tg_vote(world, TG_POKROVSKYI, "Ні")
        await tg_vote(world, TG_TERNIVSKYI, "Так 🌳")
        day = world.clock().astimezone(world.runtime.settings.zone).date()
        async with world.runtime.sessionmaker() as session:
            export = await export_csv(
                session,
                kind=ExportKind.POLLS,
                period=Period(day, day),
                zone=world.runtime.settings.zone,
                personal=True,
            )
        text = export.data.decode("utf-8")
        assert text.startswith("\ufeff")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert export.rows == 3 == len(rows)
        assert [(r["option"], r["votes"], r["voters"]) for r in rows] == [
            ("Так 🌳", "1", "2"),
            ("Ні", "1", "2"),
            ("Байдуже", "0", "2"),
        ]
        assert {r["poll"] for r in rows} == {str(poll.id)} and rows[0]["reached"] == "3"
        # Even for an administrator: totals only, nobody's vote.
        assert TG_POKROVSKYI.external_id not in text and "resident" not in text


async def test_closing_cancels_what_was_not_sent_yet(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Held back (quiet hours, a long queue) when the poll closed: never sent afterwards."""
    from datetime import UTC, datetime

    from storage.broadcasts import broadcast_progress, finish_done
    from storage.planning import plan_broadcast
    from tests.test_broadcast_helpers import add_residents

    now = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)
    await add_residents(sessionmaker, [Person("telegram", str(7100 + n)) for n in range(5)])
    async with sessionmaker() as session, session.begin():
        poll = await polls.create_poll(
            session,
            question="Сквер?",
            options=["Так", "Ні"],
            closes_at=now + timedelta(hours=1),
            now=now,
        )
        assert await plan_broadcast(session, broadcast_id=poll.broadcast_id, now=now) == 5
    async with sessionmaker() as session, session.begin():
        assert await polls.close_due(session, now=now + timedelta(hours=2)) == [poll.id]
    async with sessionmaker() as session, session.begin():
        await finish_done(session, now=now + timedelta(hours=2))
    async with sessionmaker() as session:
        progress = await broadcast_progress(
            session, broadcast_id=poll.broadcast_id, now=now + timedelta(hours=2)
        )
    assert progress is not None
    assert (progress.cancelled, progress.pending, progress.status) == (5, 0, "finished")


async def test_editors_close_a_poll_early(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        await add_people(world, PEOPLE)
        poll = await send_poll(world)
        await tg_vote(world, TG_POKROVSKYI, "Ні")
        for user, text in ((OUTSIDER, "лише зареєстровані"), (OPERATOR, "лише редактори")):
            await world.say(user, f"/pollclose {poll.id}")
            assert text in world.texts()[-1], user
        await world.say(EDITOR, "/pollclose сквер")
        assert "/pollclose 12" in world.texts()[-1]
        await world.say(EDITOR, "/pollclose 4242")
        assert "не знайдено" in world.texts()[-1]
        photos = len(world.telegram.calls_to("sendPhoto"))
        await world.say(EDITOR, f"/pollclose {poll.id}")
        assert any(f"Опитування №{poll.id} завершено достроково" in t for t in world.texts())
        # The final results and chart, as at the closing time.
        assert len(world.telegram.calls_to("sendPhoto")) == photos + 1
        assert (await only_poll(world)).status == "closed"
        assert len(await world.audit("poll.closed_early")) == 1
        await world.say(EDITOR, f"/pollclose {poll.id}")
        assert f"№{poll.id} уже завершено" in world.texts()[-1]
        # A vote now gets the clear answer and changes nothing.
        await tg_vote(world, TG_TERNIVSKYI, "Так 🌳")
        assert (await results(world, poll.id)).total.votes == [0, 1, 0]
