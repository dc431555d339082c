"""News in the web desk over real HTTP (bot/desk/news.py): composed in the browser, it reaches a
Telegram and a Viber resident through the fake servers by the delivery engine; the live count,
scheduling, stopping, the confirmation, the two-person approval, the role matrix and bad input;
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from broadcasts.scheduled import start_due
from storage.models import Broadcast
from storage.vocabulary import Role
from tests.desk_world import Browser, DeskWorld, desk_world
from tests.test_broadcast_helpers import Person, add_residents, wait_done

pytestmark = pytest.mark.migrated_database

TG_POKROVSKYI = Person("telegram", "6300001", "pokrovskyi", ("outages",))
TG_TERNIVSKYI = Person("telegram", "6300002", "ternivskyi", ("outages",))
VB_POKROVSKYI = Person("viber", "VbDeskNewsPokrovskyi0001==", "pokrovskyi", ("outages",))
PEOPLE = (TG_POKROVSKYI, TG_TERNIVSKYI, VB_POKROVSKYI)


async def add_people(world: DeskWorld, people: Sequence[Person]) -> None:
    """Residents in the database, reachable in the fake messengers."""
    await add_residents(world.runtime.sessionmaker, people)
    for person in people:
        if person.channel == "telegram":
            assert world.telegram is not None
            world.telegram.user(int(person.external_id), first_name="Мешканець")
            world.telegram._sim_chat(world.telegram._sim_user(int(person.external_id)), None)
        else:
            world.viber.user(person.external_id, name="Мешканець", subscribed=True)


def received(world: DeskWorld, person: Person) -> list[str]:
    if person.channel == "telegram":
        assert world.telegram is not None
        return [
            str(m.get("text") or m.get("caption") or "")
            for m in world.telegram.messages(int(person.external_id))
        ]
    return world.viber.texts(person.external_id)


async def post(
    browser: Browser, path: str, pairs: Sequence[tuple[str, str]] = ()
) -> tuple[int, str, str]:
    """A form with repeated fields (the targeting boxes); returns the status, the page and the
    address it ended on."""
    form = [("csrf", browser.csrf), *pairs]
    async with browser.http.post(browser.base + path, data=form) as response:
        body = await response.text()
        browser._keep_token(body)
        return response.status, body, response.url.path


async def items(world: DeskWorld) -> list[Broadcast]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(Broadcast).order_by(Broadcast.id))).all())


def item_id(path: str) -> int:
    found = re.fullmatch(r"/desk/news/(\d+)", path)
    assert found is not None, path
    return int(found.group(1))


async def test_composed_in_the_browser_it_reaches_both_messengers(database_url: str) -> None:
    async with desk_world(database_url, telegram=True, quiet_hours="") as world:
        await add_people(world, PEOPLE)
        olena = await world.account("olena", Role.EDITOR, departments=None)
        browser = await world.signed_in(olena)
        status, page = await browser.get("/desk/news")
        assert status == 200 and 'href="/desk/news/new"' in page
        status, page = await browser.get("/desk/news/new")
        assert status == 200 and "data-count-url" in page
        # The live count: everyone, then one district.
        status, body = await browser.get("/desk/news/count")
        assert status == 200 and '"count": 3' in body
        async with browser.http.get(
            world.base + "/desk/news/count", params=[("district", "pokrovskyi")]
        ) as response:
            assert (await response.json()) == {"count": 2}
        async with browser.http.get(
            world.base + "/desk/news/count",
            params=[("district", "pokrovskyi"), ("channel", "viber")],
        ) as response:
            assert (await response.json()) == {"count": 1}

        text = 'Відключення <b>світла</b> & <a href="https://kr.gov.ua/x">деталі</a> 💡'
        status, page, path = await post(
            browser,
            "/desk/news/new",
            [("text", text), ("district", "pokrovskyi"), ("action", "save")],
        )
        assert status == 200, page[:500]
        news_id = item_id(path)
        # The preview as each messenger shows it, side by side.
        markup = "Відключення <b>світла</b> &amp; деталі (https://kr.gov.ua/x) 💡"
        assert markup in page
        assert "Відключення світла &amp; деталі (https://kr.gov.ua/x) 💡" in page
        assert 'class="phone telegram"' in page and 'class="phone viber"' in page

        status, page, path = await post(
            browser,
            f"/desk/news/{news_id}",
            [("text", text), ("district", "pokrovskyi"), ("action", "send")],
        )
        assert status == 200 and path == f"/desk/news/{news_id}", page[:500]
        done = await wait_done(world.runtime.sessionmaker, news_id)
        assert (done.sent, done.blocked, done.failed) == (2, 0, 0)
        assert received(world, TG_POKROVSKYI) == [
            "Відключення світла & деталі (https://kr.gov.ua/x) 💡"
        ]
        assert received(world, VB_POKROVSKYI) == [
            "Відключення світла & деталі (https://kr.gov.ua/x) 💡"
        ]
        assert received(world, TG_TERNIVSKYI) == []
        # Bold reaches Telegram as bold.
        assert world.telegram is not None
        [message] = world.telegram.messages(int(TG_POKROVSKYI.external_id))
        assert any(e["type"] == "bold" for e in message.get("entities", []))
        # The final report on the page, and the progress endpoint.
        status, page = await browser.get(f"/desk/news/{news_id}")
        assert "Підсумок розсилки" in page and 'data-field="sent">2<' in page
        async with browser.http.get(world.base + f"/desk/news/{news_id}/progress") as response:
            data: dict[str, Any] = await response.json()
        assert data["sent"] == 2 and data["finished"] is True
        [sent] = await world.audit("news.sent")
        assert sent.actor == f"staff:{olena.id}" and sent.details["desk"] == "web"
        # Listed as sent.
        status, page = await browser.get("/desk/news")
        assert f'href="/desk/news/{news_id}"' in page


async def test_schedule_then_it_starts_when_due(database_url: str) -> None:
    async with desk_world(database_url, telegram=True, quiet_hours="") as world:
        await add_people(world, [TG_POKROVSKYI])
        editor = await world.account("olena", Role.EDITOR)
        browser = await world.signed_in(editor)
        zone = world.runtime.settings.zone
        past = (world.clock() - timedelta(hours=1)).astimezone(zone)
        status, page, _path = await post(
            browser,
            "/desk/news/new",
            [
                ("text", "Сесія ради"),
                ("action", "schedule"),
                ("when_date", past.date().isoformat()),
                ("when_time", past.strftime("%H:%M")),
            ],
        )
        assert status == 400 and "Цей час уже минув" in page
        [draft] = await items(world)
        assert draft.status == "draft"
        news_id = draft.id
        later = (world.clock() + timedelta(days=2)).astimezone(zone)
        status, page, _ = await post(
            browser,
            f"/desk/news/{news_id}",
            [
                ("text", "Сесія ради"),
                ("action", "schedule"),
                ("when_date", later.date().isoformat()),
                ("when_time", later.strftime("%H:%M")),
            ],
        )
        assert status == 200 and "Заплановано на" in page
        [item] = await items(world)
        assert item.status == "scheduled"
        assert await start_due(world.runtime.sessionmaker, clock=world.clock) == []
        world.clock.advance(timedelta(days=2, minutes=1))
        assert await start_due(world.runtime.sessionmaker, clock=world.clock) == [news_id]
        assert world.runtime.delivery is not None
        world.runtime.delivery.wake()
        await wait_done(world.runtime.sessionmaker, news_id)
        assert received(world, TG_POKROVSKYI) == ["Сесія ради"]


async def test_confirmation_above_the_threshold_and_stop(database_url: str) -> None:
    # Telegram at one message a second: the broadcast is still sending when Stop is pressed.
    people = [Person("telegram", str(6310000 + n), "city", ("outages",)) for n in range(30)]
    async with desk_world(
        database_url, telegram=True, quiet_hours="", confirm_above="5", telegram_rate="1"
    ) as world:
        await add_people(world, people)
        editor = await world.account("olena", Role.EDITOR)
        browser = await world.signed_in(editor)
        status, page, _ = await post(
            browser, "/desk/news/new", [("text", "Багато отримувачів"), ("action", "send")]
        )
        # Above CITYBOT_CONFIRM_ABOVE: the count is asked to be confirmed first.
        assert status == 200 and "Надіслати 30 мешканцям зараз?" in page
        [item] = await items(world)
        assert item.status == "draft"
        # A confirmation for another count asks again.
        status, page, _ = await post(browser, f"/desk/news/{item.id}/send", [("confirmed", "29")])
        assert "Надіслати 30 мешканцям зараз?" in page
        status, page, _ = await post(browser, f"/desk/news/{item.id}/send", [("confirmed", "30")])
        assert status == 200 and "Зупинити розсилку" in page and "data-progress-url" in page
        async with browser.http.get(world.base + f"/desk/news/{item.id}/progress") as response:
            live: dict[str, Any] = await response.json()
        assert live["status"] == "sending" and live["total"] == 30
        status, page, _ = await post(browser, f"/desk/news/{item.id}/stop")
        assert status == 200 and "Зупинити розсилку" not in page
        done = await wait_done(world.runtime.sessionmaker, item.id)
        assert done.status == "cancelled" and done.cancelled > 0
        assert done.sent + done.cancelled == 30
        [stopped] = await world.audit("news.stopped")
        assert stopped.details["desk"] == "web"
        status, page = await browser.get(f"/desk/news/{item.id}")
        assert f'data-field="cancelled">{done.cancelled}<' in page


async def test_two_person_rule_a_second_editor_approves(database_url: str) -> None:
    async with desk_world(
        database_url, telegram=True, quiet_hours="", news_two_person="true"
    ) as world:
        await add_people(world, [VB_POKROVSKYI])
        author = await world.signed_in(await world.account("olena", Role.EDITOR))
        second = await world.signed_in(await world.account("marko", Role.EDITOR))
        status, page, path = await post(
            author, "/desk/news/new", [("text", "Погоджена новина"), ("action", "send")]
        )
        assert status == 200 and "чекає на погодження" in page, page[:400]
        news_id = item_id(path)
        # The author may not approve: refused, audited.
        status, page, _ = await post(author, f"/desk/news/{news_id}/approve")
        assert status == 409 and "Автор не може погодити" in page
        assert await world.audit("news.approve_refused")
        status, page, _ = await post(second, f"/desk/news/{news_id}/approve")
        assert status == 200
        await wait_done(world.runtime.sessionmaker, news_id)
        assert received(world, VB_POKROVSKYI) == ["Погоджена новина"]
        [approved] = await world.audit("news.approved")
        assert approved.details["desk"] == "web"


async def test_roles_and_the_signed_out(database_url: str) -> None:
    async with desk_world(database_url) as world:
        for role in (Role.OPERATOR, Role.HEAD):
            browser = await world.signed_in(await world.account(f"u{role.value}", role))
            for path in ("/desk/news", "/desk/news/new", "/desk/news/count", "/desk/news/1"):
                status, _ = await browser.get(path)
                assert status == 403, (role, path)
            status, _, _ = await post(browser, "/desk/news/new", [("text", "x")])
            assert status == 403
            # No news link in their menu.
            _, page = await browser.get("/desk/")
            assert 'href="/desk/news"' not in page
        admin = await world.signed_in(await world.account("admin", Role.ADMIN, totp=True))
        status, page = await admin.get("/desk/news")
        assert status == 200
        _, page = await admin.get("/desk/")
        assert 'href="/desk/news"' in page
        stranger = await world.browser()
        async with stranger.http.get(world.base + "/desk/news", allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/desk/login"
        async with stranger.http.post(world.base + "/desk/news/new", data={"text": "x"}) as answer:
            assert answer.status == 401
        assert await items(world) == []


async def test_bad_input_is_answered_and_nothing_is_lost(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        status, page, _ = await post(browser, "/desk/news/new", [("text", "   ")])
        assert status == 400 and "Текст новини порожній" in page
        huge = "Д" * 5000
        status, page, _ = await post(browser, "/desk/news/new", [("text", huge)])
        assert status == 400 and "Текст задовгий: 5000" in page and huge in page
        evil = "<script>alert(1)</script> Привіт"
        status, page, _ = await post(browser, "/desk/news/new", [("text", evil)])
        assert status == 400 and "Розмітка &lt;script&gt; не підтримується" in page
        # Kept in the box, escaped: nothing lost, nothing run.
        assert (
            "&lt;script&gt;alert(1)&lt;/script&gt; Привіт" in page and "<script>alert" not in page
        )
        status, page, _ = await post(
            browser, "/desk/news/new", [("text", '<a href="javascript:x">тут</a>')]
        )
        assert status == 400 and "javascript:x" in page
        status, page, _ = await post(browser, "/desk/news/new", [("text", "<b>не закрито")])
        assert status == 400 and "не закрито" in page
        assert await items(world) == []
        # Emoji and a literal "<" typed as &lt; are fine.
        status, page, _ = await post(
            browser, "/desk/news/new", [("text", "🎉 1 &lt; 2 🇺🇦"), ("action", "save")]
        )
        assert status == 200
        [item] = await items(world)
        assert item.text == "🎉 1 &lt; 2 🇺🇦"
        # An unknown district or a missing item.
        status, _ = await browser.get("/desk/news/999")
        assert status == 404


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


async def upload(
    browser: Browser, path: str, fields: Sequence[tuple[str, str]], name: str, data: bytes
) -> tuple[int, str, str]:
    form = aiohttp.FormData()
    form.add_field("csrf", browser.csrf)
    for key, value in fields:
        form.add_field(key, value)
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    async with browser.http.post(browser.base + path, data=form) as response:
        body = await response.text()
        browser._keep_token(body)
        return response.status, body, response.url.path


async def test_a_photo_uploaded_reaches_both_messengers(database_url: str) -> None:
    async with desk_world(database_url, telegram=True, quiet_hours="") as world:
        await add_people(world, [TG_POKROVSKYI, VB_POKROVSKYI])
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        # Not a photo nor a PDF (whatever the name says): refused, the text kept.
        status, page, _ = await upload(
            browser, "/desk/news/new", [("text", "Фото дня")], "x.png", b"<html>not a png"
        )
        assert status == 400 and "JPEG або PNG" in page and "Фото дня" in page
        assert await items(world) == []
        status, page, path = await upload(
            browser, "/desk/news/new", [("text", "Фото дня"), ("action", "save")], "day.png", PNG
        )
        assert status == 200, page[:300]
        news_id = item_id(path)
        assert "📷" in page
        [item] = await items(world)
        assert item.media_kind == "photo" and item.media_ref is not None
        assert item.media_ref.startswith(world.base + "/media/")
        # The link serves the very bytes, as a PNG.
        async with browser.http.get(item.media_ref) as response:
            assert response.status == 200 and response.content_type == "image/png"
            assert await response.read() == PNG
        status, page, _ = await post(
            browser, f"/desk/news/{news_id}", [("text", "Фото дня"), ("action", "send")]
        )
        assert status == 200
        done = await wait_done(world.runtime.sessionmaker, news_id)
        assert done.sent == 2, done
        assert world.telegram is not None
        [photo] = world.telegram.messages(int(TG_POKROVSKYI.external_id))
        assert photo.get("caption") == "Фото дня" and photo.get("photo")
        [picture] = world.viber.messages(VB_POKROVSKYI.external_id)
        assert picture["type"] == "picture" and picture["media"] == item.media_ref
        assert picture["text"] == "Фото дня"


async def test_rss_drafts_are_published_or_discarded(database_url: str) -> None:
    async with desk_world(database_url, quiet_hours="") as world:
        await add_people(world, [VB_POKROVSKYI])
        async with world.runtime.sessionmaker() as session, session.begin():
            for title in ("Перша з RSS", "Друга з RSS"):
                session.add(
                    Broadcast(
                        kind="news",
                        text=title,
                        status="draft",
                        source="rss",
                        source_ref="https://kr.gov.ua/rss/1",
                        created_at=world.clock(),
                        topics=[],
                        districts=[],
                        channels=[],
                    )
                )
        first, second = await items(world)
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        status, page = await browser.get("/desk/news")
        assert status == 200 and "Чернетки з RSS" in page and "Перша з RSS" in page
        assert f'action="/desk/news/{first.id}/send"' in page
        status, page, _ = await post(browser, f"/desk/news/{first.id}/send")
        assert status == 200
        await wait_done(world.runtime.sessionmaker, first.id)
        assert received(world, VB_POKROVSKYI) == ["Перша з RSS"]
        status, page, _ = await post(browser, f"/desk/news/{second.id}/cancel")
        assert status == 200
        _, second_now = await items(world)
        assert second_now.status == "cancelled"
        assert await world.audit("news.cancelled")
        _, page = await browser.get("/desk/news")
        assert f'action="/desk/news/{second.id}/send"' not in page


async def test_pending_news_changed_back_to_a_draft_then_cancelled(database_url: str) -> None:
    async with desk_world(database_url, news_two_person="true") as world:
        await add_people(world, [VB_POKROVSKYI])
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        status, page, path = await post(
            browser, "/desk/news/new", [("text", "Чернетка"), ("action", "send")]
        )
        assert status == 200 and "Передати на погодження" not in page
        status, page, _ = await post(browser, f"{path}/reopen")
        assert status == 200 and "Передати на погодження" in page
        [item] = await items(world)
        assert item.status == "draft"
        status, page, _ = await post(browser, f"{path}/cancel")
        [item] = await items(world)
        assert item.status == "cancelled"
        # A second cancel is refused clearly.
        status, page, _ = await post(browser, f"{path}/cancel")
        assert status == 409 and 'role="alert"' in page
