"""Pure parts of the staff side: signed media links, button data, command parsing, the card's
limits and escaping. No database, no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.telegram.staff import callbacks as cb
from bot.telegram.staff.card import CardData, CardRenderer, shorten
from bot.telegram.staff.command_line import COMMANDS, parse_command
from handlers.staff.media import LINK_TTL, MediaLinks, derive_key
from messaging.i18n import Catalog
from messaging.text import format_when, markup_to_plain, utf16_len
from storage.models import Department, Resident, Ticket
from storage.ticket_rules import REFUSAL_GROUNDS
from storage.vocabulary import Queue

ZONE = ZoneInfo("Europe/Kyiv")
NOW = datetime(2026, 11, 27, 21, 59, tzinfo=UTC)  # 23:59 in Kyiv
FILE_ID = "AgACAgIAAxkBAAIBZ2aB3f-_Xk0123456789abcdefghijklmnopqrstuvwxyzABCDEF"


def test_media_links_round_trip_and_reject_forgeries() -> None:
    links = MediaLinks(key=derive_key("123:token"), public_url="https://bot.example.gov.ua/")
    url = links.url(FILE_ID)
    assert url.startswith("https://bot.example.gov.ua/media/")
    token = url.rsplit("/", 1)[1]
    assert links.file_id(token) == FILE_ID
    other = MediaLinks(key=derive_key("456:other"), public_url="https://x")
    assert other.file_id(token) is None
    encoded, expiry, mac = token.split(".")
    forged_id = MediaLinks(key=b"guess", public_url="https://x").token("BQAC-other-file")
    for bad in (
        "",
        encoded,
        f"{encoded}.",
        f"{encoded}.{mac}",  # a v1 link (no expiry) is not accepted
        f"{encoded}.{expiry}.",
        f".{expiry}.{mac}",
        f"{encoded}.{expiry}.{mac[:-2]}",
        f"{encoded}.{int(expiry) + 86400}.{mac}",  # expiry moved: the signature covers it
        f"{encoded}.0{expiry}.{mac}",
        f"{encoded}.-{expiry}.{mac}",
        f"{encoded}.{expiry}.{mac}.x",
        f"{forged_id.split('.')[0]}.{expiry}.{mac}",
        "%%%.1.***",
        f"{encoded}.{'9' * 40}.{mac}",
        "x" * 5000,
    ):
        assert links.file_id(bad) is None, bad
        assert links.verify(bad) is None, bad


def test_media_links_expire_after_a_day() -> None:
    now = [NOW]
    links = MediaLinks(key=derive_key("123:token"), public_url="https://x", clock=lambda: now[0])
    token = links.token(FILE_ID)
    link = links.verify(token)
    assert link is not None and not link.expired and link.file_id == FILE_ID
    assert link.expires_at == NOW + LINK_TTL
    now[0] = NOW + LINK_TTL - timedelta(seconds=1)
    assert links.file_id(token) == FILE_ID
    now[0] = NOW + LINK_TTL
    expired = links.verify(token)
    assert expired is not None and expired.expired and links.file_id(token) is None


def test_every_button_fits_telegram_callback_data() -> None:
    longest_queue = max(len(q.value) for q in Queue)
    assert longest_queue <= 32
    data = cb.pack(cb.Verb.HAND_TO, 10**15, "q" * 32)
    assert len(data.encode()) <= 64
    for grounds in REFUSAL_GROUNDS.values():
        for ground in grounds:
            packed = cb.pack(cb.Verb.GROUND, 10**15, ground)
            assert cb.unpack(packed) == cb.CardCallback(verb=cb.Verb.GROUND, id=10**15, arg=ground)
    with pytest.raises(ValueError):
        cb.pack(cb.Verb.HAND_TO, 1, "q" * 60)
    for junk in ("", "tk", "tk:take", "tk:take:x", "tk:nope:1", "rate:1:5", "tk:take:-1"):
        assert cb.unpack(junk) is None, junk


def test_commands_are_parsed_strictly() -> None:
    assert parse_command("/ban", "citybot") is not None
    found = parse_command("/template_add lift Текст\nз рядками", "citybot")
    assert found is not None and found.name == "template_add"
    assert found.args == "lift Текст\nз рядками"
    assert parse_command("/T@CityBot lift", "citybot") == parse_command("/t lift", "citybot")
    assert parse_command("/t@otherbot lift", "citybot") is None
    assert parse_command("/шлях/до/файлу", "citybot") is None
    assert parse_command("/path/to/file", "citybot") is None
    assert parse_command("просто текст", "citybot") is None
    assert {"ticket", "find", "ban", "unban", "t", "note"} <= COMMANDS


def test_shorten_counts_like_telegram() -> None:
    assert shorten("abc", 10) == ("abc", False)
    cut, was_cut = shorten("🙂" * 100, 21)
    assert was_cut and utf16_len(cut) <= 21 and cut.endswith("…")


def test_deadlines_are_shown_in_the_councils_zone() -> None:
    assert format_when(NOW, ZONE) == "27.11.2026"
    assert format_when(NOW, ZONE, exact=True) == "27.11.2026 23:59"
    assert format_when(None, ZONE) == "—"


def _ticket(**fields: object) -> Ticket:
    values: dict[str, object] = {
        "id": 42,
        "number": "ЗВ-2026-000042",
        "kind": "appeal",
        "status": "new",
        "channel": "viber",
        "queue_code": "housing",
        "category": "housing",
        "appeal_type": "complaint",
        "appeal_term": "standard",
        "urgent": False,
        "anonymous": False,
        "full_name": "<script>alert(1)</script> & Co",
        "received_at": NOW,
        "deadline_at": NOW,
        "body": "x",
    }
    values.update(fields)
    return Ticket(**values)


def test_the_card_escapes_and_stays_within_telegrams_limit() -> None:
    cards = CardRenderer(Catalog.load(), zone=ZONE)
    huge = "<b>&" * 5000
    ticket = _ticket(
        body=huge,
        address=huge,
        contact=huge[:256],
        subject=huge[:256],
        urgent=False,
        extended_at=NOW,
        extension_reason=huge,
        status="refused",
        refusal_ground="incomplete",
        refusal_comment=huge,
        rating=3,
    )
    data = CardData(
        ticket=ticket,
        resident=Resident(name="Ім'я"),
        queue=Department(code="housing", name="ЖКГ <відділ>"),
        assignee="Петро <Оператор>",
    )
    text, cut = cards.card_text(data)
    assert cut
    plain = markup_to_plain(text)
    assert utf16_len(plain) <= 4096
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in text
    assert "ЖКГ &lt;відділ&gt;" in text and "Петро &lt;Оператор&gt;" in text
    assert cards.card_buttons(ticket) is None  # refused: nothing left to do
    name = cards.topic_name(_ticket(number="ЗІ-2026-000001", category="x" * 300))
    assert len(name) <= 128 and name.startswith("ЗІ-2026-000001")
