"""The web desk's ticket page over real HTTP: the card, the resident and the whole thread with
its attachments; every action through the staff core, audited with the desk and the client
address; the read-only head and another department's staff refused; bad input answered
clearly with nothing lost; a form sent twice acting once; the desk's file route."""

from __future__ import annotations

import html
import io
import re
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.desk.uploads import UPLOAD_MAX
from storage import kept_files, staff_desk
from storage.models import KeptFile, Resident, Ticket, TicketMessage
from storage.vocabulary import MessageDirection, Role
from tests.desk_world import VIBER_RESIDENT, DeskWorld, desk_world

pytestmark = pytest.mark.migrated_database

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
_ONCE = re.compile(
    r'action="/desk/tickets/\d+/(\w+)"[^>]*>\s*<input type="hidden" name="csrf" '
    r'value="[^"]*">\s*<input type="hidden" name="once" value="([^"]*)">'
)


def onces(body: str) -> dict[str, str]:
    """Each action form's one-time key on the page."""
    return {action: key for action, key in _ONCE.findall(body)}


async def keep_file(world: DeskWorld, content: bytes, *, kind: str, name: str, mime: str) -> str:
    async with world.runtime.sessionmaker() as session, session.begin():
        file_id = await kept_files.add(
            session,
            channel="viber",
            external_id=VIBER_RESIDENT,
            update_key=f"test-{name}",
            kind=kind,
            file_name=name,
            mime_type=mime,
            content=content,
            now=world.clock(),
        )
    return kept_files.ref_of(file_id)


async def viber_ticket(world: DeskWorld, **fields: Any) -> int:
    world.viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)
    return await world.file(name="Оксана Петренко", **fields)


async def messages_of(world: DeskWorld, ticket_id: int) -> list[TicketMessage]:
    async with world.runtime.sessionmaker() as session:
        query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
        return list((await session.scalars(query.order_by(TicketMessage.id))).all())


async def ticket_of(world: DeskWorld, ticket_id: int) -> Ticket:
    async with world.runtime.sessionmaker() as session:
        ticket = await session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


async def test_the_page_shows_card_resident_thread_and_attachments(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        photo = await keep_file(world, PNG, kind="photo", name="lift.png", mime="image/png")
        document = await keep_file(
            world, PDF, kind="document", name="akt.pdf", mime="application/pdf"
        )
        ticket_id = await viber_ticket(
            world,
            attachments=(
                ("photo", photo, "lift.png"),
                ("document", document, "akt.pdf"),
                ("location", "47.910483,33.391783", None),
                ("voice", "AwACAgIAAxkBAAIB", None),
            ),
        )
        other = await viber_ticket(world, body="Друге звернення")
        hidden = await viber_ticket(world, body="Чуже", queue="transport", category="transport")
        browser = await world.signed_in(maria)
        status, body = await browser.get(f"/desk/tickets/{ticket_id}")
        assert status == 200
        ticket = await ticket_of(world, ticket_id)
        assert f"Звернення {ticket.number}" in body
        # The card: kind, legal fields, the deadline and the law behind it, status.
        assert "Один місяць (ст. 20 Закону «Про звернення громадян»)" in body
        # The resident's text is escaped, not markup.
        assert "&lt;b&gt;вже тиждень&lt;/b&gt; &amp; ніхто" in body
        assert "<b>вже тиждень</b>" not in body
        assert "Оксана Петренко" in body and "oksana@example.com" in body
        # Their other ticket of a department the viewer works in is a link; the other
        # department's is not shown.
        assert f'href="/desk/tickets/{other}"' in body
        assert f'href="/desk/tickets/{hidden}"' not in body
        # Attachments: the photo inline, the PDF a download, the place on the map, and a
        # Telegram file (no Telegram here) said to be unavailable.
        files = {m.attachment_kind: m.id for m in await messages_of(world, ticket_id)}
        assert f'<img class="photo" src="/desk/files/{files["photo"]}"' in body
        assert f'href="/desk/files/{files["document"]}" download' in body
        assert "https://www.openstreetmap.org/?mlat=47.910483&amp;mlon=33.391783" in body
        assert "файл не можна відкрити в браузері" in body
        # The live parts another helper fills.
        assert f'data-live="thread" data-ticket-id="{ticket_id}"' in body
        presence = f'<p id="presence" class="presence" data-ticket-id="{ticket_id}"'
        assert presence + ' aria-live="polite"></p>' in body

        # The files themselves: the image inline, the PDF as a download, nosniff on both.
        async with browser.http.get(f"{world.base}/desk/files/{files['photo']}") as response:
            assert response.status == 200 and await response.read() == PNG
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "Content-Disposition" not in response.headers
        async with browser.http.get(f"{world.base}/desk/files/{files['document']}") as response:
            assert response.status == 200 and await response.read() == PDF
            assert response.headers["Content-Type"] == "application/octet-stream"
            assert response.headers["Content-Disposition"].startswith("attachment")
        # Signed out: no file.
        stranger = await world.browser()
        async with stranger.http.get(
            f"{world.base}/desk/files/{files['photo']}", allow_redirects=False
        ) as response:
            assert response.status == 303


async def test_roles_and_departments(database_url: str) -> None:
    async with desk_world(database_url) as world:
        await world.account("maria", Role.OPERATOR)
        head = await world.account("olena", Role.HEAD)
        outsider = await world.account("taras", Role.OPERATOR, departments=("transport",))
        admin = await world.account("iryna", Role.ADMIN, departments=None, totp=True)
        photo = await keep_file(world, PNG, kind="photo", name="a.png", mime="image/png")
        ticket_id = await viber_ticket(world, attachments=(("photo", photo, "a.png"),))
        (message,) = await messages_of(world, ticket_id)
        number = (await ticket_of(world, ticket_id)).number
        page = f"/desk/tickets/{ticket_id}"

        # Logged out: the page goes to the login form, an action is 401.
        stranger = await world.browser()
        async with stranger.http.get(world.base + page, allow_redirects=False) as response:
            assert response.status == 303 and response.headers["Location"] == "/desk/login"
        async with stranger.http.post(
            world.base + page + "/take", data={"csrf": "x"}, allow_redirects=False
        ) as response:
            assert response.status in (401, 403)

        # The head sees the page, without any action form, and is refused an action.
        browser = await world.signed_in(head)
        status, body = await browser.get(page)
        assert status == 200 and number in body
        assert "/answer" not in body and "/close" not in body
        assert "Ваша роль дозволяє лише перегляд" in body
        status, _ = await browser.post(page + "/close")
        assert status == 403
        assert (await ticket_of(world, ticket_id)).status == "new"

        # Another department: a 404 that shows nothing of the ticket; its actions and files
        # are refused the same way.
        browser = await world.signed_in(outsider)
        status, body = await browser.get(page)
        assert status == 404 and number not in body and "Оксана" not in body
        await browser.get("/desk/")
        for action in ("answer", "note", "take", "close", "ban"):
            status, body = await browser.post(page + f"/{action}", {"text": "Привіт"})
            assert status == 404 and number not in body, action
        async with browser.http.get(f"{world.base}/desk/files/{message.id}") as response:
            assert response.status == 404
        assert (
            await messages_of(world, ticket_id) == [message]
            or len(await messages_of(world, ticket_id)) == 1
        )
        assert (await ticket_of(world, ticket_id)).status == "new"

        # An administrator works in every department.
        browser = await world.signed_in(admin)
        status, body = await browser.get(page)
        assert status == 200 and f"/desk/tickets/{ticket_id}/answer" in body


async def test_every_action_goes_through_the_core_and_is_audited(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        ticket_id = await viber_ticket(world)
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)

        async def act(action: str, data: dict[str, str] | None = None) -> str:
            await browser.get(page)
            async with browser.http.post(
                world.base + page + f"/{action}",
                data={"csrf": browser.csrf, **(data or {})},
                allow_redirects=False,
            ) as response:
                text = await response.text()
                assert response.status == 303, (action, response.status, text[-2000:])
                assert response.headers["Location"] == f"{page}?done={action}"
            status, body = await browser.get(f"{page}?done={action}")
            assert status == 200
            return body

        body = await act("take")
        assert "Ви взяли звернення в роботу" in body and "Марія Коваль" in body
        body = await act("term", {"term": "simple"})
        assert "15 днів" in body
        body = await act("note", {"text": "Перевірити підвал"})
        assert "Перевірити підвал" in body and "Внутрішня нотатка: Марія Коваль" in body
        body = await act("answer", {"text": "Ліфт полагодять у четвер 🛠"})
        assert "Ліфт полагодять у четвер 🛠" in body and "Відповідь: Марія Коваль" in body
        assert "Ліфт полагодять у четвер 🛠" in world.viber.texts(VIBER_RESIDENT)[-1]
        body = await act("extend", {"reason": "Потрібна перевірка на місці"})
        assert "Строк продовжено" in body
        body = await act("ban")
        assert "Заявника заблоковано" in body
        body = await act("unban")
        assert "Заявника розблоковано" in body
        await browser.get(page)
        async with browser.http.post(
            world.base + page + "/handover",
            data={"csrf": browser.csrf, "queue": "transport"},
            allow_redirects=False,
        ) as response:
            # Handed over to a department Maria does not work in: back to her queue.
            assert response.status == 303 and response.headers["Location"] == "/desk/"
        status, body = await browser.get(page)
        assert status == 404 and "Звернення не знайдено" in body
        assert (await ticket_of(world, ticket_id)).queue_code == "transport"
        # Every action is audited with the web desk and the client address.
        for action in (
            "ticket.take",
            "ticket.term",
            "ticket.note",
            "ticket.answer",
            "ticket.extend",
            "resident.ban",
            "resident.unban",
            "ticket.handover",
        ):
            (entry,) = await world.audit(action)
            assert entry.actor == f"staff:{maria.id}", action
            assert entry.details is not None
            assert entry.details["desk"] == "web" and entry.details["address"] == "127.0.0.1"

        second = await viber_ticket(world, kind="info_request", category=None, body="Запит")
        page = f"/desk/tickets/{second}"
        body = await act("refuse", {"ground": "not_holder", "comment": "Інформація в ОДА"})
        assert "У задоволенні відмовлено" in body
        third = await viber_ticket(world)
        page = f"/desk/tickets/{third}"
        body = await act("close")
        assert "Звернення закрито" in body
        assert len(await world.audit("ticket.refuse")) == 1
        assert len(await world.audit("ticket.close")) == 1
        # A closed ticket: no answer box, and an answer is refused in words.
        assert "/answer" not in body
        status, body = await browser.post(page + "/answer", {"text": "Ще"})
        assert status == 409 and "Звернення вже закрите" in body


async def test_bad_input_is_answered_clearly_and_nothing_is_lost(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        ticket_id = await viber_ticket(world)
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)
        await browser.get(page)
        status, body = await browser.post(page + "/answer", {"text": "   "})
        assert status == 422 and "Текст порожній" in body
        long_text = "Дуже довга відповідь. " * 230  # about 5,000 characters
        assert len(long_text) > 4000
        status, body = await browser.post(page + "/answer", {"text": long_text})
        assert status == 422 and "Текст задовгий" in body
        # What was typed is back in the box.
        assert html.escape(long_text.strip(), quote=False) in body
        status, body = await browser.post(page + "/note", {"text": ""})
        assert status == 422 and "Текст порожній" in body
        status, body = await browser.post(page + "/extend", {"reason": ""})
        assert status == 422 and "Вкажіть причину продовження" in body
        status, body = await browser.post(page + "/handover", {"queue": "nowhere"})
        assert status == 422 and "Такої активної черги немає" in body
        status, body = await browser.post(page + "/term", {"term": "forever"})
        assert status == 422
        status, body = await browser.post(page + "/refuse", {"ground": "bogus", "comment": "x"})
        assert status == 409 or status == 422
        assert len(await messages_of(world, ticket_id)) == 0
        # HTML typed by staff is escaped in the page and reaches the resident as text.
        await browser.get(page)
        status, body = await browser.post(
            page + "/answer", {"text": "<script>alert(1)</script> & 👍"}
        )
        assert status == 200
        assert "<script>alert(1)</script>" not in body
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 👍" in body
        assert "<script>alert(1)</script> & 👍" in world.viber.texts(VIBER_RESIDENT)[-1]
        # A file that is not an accepted type: refused, the text kept.
        await browser.get(page)
        form = aiohttp.FormData()
        form.add_field("csrf", browser.csrf)
        form.add_field("text", "З файлом")
        form.add_field("file", b"MZ\x90\x00\x03\x00\xff\xfe", filename="virus.exe")
        async with browser.http.post(world.base + page + "/answer", data=form) as response:
            body = await response.text()
            assert response.status == 422 and "Такий тип файлу не приймається" in body
            assert "З файлом" in body
        # A file over the limit: refused in words, the text kept.
        await browser.get(page)
        form = aiohttp.FormData()
        form.add_field("csrf", browser.csrf)
        form.add_field("text", "Великий файл")
        form.add_field("file", io.BytesIO(PDF + b"0" * UPLOAD_MAX), filename="big.pdf")
        async with browser.http.post(world.base + page + "/answer", data=form) as response:
            body = await response.text()
            assert response.status == 422 and "Файл завеликий" in body
            assert "Великий файл" in body
        async with world.runtime.sessionmaker() as session:
            kept = await session.scalar(select(func.count()).select_from(KeptFile))
        assert kept == 0


async def test_a_form_sent_twice_acts_once(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        ticket_id = await viber_ticket(world)
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)
        _, body = await browser.get(page)
        once = onces(body)["answer"]
        locations = []
        for _ in range(2):
            async with browser.http.post(
                world.base + page + "/answer",
                data={"csrf": browser.csrf, "once": once, "text": "Один раз"},
                allow_redirects=False,
            ) as response:
                assert response.status == 303
                locations.append(response.headers["Location"])
        assert locations == [f"{page}?done=answer"] * 2
        answers = [
            m for m in await messages_of(world, ticket_id) if m.direction == MessageDirection.STAFF
        ]
        assert len(answers) == 1
        assert sum("Один раз" in text for text in world.viber.texts(VIBER_RESIDENT)) == 1


async def test_an_answer_with_a_picture_reaches_a_viber_resident(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        ticket_id = await viber_ticket(world)
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)
        await browser.get(page)
        form = aiohttp.FormData()
        form.add_field("csrf", browser.csrf)
        form.add_field("text", "Ось схема")
        form.add_field("file", PNG, filename="схема.png", content_type="text/html")
        async with browser.http.post(world.base + page + "/answer", data=form) as response:
            body = await response.text()
            assert response.status == 200 and "Відповідь надіслано заявникові" in body
        picture = [m for m in world.viber.messages(VIBER_RESIDENT) if m["type"] == "picture"][-1]
        async with aiohttp.ClientSession() as http, http.get(picture["media"]) as response:
            assert response.status == 200 and await response.read() == PNG
            # The type is sniffed from the bytes, not taken from the browser.
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        # The page shows the staff answer's picture too.
        (answer,) = [
            m for m in await messages_of(world, ticket_id) if m.direction == MessageDirection.STAFF
        ]
        assert f'src="/desk/files/{answer.id}"' in body
        async with world.runtime.sessionmaker() as session:
            resident = await session.scalar(select(Resident))
        assert resident is not None and resident.channel == "viber"


async def test_an_answer_from_a_template(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR)
        async with world.runtime.sessionmaker() as session, session.begin():
            await staff_desk.save_template(
                session, name="lift", text="Заявку передано до ліфтової служби.", now=world.clock()
            )
        ticket_id = await viber_ticket(world)
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)
        _, body = await browser.get(page)
        # The picker offers it (the script puts its text into the box).
        assert 'value="lift" data-text="Заявку передано до ліфтової служби."' in body
        # Without the script: an empty box and a chosen template answer with the template.
        status, body = await browser.post(page + "/answer", {"text": "", "template": "lift"})
        assert status == 200 and "Відповідь надіслано заявникові" in body
        assert "Заявку передано до ліфтової служби." in world.viber.texts(VIBER_RESIDENT)[-1]
        # A template that is gone meanwhile: refused, nothing sent.
        sent = len(world.viber.messages(VIBER_RESIDENT))
        status, body = await browser.post(page + "/answer", {"text": "", "template": "gone"})
        assert status == 404 and "Не знайдено" in body
        assert len(world.viber.messages(VIBER_RESIDENT)) == sent


async def test_giving_a_ticket_to_a_colleague(database_url: str) -> None:
    async with desk_world(database_url) as world:
        maria = await world.account("maria", Role.OPERATOR, name="Марія Коваль")
        petro = await world.account("petro", Role.OPERATOR, name="Петро Шевченко")
        head = await world.account("olena", Role.HEAD, name="Олена Голова")
        taras = await world.account("taras", Role.OPERATOR, departments=("transport",))
        ticket_id = await viber_ticket(world)
        page = f"/desk/tickets/{ticket_id}"
        browser = await world.signed_in(maria)
        _, body = await browser.get(page)
        # Colleagues of the department who may act are offered; a head and another
        # department's operator are not.
        assert f'<option value="{petro.id}">Петро Шевченко</option>' in body
        assert f'value="{head.id}"' not in body and f'value="{taras.id}"' not in body
        for bad in (str(head.id), str(taras.id), "999999", "x"):
            status, body = await browser.post(page + "/assign", {"staff": bad})
            assert status == 422 and "не може взяти звернення" in body, bad
        await browser.get(page)
        sent = len(world.viber.messages(VIBER_RESIDENT))
        async with browser.http.post(
            world.base + page + "/assign",
            data={"csrf": browser.csrf, "staff": str(petro.id)},
            allow_redirects=False,
        ) as response:
            assert response.status == 303
        status, body = await browser.get(f"{page}?done=assign")
        assert "Звернення передано колезі" in body
        ticket = await ticket_of(world, ticket_id)
        assert ticket.assignee_id == petro.id and ticket.status == "in_progress"
        (entry,) = await world.audit("ticket.assign")
        assert entry.actor == f"staff:{maria.id}" and entry.details is not None
        assert entry.details["assignee"] == petro.id and entry.details["desk"] == "web"
        # The resident is told the ticket is being worked on.
        assert len(world.viber.messages(VIBER_RESIDENT)) == sent + 1
