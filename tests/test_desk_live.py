"""Live updates of the web desk over a real socket (server-sent events), on both databases:
a new ticket, a resident's message and an action in the Telegram chat desk reach every open
stream of the departments concerned; Last-Event-ID resumes; a disabled account's stream ends; a
subscriber that does not keep up is dropped with bounded memory; the typing ping and the thread
fragments keep to the departments."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import select, update

from bot.desk.live import GAP_WAIT, QUEUE_SIZE, RELOAD, Subscriber, _Cursor
from bot.schedule import post_pending
from handlers.staff.core import Actor, Desk
from handlers.staff.tickets import assigning
from storage.desk import live as changes
from storage.models import DeskPresence, Staff
from storage.tickets import add_message, get_ticket
from storage.vocabulary import MessageDirection, Role
from tests.desk_live import desk_parts, live_feed, open_stream
from tests.desk_world import desk_world
from tests.harness import bot_settings, running_bot
from tests.staff_world import FORUM_CHAT, add_resident_message
from tests.test_open311 import PERSONAL, _key, _no_personal, _post

pytestmark = pytest.mark.migrated_database


async def test_a_new_ticket_and_a_resident_message_reach_the_departments_streams(
    database_url: str,
) -> None:
    async with desk_world(database_url) as world:
        live_feed(world)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        taras = await world.account("taras", Role.OPERATOR, departments=("transport",))
        boss = await world.account("boss", Role.ADMIN, departments=None, totp=True)
        housing = await open_stream(await world.signed_in(maria))
        transport = await open_stream(await world.signed_in(taras))
        admin = await open_stream(await world.signed_in(boss))
        # A head of department reads only, and sees the live changes too.
        head = await world.account("head", Role.HEAD)
        reader = await open_stream(await world.signed_in(head))

        ticket_id = await world.file(queue="housing")
        frame = await housing.until("ticket", ticket=ticket_id)
        assert frame.data["queue"] == "housing" and frame.data["status"] == "new"
        assert frame.data["status_text"]["uk"] and frame.data["number"]
        # No resident's personal data travels in an event.
        assert "Оксана" not in str(frame.data) and "ліфт" not in str(frame.data)
        assert (await admin.until("ticket", ticket=ticket_id)).id == frame.id
        assert (await reader.until("ticket", ticket=ticket_id)).id == frame.id

        message_id = await add_resident_message(world.runtime, ticket_id, "Ще й світла немає")
        frame = await housing.until("message", ticket=ticket_id)
        assert frame.data["what"] == "resident" and frame.data["row"] == message_id
        await admin.until("message", ticket=ticket_id)

        # Transport's operator heard of neither, only of their own department's ticket.
        theirs = await world.file(queue="transport")
        assert (await transport.until("ticket")).data["ticket"] == theirs
        for stream in (housing, transport, admin, reader):
            stream.close()


async def test_an_action_in_the_telegram_chat_desk_shows_in_the_browser(database_url: str) -> None:
    async with desk_world(database_url, telegram=True) as world:
        live_feed(world)
        assert world.telegram is not None
        world.telegram.user(5001, first_name="Петро", last_name="Оператор")
        world.telegram.add_group(FORUM_CHAT, "Звернення", is_forum=True, members=(5001,))
        await world.account("petro", Role.OPERATOR, name="Петро Оператор", telegram_id=5001)
        maria = await world.account("maria", Role.OPERATOR)
        stream = await open_stream(await world.signed_in(maria))
        ticket_id = await world.file(queue="housing")
        await stream.until("ticket", ticket=ticket_id)

        # The chat desk's catch-up posts the ticket's card to the operator chat.
        assert world.runtime.desk is not None
        await post_pending(world.runtime.desk)
        async with world.runtime.sessionmaker() as session:
            ticket = await get_ticket(session, ticket_id=ticket_id)
        assert ticket is not None and ticket.card_message_id is not None
        pressed = await world.telegram.press_button(
            5001, ticket.card_message_id, f"tk:take:{ticket_id}", chat_id=ticket.staff_chat_id
        )
        assert pressed.status == 200
        frame = await stream.until("event", ticket=ticket_id, what="taken")
        assert frame.data["actor"] == "Петро Оператор"
        assert frame.data["assignee"] == "Петро Оператор"
        assert frame.data["status"] == "in_progress"
        stream.close()


async def test_a_ticket_handed_over_is_news_to_both_departments(database_url: str) -> None:
    async with desk_world(database_url) as world:
        live_feed(world)
        maria = await world.account("maria", Role.OPERATOR)
        taras = await world.account("taras", Role.OPERATOR, departments=("transport",))
        housing = await open_stream(await world.signed_in(maria))
        transport = await open_stream(await world.signed_in(taras))
        ticket_id = await world.file(queue="housing")
        await housing.until("ticket", ticket=ticket_id)
        actor = Actor(maria.id, desk=Desk.WEB, address="127.0.0.1")
        outcome = await assigning.hand_over(
            desk_parts(world).tickets, actor, ticket_id, "transport"
        )
        assert type(outcome).__name__ == "Done", outcome
        left = await housing.until("event", ticket=ticket_id, what="handed_over")
        assert left.data["queue"] == "transport"
        arrived = await transport.until("event", ticket=ticket_id, what="handed_over")
        assert arrived.id == left.id
        housing.close()
        transport.close()


async def test_last_event_id_resumes_and_an_unknown_one_reloads(database_url: str) -> None:
    async with desk_world(database_url) as world:
        live_feed(world)
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        stream = await open_stream(browser)
        first = await world.file(queue="housing")
        seen = await stream.until("ticket", ticket=first)
        stream.close()

        # Away for a while: two tickets arrive (and another department's).
        second = await world.file(queue="housing")
        await world.file(queue="transport")
        third = await world.file(queue="housing")
        feed = live_feed(world)
        for _ in range(100):
            await asyncio.sleep(0.05)
            if feed.ticks > 3 and len(feed._recent) >= 4:
                break
        resumed = await open_stream(browser, last_event_id=seen.id)
        assert (await resumed.until("ticket")).data["ticket"] == second
        assert (await resumed.until("ticket")).data["ticket"] == third
        resumed.close()

        # An id of another process or an earlier run, or junk: the page must reload.
        for junk in ("ffffffff-3", f"{feed.epoch}-999999", "<b>x</b>", "-", "x" * 500):
            stale = await open_stream(browser, last_event_id=junk)
            frame = await stale.next()
            assert frame is not None and frame.event == "reload", junk
            assert await stale.next() is None


async def test_a_disabled_accounts_stream_ends(database_url: str) -> None:
    async with desk_world(database_url) as world:
        feed = live_feed(world)
        feed.recheck = 0.3
        maria = await world.account("maria", Role.OPERATOR)
        stream = await open_stream(await world.signed_in(maria))
        async with world.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(Staff).where(Staff.id == maria.id).values(disabled_at=world.clock())
            )
        frame = await stream.until("signed_out", wait=5)
        assert frame.event == "signed_out"
        assert await stream.next() is None
        assert feed.subscribers == 0


async def test_keep_alive_comments(database_url: str) -> None:
    async with desk_world(database_url) as world:
        feed = live_feed(world)
        feed.keepalive = 0.1
        maria = await world.account("maria", Role.OPERATOR)
        stream = await open_stream(await world.signed_in(maria))
        ticket_id = await world.file(queue="housing")
        await stream.until("ticket", ticket=ticket_id)
        assert stream.comments >= 1
        stream.close()


async def test_a_slow_subscriber_is_dropped_with_bounded_memory(database_url: str) -> None:
    async with desk_world(database_url) as world:
        feed = live_feed(world, interval=3600)
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        # A stream whose reader stalls, beside one that reads: the feed does not wait for it.
        reader = await open_stream(browser)
        slow = Subscriber(staff_id=maria.id, departments=frozenset({"housing"}))
        feed._subscribers.add(slow)
        ticket_id = await world.file(queue="housing")
        await feed.tick()
        assert (await reader.until("ticket")).data["ticket"] == ticket_id
        burst = QUEUE_SIZE // 2
        for _round in range(3):
            async with world.runtime.sessionmaker() as session, session.begin():
                ticket = await get_ticket(session, ticket_id=ticket_id)
                assert ticket is not None
                for number in range(burst):
                    add_message(
                        session,
                        ticket,
                        direction=MessageDirection.RESIDENT,
                        now=datetime.now(UTC),
                        text=f"№{number}",
                    )
            await feed.tick()
            # The reading stream takes each burst as it comes.
            for _ in range(burst):
                assert (await reader.until("message")).data["ticket"] == ticket_id
            assert slow.queue.qsize() <= QUEUE_SIZE
        assert slow.dropped and slow.queue.qsize() == 1
        assert slow.queue.get_nowait() == RELOAD
        assert slow not in feed._subscribers
        assert feed.subscribers == 1
        reader.close()


async def test_typing_shows_to_colleagues_and_keeps_to_departments(database_url: str) -> None:
    async with desk_world(database_url) as world:
        live_feed(world)
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        olena = await world.account("olena", Role.OPERATOR, name="Олена")
        taras = await world.account("taras", Role.OPERATOR, departments=("transport",))
        head = await world.account("head", Role.HEAD)
        ticket_id = await world.file(queue="housing")
        typist = await world.signed_in(maria)
        watcher = await open_stream(await world.signed_in(olena))
        own = await open_stream(typist)
        token = {"X-CSRF-Token": typist.csrf}

        status, _ = await typist.post(
            f"/desk/tickets/{ticket_id}/typing", csrf=False, headers=token
        )
        assert status == 204
        frame = await watcher.until("presence", ticket=ticket_id)
        assert frame.data["actor"] == "Марія Коваль"
        # A ping soon after is not written again; the one typing does not see themselves.
        status, _ = await typist.post(
            f"/desk/tickets/{ticket_id}/typing", csrf=False, headers=token
        )
        assert status == 204
        async with world.runtime.sessionmaker() as session:
            rows = (await session.scalars(select(DeskPresence))).all()
        assert len(rows) == 1
        other = await world.file(queue="housing")
        assert (await own.until("ticket")).data["ticket"] == other

        # Without the token, another department, a read-only head, no such ticket.
        assert (await typist.post(f"/desk/tickets/{ticket_id}/typing", csrf=False))[0] == 403
        stranger = await world.signed_in(taras)
        status, _ = await stranger.post(
            f"/desk/tickets/{ticket_id}/typing", csrf=False, headers={"X-CSRF-Token": stranger.csrf}
        )
        assert status == 403
        reader = await world.signed_in(head)
        status, _ = await reader.post(
            f"/desk/tickets/{ticket_id}/typing", csrf=False, headers={"X-CSRF-Token": reader.csrf}
        )
        assert status == 403
        status, _ = await typist.post("/desk/tickets/999999/typing", csrf=False, headers=token)
        assert status == 404
        watcher.close()
        own.close()


async def test_thread_items_after_a_message(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        taras = await world.account("taras", Role.OPERATOR, departments=("transport",))
        ticket_id = await world.file(queue="housing")
        first = await add_resident_message(world.runtime, ticket_id, "Перше")
        evil = "<script>alert(1)</script> 🙂 " + "дуже довго " * 500
        added = await add_resident_message(world.runtime, ticket_id, evil)
        browser = await world.signed_in(maria)
        status, body = await browser.get(f"/desk/tickets/{ticket_id}/thread?after={first}")
        assert status == 200
        assert f'data-message-id="{added}"' in body and f'data-message-id="{first}"' not in body
        assert "<script>" not in body and "&lt;script&gt;" in body and "🙂" in body
        assert (await browser.get(f"/desk/tickets/{ticket_id}/thread?after=x"))[0] == 400
        assert (await browser.get(f"/desk/tickets/{ticket_id}/thread?after={'9' * 40}"))[0] == 400
        status, body = await browser.get(f"/desk/tickets/{ticket_id}/thread?after={added}")
        assert status == 200 and "data-message-id" not in body
        assert (await browser.get("/desk/tickets/999999/thread"))[0] == 404
        stranger = await world.signed_in(taras)
        assert (await stranger.get(f"/desk/tickets/{ticket_id}/thread"))[0] == 403
        # The queue row of another department's ticket does not exist for them.
        assert (await stranger.get(f"/desk/tickets/{ticket_id}/row"))[0] == 404
        status, body = await browser.get(f"/desk/tickets/{ticket_id}/row")
        assert status == 200 and f'data-ticket-id="{ticket_id}"' in body


async def test_signed_out_streams_are_refused(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.browser()
        async with browser.http.get(
            world.base + "/desk/events", headers={"Accept": "text/event-stream"}
        ) as response:
            assert response.status == 401
        async with browser.http.get(
            world.base + "/desk/events", headers={"Cookie": "citybot_desk=forged"}
        ) as response:
            assert response.status == 200  # the login page, after the redirect
            assert "/desk/login" in str(response.url)


async def test_streams_end_when_the_server_shuts_down(database_url: str) -> None:
    async with desk_world(database_url) as world:
        feed = live_feed(world)
        maria = await world.account("maria", Role.OPERATOR)
        browser = await world.signed_in(maria)
        stream = await open_stream(browser)
        await feed.close()
        assert await stream.next() is None
        # A stream opened after the shutdown began ends at once.
        late = await open_stream(browser)
        assert await late.next() is None


async def test_the_servers_shutdown_ends_open_streams_at_once(database_url: str) -> None:
    async with desk_world(database_url) as world:
        live_feed(world)
        maria = await world.account("maria", Role.OPERATOR)
        stream = await open_stream(await world.signed_in(maria))
        reading = asyncio.create_task(stream.next(wait=20))
        started = time.monotonic()
        # The bot stops as ``citybot run`` does (the app's on_shutdown, then its cleanup): the
        # open stream does not hold it for the 30 s graceful timeout.
        await world.runtime.web_app.shutdown()
        assert await reading is None
        assert time.monotonic() - started < 5


async def test_the_feed_reads_holes_below_the_highest_id_again(database_url: str) -> None:
    """A row committed after a higher id was read (PostgreSQL) is still sent."""
    async with desk_world(database_url) as world:
        feed = live_feed(world, interval=3600)
        maria = await world.account("maria", Role.OPERATOR)
        stream = await open_stream(await world.signed_in(maria))
        first = await world.file(queue="housing")
        second = await world.file(queue="housing")
        # As if the first had not been committed when the feed read: its id is a hole.
        cursor = feed._cursors[changes.Source.TICKET]
        cursor.low = first - 1
        cursor.seen = {second}
        await feed.tick()
        assert (await stream.until("ticket")).data["ticket"] == first
        assert cursor.low == second
        stream.close()


def test_holes_are_waited_for_a_few_seconds_then_given_up() -> None:
    """A hole below the highest id read is read again until ``GAP_WAIT`` passed (a rolled-back
    insert leaves one for ever)."""
    cursor = _Cursor(low=10)
    assert cursor.take(11) and cursor.take(13) and not cursor.take(13)
    cursor.settle(100.0)
    assert cursor.low == 11 and cursor.gaps == {12: 100.0} and cursor.seen == {13}
    cursor.settle(100.0 + GAP_WAIT / 2)
    assert cursor.low == 11
    assert cursor.take(12) and not cursor.take(11)
    cursor.settle(101.0)
    assert cursor.low == 13 and cursor.gaps == {} and cursor.seen == set()
    assert cursor.take(15)
    cursor.settle(200.0)
    cursor.settle(200.0 + GAP_WAIT)
    assert cursor.low == 15 and not cursor.take(14)


async def test_a_request_posted_through_open311_reaches_the_desks_open_tabs(
    database_url: str,
) -> None:
    """A contact centre's request (``POST /open311/v2/requests.json``) is announced as a
    messenger's ticket is: its department's tabs get the ``ticket`` event and can fetch its
    queue row; other departments' do not; nothing the requester gave travels in the event.
    The feed reads the tickets table, so a tab open on another ``citybot run`` process than
    the one the request was posted to hears of it too (a second bot on the same database)."""
    async with desk_world(database_url) as world, aiohttp.ClientSession() as http:
        live_feed(world)
        maria = await world.account("maria", Role.OPERATOR)
        taras = await world.account("taras", Role.OPERATOR, departments=("transport",))
        browser = await world.signed_in(maria)
        housing = await open_stream(browser)
        transport = await open_stream(await world.signed_in(taras))
        async with running_bot(bot_settings(database_url)) as other:
            other_base = f"http://127.0.0.1:{other.settings.http_port}"
            there = dataclasses.replace(world, runtime=other, base=other_base)
            live_feed(there)
            elsewhere = await open_stream(await there.signed_in(maria))
            _key_id, api_key = await _key(world.runtime)
            for posted_to in (world.base, other_base):
                fields = {
                    "api_key": api_key,
                    "service_code": "housing",
                    "description": f"Прорвало трубу ({posted_to[-5:]}) <b>вода</b> & 💧",
                    "address_string": "вул. Лермонтова, 5",
                    **PERSONAL,
                }
                status, body = await _post(http, posted_to, fields)
                assert status == 200, body
                number = json.loads(body)[0]["service_request_id"]
                for stream in (housing, elsewhere):
                    frame = await stream.until("ticket", number=number)
                    assert frame.data["queue"] == "housing" and frame.data["status"] == "new"
                    assert frame.data["kind"] == "feedback"
                    _no_personal(json.dumps(frame.data, ensure_ascii=False))
                    assert "трубу" not in json.dumps(frame.data, ensure_ascii=False)
                # The live page then places its row, as for a messenger's ticket.
                status, row = await browser.get(f"/desk/tickets/{frame.data['ticket']}/row")
                assert status == 200 and number in row and "Open311" in row
            elsewhere.close()
        # Transport's operator heard of neither: the first ticket event they get is their own.
        status, body = await _post(
            http,
            world.base,
            {
                "api_key": api_key,
                "service_code": "roads_transport",
                "description": "Яма на дорозі",
                "address_string": "пр. Металургів, 1",
            },
        )
        assert status == 200, body
        number = json.loads(body)[0]["service_request_id"]
        assert (await transport.until("ticket")).data["number"] == number
        housing.close()
        transport.close()
