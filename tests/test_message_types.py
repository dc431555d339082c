"""Every kind of message a resident can send gets an answer and lands where it belongs.

Each message type the stand-ins of Telegram and Viber can send goes to the bot, in both
messengers and on both databases: outside a flow, at the attachments step of a feedback ticket,
and as a follow-up to that ticket. Each gets an answer (never the "I do not accept this"
refusal, except for what no ticket can use: a die); each file and location is stored as the
ticket's attachment, and reaches staff in a form they can play or open: Telegram files by
file_id with the matching method (sendVoice, sendVideoNote...), Viber files as the copy the bot
kept, still posted after Viber's media URL expired. A file over the limit and a Viber download
that fails get a clear answer and are recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.sandbox.fakes.telegram import SimUpdate
from bot.viber.media import MediaKeeper
from messaging.contract import TOO_BIG, Attachment, EventKind, Identity, Incoming
from storage import kept_files
from storage.models import AuditEntry, KeptFile, Ticket, TicketMessage
from tests.harness import TelegramResident, ViberResident, onboard
from tests.staff_world import TG_RESIDENT, VIBER_RESIDENT, World, staff_world

pytestmark = pytest.mark.migrated_database

REFUSED = "не приймаю"  # uk "unsupported.media": the one answer a usable message must not get
APOLOGY = "Вибачте"
STICKER = "Дякуємо за стікер"
ADDED = "Вкладення додано"
FOLLOWED_UP = "Додано до звернення"
VOICE = b"OggS\x00\x02voice-of-a-resident"


@dataclass(frozen=True)
class Kind:
    """One message type: how the resident sends it, and the attachment kind it is stored as
    (None: nothing to attach)."""

    name: str
    send: Callable[[], Awaitable[Any]]
    stored: str | None
    # The answer outside a flow may say "not accepted" (a die, which no ticket can use).
    refusable: bool = False


def _ok_telegram(update: SimUpdate) -> SimUpdate:
    assert update.status == 200, update.status
    return update


def _ok_viber(status: int) -> int:
    assert status == 200, status
    return status


def telegram_kinds(world: World) -> list[Kind]:
    fake, user = world.telegram, TG_RESIDENT

    def send(call: Callable[[], Awaitable[SimUpdate]]) -> Callable[[], Awaitable[SimUpdate]]:
        async def run() -> SimUpdate:
            return _ok_telegram(await call())

        return run

    return [
        Kind(
            "text", send(lambda: fake.send_text(user, "На Металургів, 5 не світять ліхтарі")), None
        ),
        Kind("photo", send(lambda: fake.send_photo(user, caption="яма")), "photo"),
        Kind(
            "document",
            send(lambda: fake.send_document(user, file_name="акт.docx", content=b"PK\x03\x04")),
            "document",
        ),
        Kind(
            "archive",
            send(
                lambda: fake.send_document(
                    user, file_name="фото.zip", content=b"PK\x05\x06", mime_type="application/zip"
                )
            ),
            "document",
        ),
        Kind("video", send(lambda: fake.send_video(user, caption="тече дах")), "video"),
        Kind("voice", send(lambda: fake.send_voice(user, 12, content=VOICE)), "voice"),
        Kind("audio", send(lambda: fake.send_audio(user, caption="запис зборів")), "audio"),
        Kind("video_note", send(lambda: fake.send_video_note(user)), "video_note"),
        Kind("animation", send(lambda: fake.send_animation(user)), "animation"),
        Kind("location", send(lambda: fake.send_location(user, 47.91, 33.39)), "location"),
        Kind("sticker", send(lambda: fake.send_sticker(user)), None),
        Kind("contact", send(lambda: fake.send_contact(user)), None),
        Kind("dice", send(lambda: fake.send_dice(user)), None, refusable=True),
    ]


def viber_kinds(world: World) -> list[Kind]:
    fake = world.viber
    assert fake is not None
    user = VIBER_RESIDENT

    def send(call: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        async def run() -> int:
            return _ok_viber(await call())

        return run

    return [
        Kind(
            "text", send(lambda: fake.send_text(user, "На Металургів, 5 не світять ліхтарі")), None
        ),
        Kind("picture", send(lambda: fake.send_picture(user, text="яма")), "photo"),
        Kind("video", send(lambda: fake.send_video(user, text="тече дах")), "video"),
        Kind(
            "file",
            send(lambda: fake.send_file(user, file_name="акт.docx", content=b"PK\x03\x04")),
            "document",
        ),
        # Viber has no voice message for bots: a recording arrives as a file.
        Kind(
            "recording",
            send(lambda: fake.send_file(user, file_name="запис.m4a", content=VOICE)),
            "audio",
        ),
        Kind("location", send(lambda: fake.send_location(user, 47.91, 33.39)), "location"),
        Kind("sticker", send(lambda: fake.send_sticker(user)), None),
        Kind("contact", send(lambda: fake.send_contact(user, "Оксана", "+380671234567")), None),
        Kind("url", send(lambda: fake.send_url(user, "https://kr.gov.ua/news/1")), None),
    ]


def _resident(world: World, channel: str) -> TelegramResident | ViberResident:
    if channel == "viber":
        assert world.viber is not None
        return ViberResident(world.viber, VIBER_RESIDENT)
    return TelegramResident(world.telegram, TG_RESIDENT, polling=False)


def _kinds(world: World, channel: str) -> list[Kind]:
    return viber_kinds(world) if channel == "viber" else telegram_kinds(world)


async def _answered(r: TelegramResident | ViberResident, kind: Kind) -> str:
    """Send ``kind``; return the answer (all new messages' texts), which must exist."""
    before = len(r.texts())
    await kind.send()
    new = r.texts()[before:]
    assert new, f"{kind.name}: no answer"
    answer = "\n".join(new)
    assert APOLOGY not in answer, f"{kind.name}: {answer}"
    return answer


async def _count(world: World, model: Any) -> int:
    async with world.runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _thread(world: World) -> list[TicketMessage]:
    async with world.runtime.sessionmaker() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    return await world.thread(ticket.id)


async def _staff_posted(world: World, count: int) -> list[dict[str, Any]]:
    """The staff chat once ``count`` resident messages of the ticket were posted there."""
    for _ in range(300):
        thread = await _thread(world)
        if sum(m.staff_message_id is not None for m in thread) >= count:
            return world.chat()
        await asyncio.sleep(0.05)
    raise AssertionError(f"staff got {world.texts()}")


async def _file_ticket(r: TelegramResident | ViberResident) -> str:
    await r.press("Далі ➡️")
    await r.press("Ні")
    await r.press("✅ Надіслати")
    number = re.search(r"ВД-\d{4}-\d{6}", r.last_text())
    assert number, r.last_text()
    return number.group(0)


@pytest.mark.parametrize("channel", ["telegram", "viber"])
async def test_every_message_type_is_answered_and_stored(channel: str, database_url: str) -> None:
    async with staff_world(database_url, viber=True) as world:
        r = _resident(world, channel)
        await onboard(r)
        kinds = _kinds(world, channel)

        # Outside a flow: an answer to each, and never "not accepted" for something usable.
        for kind in kinds:
            answer = await _answered(r, kind)
            if kind.name == "sticker":
                assert STICKER in answer, answer
            elif not kind.refusable:
                assert REFUSED not in answer, f"{kind.name}: {answer}"
        files = [k for k in kinds if k.stored not in (None, "location")]
        if channel == "viber":
            # Each Viber file was kept when it arrived (its URL will expire).
            assert await _count(world, KeptFile) == len(files)

        # At the attachments step of a feedback ticket: each file and the location attached.
        await r.command("feedback")
        await r.press("🏠 Житло та комунальні послуги")
        await r.say("Тече дах над квартирою 12, прошу допомогти.")
        attached = 0
        for kind in kinds:
            answer = await _answered(r, kind)
            if kind.stored is not None:
                attached += 1
                assert f"{ADDED} (усього {attached})" in answer, f"{kind.name}: {answer}"
            elif kind.name == "sticker":
                assert STICKER in answer and "Далі" in " ".join(r.labels()), answer
            else:
                assert ADDED not in answer, f"{kind.name}: {answer}"
        if world.viber is not None and channel == "viber":
            # An hour later: Viber's links no longer open; staff must get the kept copies.
            world.viber.expire_media()
        number = await _file_ticket(r)
        thread = await _thread(world)
        assert [m.attachment_kind for m in thread] == [k.stored for k in kinds if k.stored]
        posted = await _staff_posted(world, len(thread))
        _check_staff_copies(world, channel, posted, thread)

        # As follow-ups: each attachable kind is added to the thread; the rest is answered.
        for kind in kinds:
            await r.press("📂 Мої звернення")
            await r.press(f"{number} · Зареєстровано")
            await r.press("✍️ Дописати")
            before = len(await _thread(world))
            answer = await _answered(r, kind)
            after = await _thread(world)
            if kind.stored is not None or kind.name in ("text", "url"):
                assert FOLLOWED_UP in answer, f"{kind.name}: {answer}"
                assert len(after) == before + 1
                assert after[-1].attachment_kind == kind.stored
            else:
                assert len(after) == before, kind.name
                if kind.name == "sticker":
                    assert STICKER in answer, answer
                await r.press("✖️ Скасувати")
        await _staff_posted(world, len(await _thread(world)))

        # /forget erases the kept copies with the rest.
        await r.command("forget")
        await r.press("🗑 Так, видалити")
        assert await _count(world, KeptFile) == 0


def _check_staff_copies(
    world: World, channel: str, posted: list[dict[str, Any]], thread: list[TicketMessage]
) -> None:
    """Every file reached staff as what it is, with bytes they can play or open."""
    shown = {key for message in posted for key in message if key in _MEDIA_KEYS}
    if channel == "telegram":
        # Sent again by file_id, with the method that shows a player.
        for method, key in (
            ("sendVoice", "voice"),
            ("sendAudio", "audio"),
            ("sendVideoNote", "video_note"),
            ("sendAnimation", "animation"),
            ("sendVideo", "video"),
            ("sendPhoto", "photo"),
            ("sendDocument", "document"),
        ):
            refs = {m.attachment_ref for m in thread if m.attachment_kind == key}
            sent = {call[key] for call in world.telegram.calls_to(method)}
            assert refs <= sent, (method, refs, sent)
        voice = next(m for m in posted if "voice" in m)
        assert world.telegram.file_content(voice["voice"]["file_id"]) == VOICE
        return
    # Viber: uploaded from the kept copy after the URL had expired.
    assert all(
        kept_files.id_of(m.attachment_ref) for m in thread if m.attachment_kind != "location"
    )
    assert {"photo", "video", "document", "audio"} <= shown, shown
    audio = next(m for m in posted if "audio" in m)
    assert world.telegram.file_content(audio["audio"]["file_id"]) == VOICE


_MEDIA_KEYS = frozenset(
    {"photo", "video", "document", "voice", "audio", "video_note", "animation", "location"}
)


async def test_a_huge_viber_file_is_refused_clearly_and_recorded(database_url: str) -> None:
    async with staff_world(database_url, viber=True) as world:
        assert world.viber is not None
        r = _resident(world, "viber")
        await onboard(r)
        await r.command("feedback")
        await r.press("🏠 Житло та комунальні послуги")
        await r.say("Тече дах над квартирою 12, прошу допомогти.")
        huge = 80 * 1024 * 1024  # Viber lets people send up to 200 MB; we keep up to 50
        status = await world.viber.send_file(
            VIBER_RESIDENT, file_name="відео з дрона.mov", size=huge, content=b"\x00" * 16
        )
        assert status == 200
        answer = r.last_text()
        assert "завеликий" in answer and "80,0" in answer and "50" in answer, answer
        assert "«відео з дрона.mov»" in answer
        # Still at the attachments step, nothing attached, nothing downloaded, one record.
        assert "Далі ➡️" in r.labels()
        assert await _count(world, KeptFile) == 0
        assert not any(m.downloads for m in world.viber.media.values())
        recorded = await world.audit("resident.file_failed")
        assert [(e.details["kind"], e.details["problem"]) for e in recorded] == [
            ("document", "too_big")
        ]


async def test_a_huge_telegram_file_is_taken_by_file_id(database_url: str) -> None:
    """Telegram's limit (2 GB) is Telegram's: nothing is downloaded, staff get it by file_id."""
    async with staff_world(database_url) as world:
        r = _resident(world, "telegram")
        await onboard(r)
        await r.command("feedback")
        await r.press("🏠 Житло та комунальні послуги")
        await r.say("Тече дах над квартирою 12, прошу допомогти.")
        update = await world.telegram.send_voice(TG_RESIDENT, 3600, size=1_900_000_000)
        assert update.status == 200
        assert f"{ADDED} (усього 1)" in r.last_text()
        await _file_ticket(r)
        thread = await _thread(world)
        posted = await _staff_posted(world, 1)
        assert any(m.get("voice", {}).get("file_id") == thread[0].attachment_ref for m in posted)


@pytest.mark.parametrize("where", ["expired", "gone"])
async def test_a_failed_viber_download_is_answered_and_recorded(
    where: str, database_url: str
) -> None:
    async with staff_world(database_url, viber=True) as world:
        fake = world.viber
        assert fake is not None
        r = _resident(world, "viber")
        await onboard(r)
        await r.command("feedback")
        await r.press("🏠 Житло та комунальні послуги")
        await r.say("Тече дах над квартирою 12, прошу допомогти.")
        if where == "expired":
            # The callback came after the link's time (Viber retried it late).
            url = fake.host_media(b"%PDF-1.4", file_name="акт.pdf", ttl=0)
        else:
            url = fake.host_media(b"%PDF-1.4", file_name="акт.pdf")
            fake.media.clear()  # the CDN lost it: 404
        assert await fake.send_file(VIBER_RESIDENT, url, file_name="акт.pdf", size=8) == 200
        answer = r.last_text()
        assert "Не вдалося отримати ваш файл «акт.pdf»" in answer, answer
        assert "Далі ➡️" in r.labels()
        assert await _count(world, KeptFile) == 0
        recorded = await world.audit("resident.file_failed")
        assert [(e.details["kind"], e.details["problem"]) for e in recorded] == [
            ("document", "download_failed")
        ]
        # Sent again, it is attached.
        await r.document(file_name="акт.pdf")
        assert f"{ADDED} (усього 1)" in r.last_text()
        assert await _count(world, AuditEntry) > 0


async def test_an_expired_viber_link_is_refused_by_telegram_and_staff_are_told(
    database_url: str,
) -> None:
    """Why the copies are kept: Telegram downloads a file given by URL itself, and refuses one
    whose link expired. (Tickets from before the copies were kept still hold such URLs: staff
    get a line saying the file could not be shown, not nothing.)"""
    async with staff_world(database_url, viber=True) as world:
        assert world.viber is not None
        url = world.viber.host_media(b"%PDF-1.4", file_name="act.pdf")
        world.viber.expire_media()
        ticket_id = await world.file(
            channel="viber", external_id=VIBER_RESIDENT, attachments=(("document", url, "act.pdf"),)
        )
        refused = [e for e in world.telegram.errors if e.method == "sendDocument"]
        assert [e.description for e in refused] == ["Bad Request: failed to get HTTP URL content"]
        assert any("не зміг його показати" in text for text in world.texts()), world.texts()
        assert all(m.staff_message_id is not None for m in await world.thread(ticket_id))


async def test_a_redelivered_viber_file_is_kept_once(database_url: str) -> None:
    async with staff_world(database_url, viber=True) as world:
        fake = world.viber
        assert fake is not None
        r = _resident(world, "viber")
        await onboard(r)
        await r.document(file_name="акт.pdf")
        # Viber sends the same callback again (our answer was lost on the way).
        assert await fake.replay() == 200
        assert await _count(world, KeptFile) == 1
        assert [m.downloads for m in fake.media.values()] == [1]


async def test_a_viber_file_larger_than_it_said_is_cut_off(database_url: str) -> None:
    """The declared size is checked first; the download stops at the limit whatever it said."""
    async with staff_world(database_url, viber=True) as world:
        fake = world.viber
        assert fake is not None
        url = fake.host_media(b"x" * 5000, file_name="big.bin")
        event = Incoming(
            identity=Identity(channel="viber", external_id=VIBER_RESIDENT),
            kind=EventKind.DOCUMENT,
            update_key="message:1",
            attachment=Attachment(kind="document", ref=url, file_name="big.bin", size=10),
        )
        async with aiohttp.ClientSession() as http:
            keeper = MediaKeeper(http=http, sessionmaker=world.runtime.sessionmaker, max_bytes=1000)
            result = await keeper.keep(event)
            assert result.kind is EventKind.FILE_FAILED
            assert result.attachment is not None and result.attachment.problem == TOO_BIG
            assert result.attachment.ref == ""
            small = dataclasses.replace(event, update_key="message:2")
            assert (
                await MediaKeeper(http=http, sessionmaker=world.runtime.sessionmaker).keep(small)
            ).kind is EventKind.DOCUMENT
        assert await _count(world, KeptFile) == 1


async def test_a_viber_message_type_the_bot_does_not_know_is_answered(database_url: str) -> None:
    """A type Viber adds after viberbot 1.0.12 (which cannot parse it) still gets an answer
    from the bot, instead of being refused without a word to the resident."""
    async with staff_world(database_url, viber=True) as world:
        fake = world.viber
        assert fake is not None
        r = _resident(world, "viber")
        await onboard(r)
        before = len(r.texts())
        message = {"type": "hologram", "media": "https://dl-media.viber.com/h.bin"}
        assert await fake.send_message_object(VIBER_RESIDENT, message) == 200
        assert len(r.texts()) == before + 1
        assert REFUSED in r.last_text()
        assert not await world.audit("viber.callback_refused")
