"""Viber residents keep their menu: Viber shows the last keyboard sent ("The client will always
display the last keyboard that was sent to it", the keyboards guide), so every message to a
Viber resident carries the keyboard they should have then — the main menu in their language, or
their open flow's buttons. Checked on the last message of each chat in the fake Viber, after
news, a digest, a poll, a vote, a staff answer and a plain reply; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.sandbox.fakes.viber import FakeViber
from broadcasts.digest import Digests
from messaging.i18n import Catalog
from storage.broadcasts import BroadcastKind
from storage.models import Broadcast, ConversationState, Resident
from storage.vocabulary import Digest
from tests.news_world import EDITOR, add_people, last_preview, news_items, news_world, press
from tests.staff_world import OPERATOR, VIBER_RESIDENT, World, card_of, staff_world
from tests.test_broadcast_helpers import Person, wait_done
from tests.test_polls import send_poll

pytestmark = pytest.mark.migrated_database

VB_UK = Person("viber", "VbKeyboardUk000000001==", "pokrovskyi")
VB_EN = Person("viber", "VbKeyboardEn000000001==", "pokrovskyi")
VB_FLOW = Person("viber", "VbKeyboardFlow0000001==", "pokrovskyi")
VB_DAILY = Person("viber", "VbKeyboardDaily000001==", "pokrovskyi", digest="daily")
MENU_KEYS = (
    "menu.file",
    "menu.mytickets",
    "menu.news",
    "menu.settings",
    "menu.help",
    "menu.policy",
    "menu.stop",
)


def menu(catalog: Catalog, lang: str) -> list[str]:
    return [catalog.text(lang, key) for key in MENU_KEYS]


def last_labels(viber: FakeViber, person: Person | str) -> list[str]:
    """The button labels of the last message in the resident's chat (none: no keyboard)."""
    user = person if isinstance(person, str) else person.external_id
    keyboard: dict[str, Any] = viber.last_message(user).get("keyboard") or {}
    return [str(button["Text"]) for button in keyboard.get("Buttons", [])]


async def prepare(world: World) -> None:
    """Onboarded residents; VB_EN reads English; VB_FLOW is in the middle of their settings."""
    async with world.runtime.sessionmaker() as session, session.begin():
        residents = {r.external_id: r for r in (await session.scalars(select(Resident))).all()}
        for resident in residents.values():
            resident.onboarded_at = world.clock()
        residents[VB_EN.external_id].language = "en"
        session.add(
            ConversationState(
                resident_id=residents[VB_FLOW.external_id].id,
                flow="settings",
                step="menu",
                data={},
                updated_at=world.clock(),
            )
        )


async def test_news_a_poll_a_vote_and_a_plain_reply_keep_the_menu(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        viber = world.viber
        assert viber is not None
        catalog = world.runtime.catalog
        await add_people(world, [VB_UK, VB_EN, VB_FLOW])
        await prepare(world)

        await world.say(EDITOR, "/news Відключення води на вул. Соборності")
        await press(world, EDITOR, last_preview(world)["message_id"], "📨")
        [item] = await news_items(world)
        await wait_done(world.runtime.sessionmaker, item.id)
        for person, lang in ((VB_UK, "uk"), (VB_EN, "en")):
            assert viber.texts(person.external_id) == ["Відключення води на вул. Соборності"]
            assert last_labels(viber, person) == menu(catalog, lang), person
        # An open flow keeps its own buttons (here the settings screen), not the main menu.
        flow_labels = last_labels(viber, VB_FLOW)
        assert catalog.text("uk", "settings.language") in flow_labels
        assert catalog.text("uk", "menu.file") not in flow_labels

        # A plain reply of the conversation (the news list has no buttons of its own).
        await viber.press_button(VB_UK.external_id, catalog.text("uk", "menu.news"))
        assert viber.texts(VB_UK.external_id)[-1].startswith("📰")
        assert last_labels(viber, VB_UK) == menu(catalog, "uk")

        # A poll: its options, and the menu under them.
        await send_poll(world)
        options = ["Так 🌳", "Ні", "Байдуже"]
        assert last_labels(viber, VB_UK) == options + menu(catalog, "uk")
        assert last_labels(viber, VB_EN) == options + menu(catalog, "en")

        # A vote: a short answer with the current choice, not the whole poll again; the
        # options marked (to change it) and the menu.
        sent_before = len(viber.messages(VB_UK.external_id))
        assert await viber.press_button(VB_UK.external_id, "Ні") == 200
        assert len(viber.messages(VB_UK.external_id)) == sent_before + 1
        answer = viber.texts(VB_UK.external_id)[-1]
        assert "Ваш голос враховано: Ні" in answer
        assert "Голосування триває" not in answer and "Оберіть один варіант" not in answer
        assert len(answer) < 200, answer
        assert last_labels(viber, VB_UK) == ["Так 🌳", "✅ Ні", "Байдуже", *menu(catalog, "uk")]
        # Changing the vote works with the keyboard of the answer.
        assert await viber.press_button(VB_UK.external_id, "Так 🌳") == 200
        assert "Ваш голос враховано: Так 🌳" in viber.texts(VB_UK.external_id)[-1]
        await viber.press_button(VB_EN.external_id, "Байдуже")
        assert "Your vote is counted: Байдуже" in viber.texts(VB_EN.external_id)[-1]
        assert last_labels(viber, VB_EN)[-len(MENU_KEYS) :] == menu(catalog, "en")


async def test_a_digest_keeps_the_menu(database_url: str) -> None:
    async with news_world(database_url, viber=True) as world:
        viber = world.viber
        assert viber is not None
        # VB_UK gets the news at once; VB_DAILY in the digest.
        await add_people(world, [VB_DAILY, VB_UK])
        await world.say(EDITOR, "/news Концерт у парку")
        await press(world, EDITOR, last_preview(world)["message_id"], "📨")
        [news] = await news_items(world)
        await wait_done(world.runtime.sessionmaker, news.id)
        world.clock.advance(timedelta(minutes=1))
        fire_at = world.clock()
        digests = Digests(
            sessionmaker=world.runtime.sessionmaker,
            catalog=world.runtime.catalog,
            zone=world.runtime.settings.zone,
            clock=world.clock,
        )
        await digests.run(Digest.DAILY, fire_at)
        async with world.runtime.sessionmaker() as session:
            [digest] = (
                await session.scalars(
                    select(Broadcast).where(Broadcast.kind == BroadcastKind.DIGEST.value)
                )
            ).all()
        await wait_done(world.runtime.sessionmaker, digest.id)
        assert "Концерт у парку" in viber.texts(VB_DAILY.external_id)[-1]
        assert last_labels(viber, VB_DAILY) == menu(world.runtime.catalog, "uk")


async def test_a_staff_answer_keeps_the_menu(database_url: str) -> None:
    async with staff_world(database_url, forum=False, viber=True) as world:
        viber = world.viber
        assert viber is not None
        viber.user(VIBER_RESIDENT, name="Марія", subscribed=True)
        ticket_id = await world.file(channel="viber", external_id=VIBER_RESIDENT, name="Марія")
        async with world.runtime.sessionmaker() as session, session.begin():
            resident = (
                await session.scalars(
                    select(Resident).where(Resident.external_id == VIBER_RESIDENT)
                )
            ).one()
            # As after onboarding (filing a ticket needs consent).
            resident.consent_at = resident.onboarded_at = world.clock()
        card = card_of(world, await world.ticket(ticket_id))
        await world.say(OPERATOR, "Ліфт полагодять завтра", reply_to=card["message_id"])
        assert "Ліфт полагодять завтра" in viber.texts(VIBER_RESIDENT)[-1]
        assert last_labels(viber, VIBER_RESIDENT) == menu(world.runtime.catalog, "uk")
