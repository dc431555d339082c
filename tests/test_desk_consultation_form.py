"""Writing consultation drafts in the web desk over real HTTP (bot/desk/consultation_form.py),
on SQLite and PostgreSQL: a draft with every field (HTML and emoji kept as text, a document
file kept and sniffed), every problem shown next to its field with what was typed kept and
nothing stored (empty title, closing before opening, no questions, a huge summary, a link and
a file at once, a file that is no document), a draft edited (its file kept), and a published
consultation that the core no longer lets anyone edit."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.desk.uploads import UPLOAD_MAX
from handlers.staff import consultations as ops
from handlers.staff.core import Actor, Desk
from storage import consultations, kept_files
from storage.models import Consultation, KeptFile
from storage.vocabulary import Role
from tests.desk_world import Browser, DeskWorld, desk_world
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
TITLE = "Правила <b>благоустрою</b> 🌳"
QUESTIONS = "Чи підтримуєте проєкт? | Так | Ні | Частково\n\n? Що варто змінити?"


def once_of(page: str, action: str) -> str:
    """The one-time key of the form posting to ``action``."""
    found = re.search(
        rf'action="{re.escape(action)}"[^>]*>\s*<input type="hidden" name="csrf" value="[^"]*">'
        r'\s*<input type="hidden" name="once" value="([^"]+)"',
        page,
    )
    assert found is not None, action
    return found.group(1)


async def send_form(
    browser: Browser,
    path: str,
    fields: list[tuple[str, str]],
    file: tuple[str, bytes] | None = None,
) -> tuple[int, str, str]:
    """A multipart form as the browser posts it (with the page's one-time key); the status,
    body and path after any redirect."""
    _, page = await browser.get(path)
    form = aiohttp.FormData()
    form.add_field("csrf", browser.csrf)
    form.add_field("once", once_of(page, "/desk" + path.removeprefix("/desk")))
    for key, value in fields:
        form.add_field(key, value)
    name, data = file if file is not None else ("", b"")
    form.add_field("file", io.BytesIO(data), filename=name, content_type="application/pdf")
    async with browser.http.post(browser.base + path, data=form) as response:
        body = await response.text()
        browser._keep_token(body)
        return response.status, body, response.url.path


def local(world: DeskWorld, moment: datetime) -> tuple[str, str]:
    zone = world.runtime.consultations.zone
    here = moment.astimezone(zone)
    return here.date().isoformat(), here.strftime("%H:%M")


def every_field(world: DeskWorld, **changed: str) -> list[tuple[str, str]]:
    opens = local(world, world.clock() + timedelta(days=1))
    closes = local(world, world.clock() + timedelta(days=15))
    fields = {
        "title": TITLE,
        "summary": "Проєкт змінює <i>правила</i> прибирання дворів 🧹.\nДругий рядок.",
        "document_url": "",
        "topic": "decisions",
        "opens_date": opens[0],
        "opens_time": opens[1],
        "closes_date": closes[0],
        "closes_time": closes[1],
        "questions": QUESTIONS,
        **changed,
    }
    return [*fields.items(), ("districts", "pokrovskyi"), ("districts", "ternivskyi")]


async def stored(world: DeskWorld) -> list[Consultation]:
    async with world.runtime.sessionmaker() as session:
        return list((await session.scalars(select(Consultation))).all())


async def kept_count(world: DeskWorld) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(KeptFile)) or 0)


async def test_a_draft_with_every_field_and_its_file(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        status, page = await browser.get("/desk/consultations")
        assert status == 200 and 'href="/desk/consultations/new"' in page
        status, page, path = await send_form(
            browser, "/desk/consultations/new", every_field(world), ("проєкт.pdf", PDF)
        )
        assert status == 200, page[:500]
        assert "Чернетку збережено" in page and "Правила &lt;b&gt;благоустрою&lt;/b&gt; 🌳" in page
        assert "<b>благоустрою</b>" not in page
        [item] = await stored(world)
        assert path == f"/desk/consultations/{item.id}"
        assert item.status == "draft" and item.title == TITLE and item.topic == "decisions"
        assert item.summary.startswith("Проєкт змінює <i>правила</i>") and "\n" in item.summary
        assert item.districts == ["pokrovskyi", "ternivskyi"] and item.document_url is None
        assert item.closes_at - item.opens_at == timedelta(days=14)
        assert item.document_ref is not None and item.document_name == "проєкт.pdf"
        file_id = kept_files.id_of(item.document_ref)
        assert file_id is not None
        async with world.runtime.sessionmaker() as session:
            row = await kept_files.load(session, file_id)
            questions = await consultations.questions_of(session, item.id)
        assert row is not None and row.content == PDF and row.mime_type == "application/pdf"
        assert [(q.text, q.options) for q in questions] == [
            ("Чи підтримуєте проєкт?", ["Так", "Ні", "Частково"]),
            ("Що варто змінити?", []),
        ]
        # Staff open it through the same signed link the messengers fetch.
        found = re.search(r'data-field="document-file"><a href="([^"]+)"[^>]*>проєкт.pdf<', page)
        assert found is not None and "/media/" in found.group(1)
        async with browser.http.get(found.group(1)) as response:
            assert response.status == 200 and await response.read() == PDF
        assert len(await world.audit("consultation.create")) == 1


async def test_problems_are_shown_by_field_and_nothing_is_kept(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        closes = local(world, world.clock() - timedelta(hours=1))
        fields = every_field(
            world,
            title="   ",
            summary="а" * 3001,
            questions="",
            closes_date=closes[0],
            closes_time=closes[1],
        )
        status, page, _ = await send_form(browser, "/desk/consultations/new", fields)
        assert status == 422
        assert 'id="title-error">Заповніть це поле.' in page
        assert 'id="summary-error">Задовго: не більше 3000' in page
        assert 'id="questions-error">Додайте хоча б одне питання.' in page
        assert 'id="closes-error">Дати не підходять' in page
        assert 'aria-invalid="true"' in page and 'aria-describedby="title-error"' in page
        # What was typed is kept (and escaped), the districts stay ticked.
        assert "а" * 3000 in page and f'value="{closes[0]}"' in page
        assert 'value="pokrovskyi" checked' in page

        # Everything else right: each of these alone is refused by field.
        cases: list[tuple[dict[str, str], tuple[str, bytes] | None, str]] = [
            ({"document_url": "javascript:alert(1)"}, None, 'id="document_url-error"'),
            ({"document_url": "https://kr.gov.ua/d.pdf"}, ("d.pdf", PDF), "не обидва"),
            ({}, ("x.pdf", b"MZ\x90\x00binary\x00"), "Такий тип файлу не приймається"),
            ({}, ("big.pdf", b"%PDF-" + b"0" * UPLOAD_MAX), "Файл завеликий"),
            ({"questions": "Одне? | Так"}, None, "Варіантів відповіді має бути від 2 до 8"),
            ({"opens_date": "завтра"}, None, 'id="opens-error">Вкажіть дату й час'),
            ({"topic": "<script>"}, None, 'id="topic-error">Виберіть зі списку.'),
        ]
        for changed, file, message in cases:
            status, page, _ = await send_form(
                browser, "/desk/consultations/new", every_field(world, **changed), file
            )
            assert status == 422 and message in page, changed
            assert "Правила &lt;b&gt;благоустрою&lt;/b&gt; 🌳" in page
        # A right form with a file that another field spoiled: the file is asked for again.
        status, page, _ = await send_form(
            browser, "/desk/consultations/new", every_field(world, title=""), ("d.pdf", PDF)
        )
        assert status == 422 and "виберіть його ще раз" in page
        assert await stored(world) == [] and await kept_count(world) == 0
        assert "<script>" not in page.split("<main", 1)[1].split("</main>")[0]


async def test_edit_a_draft_but_not_a_published_consultation(database_url: str) -> None:
    async with desk_world(database_url) as world:
        editor = await world.account("olena", Role.EDITOR)
        browser = await world.signed_in(editor)
        await send_form(browser, "/desk/consultations/new", every_field(world), ("d.pdf", PDF))
        [item] = await stored(world)
        status, page = await browser.get(f"/desk/consultations/{item.id}")
        assert f'href="/desk/consultations/{item.id}/edit"' in page
        status, page = await browser.get(f"/desk/consultations/{item.id}/edit")
        assert status == 200 and "Чи підтримуєте проєкт? | Так | Ні | Частково" in page
        assert "Правила &lt;b&gt;благоустрою&lt;/b&gt; 🌳" in page and "d.pdf" in page

        changed = every_field(world, title="Нова назва", questions="Чому?")
        status, page, _ = await send_form(
            browser, f"/desk/consultations/{item.id}/edit", changed[:-1]
        )
        assert status == 200 and "Чернетку збережено" in page
        [item] = await stored(world)
        assert item.title == "Нова назва" and item.districts == ["pokrovskyi"]
        assert item.document_name == "d.pdf" and item.document_ref is not None  # the file stays
        async with world.runtime.sessionmaker() as session:
            questions = await consultations.questions_of(session, item.id)
        assert [(q.text, q.options) for q in questions] == [("Чому?", [])]
        # A link instead: the file is dropped when asked.
        fields = [
            *every_field(world, title="Нова назва", document_url="https://kr.gov.ua/d.pdf"),
            ("drop_file", "1"),
        ]
        status, page, _ = await send_form(browser, f"/desk/consultations/{item.id}/edit", fields)
        assert status == 200
        [item] = await stored(world)
        assert item.document_url == "https://kr.gov.ua/d.pdf" and item.document_ref is None
        # A problem on edit is shown by field too, and changes nothing.
        status, page, _ = await send_form(
            browser, f"/desk/consultations/{item.id}/edit", every_field(world, questions="")
        )
        assert status == 422 and 'id="questions-error"' in page
        assert len(await world.audit("consultation.revise")) == 2

        done(
            await ops.publish(world.runtime.consultations, Actor(editor.id, desk=Desk.WEB), item.id)
        )
        status, page = await browser.get(f"/desk/consultations/{item.id}/edit")
        assert status == 200 and "змінювати можна лише чернетку" in page
        status, page, _ = await send_form(
            browser, f"/desk/consultations/{item.id}/edit", every_field(world, title="Інша")
        )
        assert status == 409 and "не в тому стані" in page
        [item] = await stored(world)
        assert item.title == "Нова назва" and item.status == "open"
        assert len(await world.audit("consultation.revise")) == 2


async def test_a_repeated_submit_makes_one_draft(database_url: str) -> None:
    async with desk_world(database_url) as world:
        browser = await world.signed_in(await world.account("olena", Role.EDITOR))
        _, page = await browser.get("/desk/consultations/new")
        key = once_of(page, "/desk/consultations/new")
        paths = []
        for _ in range(2):
            form: Any = aiohttp.FormData()
            form.add_field("csrf", browser.csrf)
            form.add_field("once", key)
            for name, value in every_field(world):
                form.add_field(name, value)
            async with browser.http.post(browser.base + "/desk/consultations/new", data=form) as r:
                assert r.status == 200
                paths.append(r.url.path)
        assert len(await stored(world)) == 1 and paths[0] == paths[1]
