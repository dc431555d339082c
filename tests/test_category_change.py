"""Staff change a ticket's category from its card: the ticket goes to the category's queue,
and the change is recorded with the old and new category and the suggestion made at filing
(``citybot keywords report`` reads it back). Tickets of residents in either messenger."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from storage.models import Ticket
from storage.tickets import set_route
from storage.vocabulary import TicketStatus
from tests.staff_world import (
    ADMIN,
    OPERATOR,
    OUTSIDER,
    TG_RESIDENT,
    VIBER_RESIDENT,
    card_of,
    staff_world,
)

pytestmark = pytest.mark.migrated_database

TRANSPORT_CHAT = -4500778


@pytest.mark.parametrize("channel", ["telegram", "viber"])
async def test_category_change_moves_and_is_recorded(database_url: str, channel: str) -> None:
    async with staff_world(database_url, forum=True, viber=channel == "viber") as world:
        world.telegram.add_group(TRANSPORT_CHAT, "Транспорт", members=(ADMIN, OPERATOR))
        await world.set_queue_chat("transport", TRANSPORT_CHAT)
        resident = str(TG_RESIDENT) if channel == "telegram" else VIBER_RESIDENT
        ticket_id = await world.file(
            kind="feedback",
            queue="housing",
            category="housing",
            channel=channel,
            external_id=resident,
            body="Яма на дорозі біля під'їзду, машини б'ють колеса",
        )
        async with world.runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(Ticket).where(Ticket.id == ticket_id).values(suggested_category="housing")
            )
        ticket = await world.ticket(ticket_id)
        card_id = card_of(world, ticket)["message_id"]

        # Only staff may.
        denied = await world.press(OUTSIDER, card_id, "🏷 Категорія")
        assert denied is not None and "зареєстровані працівники" in denied

        await world.press(OPERATOR, card_id, "✋ Взяти")
        told = len(world.resident_texts()) if channel == "telegram" else 0
        await world.press(OPERATOR, card_id, "🏷 Категорія")
        choices = world.buttons(card_id)
        assert "Транспорт і дороги" in choices and "Житло та комунальні послуги" not in choices
        assert "⬅️ Назад" in choices
        answer = await world.press(OPERATOR, card_id, "Транспорт і дороги")
        assert answer == "Категорія: Транспорт і дороги"

        old = world.message(card_id)
        assert (
            "категорію змінено «Житло та комунальні послуги» → «Транспорт і дороги»" in old["text"]
        )
        assert "Транспорт і дороги" in old["text"] and "reply_markup" not in old
        ticket = await world.ticket(ticket_id)
        assert ticket.category == "roads_transport" and ticket.queue_code == "transport"
        assert ticket.staff_chat_id == TRANSPORT_CHAT
        assert ticket.status == TicketStatus.NEW and ticket.assignee_id is None
        new_card = card_of(world, ticket)
        assert "Транспорт і дороги" in new_card["text"]

        (entry,) = await world.audit("ticket.category")
        assert entry.actor == f"staff:{OPERATOR}" and entry.subject == f"ticket:{ticket_id}"
        assert entry.details == {
            "number": ticket.number,
            "old": "housing",
            "new": "roads_transport",
            "suggested": "housing",
            "queue_from": "housing",
            "queue_to": "transport",
        }
        # The resident is not bothered with an internal re-filing.
        if channel == "telegram":
            assert len(world.resident_texts()) == told

        # A category routed to the same queue: the card stays and shows the new category.
        async with world.runtime.sessionmaker() as session, session.begin():
            await set_route(session, category="social", queue_code="transport")
        new_id = new_card["message_id"]
        await world.press(ADMIN, new_id, "🏷 Категорія", chat_id=TRANSPORT_CHAT)
        await world.press(ADMIN, new_id, "Соціальний захист", chat_id=TRANSPORT_CHAT)
        ticket = await world.ticket(ticket_id)
        assert ticket.category == "social" and ticket.queue_code == "transport"
        assert ticket.card_message_id == new_id
        card = card_of(world, ticket)
        assert "Соціальний захист" in card["text"] and "🏷 Категорія" in world.buttons(
            new_id, TRANSPORT_CHAT
        )
        changes = await world.audit("ticket.category")
        assert [c.details["new"] for c in changes] == ["roads_transport", "social"]
        assert changes[1].details["queue_to"] == "transport"


async def test_no_category_button_where_the_kind_has_none(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file(kind="info_request", queue="public_info", category=None)
        ticket = await world.ticket(ticket_id)
        card_id = card_of(world, ticket)["message_id"]
        assert "🏷 Категорія" not in world.buttons(card_id)
        # A forged press is refused and changes nothing.
        await world.press_data(OPERATOR, card_id, f"tk:cat:{ticket_id}:housing", strict=False)
        assert world.last_answer.get("show_alert") is True
        assert "лише для відгуку чи звернення" in world.last_answer["text"]
        ticket = await world.ticket(ticket_id)
        assert ticket.category is None and ticket.queue_code == "public_info"
        assert await world.audit("ticket.category") == []
