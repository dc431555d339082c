"""A consultation's document uploaded in the web desk (a kept file, ``kept:<id>``) reaches a
resident who opens the consultation, in both messengers (fakes over HTTP), on SQLite and
PostgreSQL: Telegram gets the file's bytes; Viber gets a file message whose link is our signed
media link, which serves those bytes."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from bot.desk.uploads import Upload, keep
from handlers.staff import consultations as ops
from storage.vocabulary import system_clock
from tests.harness import TelegramResident
from tests.test_consultations_resident import (
    CHANNELS,
    EDITOR,
    WEB,
    _draft,
    editor_and_resident,
    until,
)
from tests.test_staff_core_tickets import done

pytestmark = pytest.mark.migrated_database

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_the_uploaded_document_opens_in_each_messenger(
    world_name: str, database_url: str
) -> None:
    async with editor_and_resident(world_name, database_url) as (r, runtime):
        sessionmaker, core = runtime.sessionmaker, runtime.consultations
        upload = Upload(kind="document", name="proiekt.pdf", mime="application/pdf", data=PDF)
        kept = await keep(sessionmaker, upload, staff_id=EDITOR, now=system_clock())
        draft = replace(_draft(), document_url=None, document_ref=kept.ref, document_name=kept.name)
        consultation = done(await ops.create(core, WEB, draft))
        done(await ops.publish(core, WEB, consultation.id))
        await until(lambda: "Громадське обговорення" in r.last_text())
        await r.press("📝 Взяти участь")
        assert "Проєкт змінює правила" in "\n".join(r.texts()[-2:])
        if isinstance(r, TelegramResident):
            chat = r.fake.messages(r.user_id)
            [sent] = [m for m in chat if "document" in m]
            assert sent["document"]["file_name"] == "proiekt.pdf"
            assert r.fake.file_content(sent["document"]["file_id"]) == PDF
        else:
            files = [m for m in r.fake.messages(r.external_id) if m.get("type") == "file"]
            [sent] = files
            assert sent["file_name"] == "proiekt.pdf"
            link = str(sent["media"])
            assert link.startswith(str(runtime.settings.public_url) + "/media/")
            async with aiohttp.ClientSession() as http, http.get(link) as response:
                assert response.status == 200 and await response.read() == PDF
