"""Residents and public consultations end to end, in Telegram and in Viber (fakes over HTTP), on
SQLite and PostgreSQL: the announcement delivered by the delivery engine, the card and its
document, answering (a choice, a free text), bad input at every typed step (empty, huge, HTML,
emoji), name and consent, one submission edited rather than doubled, forged and stale
actions, an organisation's representative linking by code and answering for it, submitting
after the close, the outcome with the report's link (served as a PDF), /mydata and /forget."""

from __future__ import annotations

import asyncio
import contextlib
import html
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import aiohttp
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Runtime
from handlers.staff import consultations as ops
from handlers.staff.core import Actor, Desk
from storage.consultations import QuestionDraft
from storage.models import AuditEntry, ConsultationAnswer, ConsultationSubmission
from storage.vocabulary import Role, system_clock
from tests.harness import WORLDS, TelegramResident, ViberResident, onboard, running_bot
from tests.staff_accounts import add_staff
from tests.test_forged_actions import REFUSED, forge
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database

CHANNELS = ["viber", "telegram-webhook"]
EDITOR = 9401
WEB = Actor(EDITOR, desk=Desk.WEB)
WAIT = 10.0
SEND = "✅ Погоджуюся й надсилаю"


async def until(check: Callable[[], bool]) -> None:
    deadline = asyncio.get_running_loop().time() + WAIT
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "not delivered in time"
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def editor_and_resident(
    world_name: str, database_url: str
) -> AsyncIterator[tuple[TelegramResident | ViberResident, Runtime]]:
    """The bot running in ``world_name``'s messenger with an editor registered, and its
    resident past onboarding: where every test of the consultations' resident side starts."""
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        assert isinstance(r, TelegramResident | ViberResident)
        async with running_bot(world.settings) as runtime:
            async with runtime.sessionmaker() as session, session.begin():
                await add_staff(session, EDITOR, Role.EDITOR, now=system_clock())
            await onboard(r)
            yield r, runtime


async def _rows(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> list[object]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(model))).all())


async def _submissions(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> list[ConsultationSubmission]:
    async with sessionmaker() as session:
        query = select(ConsultationSubmission).order_by(ConsultationSubmission.id)
        return list((await session.scalars(query)).all())


def _draft() -> ops.Draft:
    now = system_clock()
    return ops.Draft(
        title="Правила благоустрою",
        summary="Проєкт змінює правила прибирання дворів.",
        topic="decisions",
        opens_at=now - timedelta(minutes=1),
        closes_at=now + timedelta(days=7),
        questions=(
            QuestionDraft("Чи підтримуєте ви проєкт?", ("Так", "Ні")),
            QuestionDraft("Що варто змінити?"),
        ),
        document_url="https://kr.gov.ua/draft.pdf",
    )


async def _answer(r: TelegramResident | ViberResident, *, choice: str, text: str) -> None:
    await r.press(choice)
    assert "Питання 2 з 2" in r.last_text()
    await r.say(text)
    assert "коментар" in r.last_text()


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_take_part_edit_close_and_forget(world_name: str, database_url: str) -> None:
    async with editor_and_resident(world_name, database_url) as (r, runtime):
        sessionmaker, core = runtime.sessionmaker, runtime.consultations
        consultation = done(await ops.create(core, WEB, _draft()))
        assert done(await ops.publish(core, WEB, consultation.id)).recipients == 1
        await until(lambda: "Громадське обговорення" in r.last_text())
        assert "Правила благоустрою" in r.last_text()
        await r.press("📝 Взяти участь")
        card = r.last_text()
        assert "Проєкт змінює правила" in card and "https://kr.gov.ua/draft.pdf" in card
        await r.press("📝 Взяти участь")
        assert "Питання 1 з 2" in r.last_text() and "Чи підтримуєте" in r.last_text()
        await r.press("Так")
        # The free-text answer: too long is refused and the question asked again (neither
        # messenger's client sends an empty message).
        await r.say("д" * 2001)
        assert "щонайбільше 2000" in r.texts()[-2] and "Питання 2" in r.last_text()
        await r.say("<b>Більше</b> смітників 🗑")
        assert "коментар" in r.last_text()
        await r.say("к" * 4001)
        assert "щонайбільше 4000" in r.texts()[-2]
        comment = "<script>alert(1)</script> Посадіть дерева 🌳"
        await r.say(comment)
        assert "Як вас звати" in r.last_text()
        await r.say("Оксана Петренко")
        assert "Закон «Про захист персональних даних»" in r.last_text()
        await r.press(SEND)
        assert "Дякуємо" in r.last_text() and "отримано" in r.last_text()
        (submission,) = await _submissions(sessionmaker)
        assert submission.comment == comment and submission.name == "Оксана Петренко"
        assert submission.consent_at is not None and submission.organisation_id is None
        answers = await _rows(sessionmaker, ConsultationAnswer)
        assert {(a.choice, a.text) for a in answers if isinstance(a, ConsultationAnswer)} == {
            (0, None),
            (None, "<b>Більше</b> смітників 🗑"),
        }

        # A second send (the old button, a redelivered press) changes nothing.
        await forge(r, f"cssend:{consultation.id}")
        assert "застаріло" in r.last_text()
        assert len(await _submissions(sessionmaker)) == 1

        # Editing goes through it again; still one submission.
        await r.command("consultations")
        assert "Громадські обговорення" in r.last_text()
        await r.press("📄 Правила благоустрою")
        assert "Ви вже взяли участь" in r.last_text()
        await r.press("✏️ Змінити мою відповідь")
        await _answer(r, choice="Ні", text="Нічого")
        await r.press("⏭ Пропустити")
        await r.press("✅ Оксана Петренко")  # the name given before, offered again
        await r.press(SEND)
        assert "оновлено" in r.last_text()
        (edited,) = await _submissions(sessionmaker)
        assert edited.id == submission.id and edited.comment is None

        # Forged and unknown consultations are refused and audited; nothing changes.
        for action in ("csopen:999999", "cschoice:abc", f"cspart:{consultation.id}:77"):
            await forge(r, action)
            assert REFUSED in r.last_text(), action
        async with sessionmaker() as session:
            forged = (
                await session.scalars(
                    select(AuditEntry.subject).where(AuditEntry.action == "resident.forged_action")
                )
            ).all()
        assert sorted(map(str, forged)) == sorted(
            ["consultation:999999", "None", f"consultation:{consultation.id}"]
        )

        # Half-way through another edit when it closes: the send is refused, nothing changes.
        await r.command("consultations")
        await r.press("📄 Правила благоустрою")
        await r.press("✏️ Змінити мою відповідь")
        await _answer(r, choice="Так", text="Пізно")
        await r.press("⏭ Пропустити")
        await r.say("Оксана Петренко")

        # The close: the outcome with the report's link, served as a PDF.
        closed = done(await ops.close(core, WEB, consultation.id, "Правила ухвалено."))
        before = len(r.texts())
        await r.press(SEND)
        # The outcome (through the delivery engine) may come in before or after the refusal.
        assert any("закрите" in text for text in r.texts()[before:])
        (late,) = await _submissions(sessionmaker)
        assert late.updated_at == edited.updated_at
        await until(lambda: any("завершено" in text for text in r.texts()))
        (outcome,) = [text for text in r.texts() if "завершено" in text]
        assert "Правила ухвалено." in outcome and closed.link is not None
        assert closed.link in outcome
        path = closed.link.split("://", 1)[1].split("/", 1)[1]
        async with aiohttp.ClientSession() as http:
            base = runtime.settings.public_url
            async with http.get(f"{base}/{path}") as response:
                assert response.status == 200
                assert response.content_type == "application/pdf"
                assert (await response.read()).startswith(b"%PDF")
            async with http.get(f"{base}/consultations/report/guess-{'x' * 20}.pdf") as bad:
                assert bad.status == 404
        # Too late to take part.
        await forge(r, f"cspart:{consultation.id}")
        assert "закрите" in r.last_text()

        await r.command("mydata")
        assert '"consultation_submissions"' in r.texts()[-1] or any(
            "consultation_submissions" in text for text in r.texts()[-3:]
        )
        await r.command("forget")
        await r.press("🗑 Так, видалити")
        (erased,) = await _submissions(sessionmaker)
        assert erased.name is None and erased.erased_at is not None


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_representative_links_by_code_and_answers_for_the_organisation(
    world_name: str, database_url: str
) -> None:
    async with editor_and_resident(world_name, database_url) as (r, runtime):
        sessionmaker, core = runtime.sessionmaker, runtime.consultations
        green = done(
            await ops.register(core, WEB, ops.OrganisationDraft("ГО «Зелене місто» & друзі", "ngo"))
        )
        code = done(await ops.issue_code(core, WEB, green.id)).code
        await r.say("ORG-2222222222")
        assert "не підійшов" in r.last_text()
        await r.say(code.lower())
        assert "представник організації «ГО «Зелене місто»" in r.last_text()
        await r.say(code)  # used up
        assert "не підійшов" in r.last_text()

        consultation = done(await ops.create(core, WEB, _draft()))
        done(await ops.publish(core, WEB, consultation.id))
        await until(lambda: "Громадське обговорення" in r.last_text())
        invited = done(await ops.invite(core, WEB, ops.Invite((green.id,), consultation.id)))
        assert invited.reached == 1
        await until(lambda: "запрошуємо вашу організацію" in r.last_text())
        await r.press("✅ Візьмемо участь")
        assert "Чекаємо" in r.last_text()
        await forge(r, f"csinvite:{invited.invitation_ids[0]}:no")
        assert "вже відповіли" in r.last_text()
        await forge(r, "csinvite:999999:yes")
        assert REFUSED in r.last_text()

        # Viber keeps only the last keyboard: help's button leads back to the consultation.
        await r.command("help")
        await r.press("🗳 Громадські обговорення")
        await r.press("📄 Правила благоустрою")
        # A person's text on a button is plain: "&", not "&amp;" (Viber's button text is
        # HTML-like, so its adapter escapes it once).
        label = "🏛 Від імені: ГО «Зелене місто» & друзі"
        await r.press(html.escape(label, quote=False) if r.channel == "viber" else label)
        await _answer(r, choice="Так", text="Більше зелені")
        # A file as the comment (the organisation's position paper).
        await r.document(file_name="position.pdf")
        assert "Файл додано" in r.last_text()
        await r.press("⏭ Пропустити")
        await r.say("Марія Коваль")
        await r.press(SEND)
        (submission,) = await _submissions(sessionmaker)
        assert submission.organisation_id == green.id and submission.on_behalf == green.id
        assert submission.file_kind == "document" and submission.file_ref
        assert submission.comment is None
        listed = done(await ops.responses(core, WEB, consultation_id=consultation.id))
        assert [(x.invitation.response, x.submitted) for x in listed] == [("yes", True)]
