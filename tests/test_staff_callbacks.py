"""The card's callback data as an aiogram ``CallbackData`` factory keeps the strings cards already
posted in live chats carry (``tk:<verb>:<id>[:<argument>]``): buttons rendered today pack to
them, old strings still parse and match their verb's filter, and junk matches nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiogram import F
from aiogram.types import CallbackQuery, User

from bot.telegram.staff.callbacks import CardCallback, Verb
from bot.telegram.staff.card import CardRenderer
from messaging.i18n import Catalog
from storage.models import Ticket

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _query(data: str) -> CallbackQuery:
    return CallbackQuery(
        id="1",
        from_user=User(id=7002, is_bot=False, first_name="Оператор"),
        chat_instance="chat",
        data=data,
    )


def _appeal() -> Ticket:
    return Ticket(
        id=42,
        number="ЗВ-2026-000042",
        kind="appeal",
        status="new",
        category="housing",
        appeal_term="standard",
        urgent=False,
        queue_code="housing",
        received_at=NOW,
        deadline_at=NOW,
    )


def test_buttons_rendered_today_pack_to_the_old_strings() -> None:
    renderer = CardRenderer(Catalog.load(), zone=ZoneInfo("Europe/Kyiv"))
    markup = renderer.card_buttons(_appeal())
    assert markup is not None
    packed = [button.callback_data for row in markup.inline_keyboard for button in row]
    assert packed == [
        "tk:take:42",
        "tk:hand:42",
        "tk:ext:42",
        "tk:term:42:simple",
        "tk:cats:42",
        "tk:ref:42",
        "tk:close:42",
    ]
    grounds = renderer.ground_buttons(_appeal())
    assert grounds.inline_keyboard[0][0].callback_data == "tk:rg:42:incomplete"
    assert grounds.inline_keyboard[-1][0].callback_data == "tk:card:42"


@pytest.mark.parametrize(
    ("data", "verb", "argument"),
    [
        ("tk:take:42", Verb.TAKE, ""),
        ("tk:to:42:transport", Verb.HAND_TO, "transport"),
        ("tk:rg:42:not_holder", Verb.GROUND, "not_holder"),
        ("tk:closeok:42", Verb.CLOSE_OK, ""),
        ("tk:cat:42:roads_transport", Verb.CATEGORY_TO, "roads_transport"),
    ],
)
async def test_an_old_card_button_still_parses_and_reaches_its_handler(
    data: str, verb: Verb, argument: str
) -> None:
    expected = CardCallback(verb=verb, id=42, arg=argument)
    assert CardCallback.unpack(data) == expected
    assert expected.pack() == data
    assert await CardCallback.filter(F.verb == verb)(_query(data)) == {"callback_data": expected}
    other = Verb.CARD if verb is not Verb.CARD else Verb.TAKE
    assert await CardCallback.filter(F.verb == other)(_query(data)) is False


@pytest.mark.parametrize(
    "junk",
    ["tk:take", "tk:take:x", "tk:nope:1", "tk:take:-1", "tk:take:+1", "tk:take: 1", "nw:take:1"],
)
async def test_malformed_data_matches_no_verb(junk: str) -> None:
    for verb in Verb:
        assert await CardCallback.filter(F.verb == verb)(_query(junk)) is False
