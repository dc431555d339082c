"""A hand-over to a department that works in the same forum chat keeps the ticket's topic: the
new card is posted into it, and no second topic of the same name is created. A department with a
chat of its own gets the ticket there (its own topic, if that chat is a forum)."""

from __future__ import annotations

import pytest

from tests.staff_world import OPERATOR, card_of, staff_world

pytestmark = pytest.mark.migrated_database

OTHER_FORUM = -4500888


async def test_hand_over_in_the_same_forum_keeps_one_topic(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        ticket_id = await world.file(kind="appeal")
        ticket = await world.ticket(ticket_id)
        topic = ticket.thread_id
        assert topic is not None
        names = [t["name"] for t in world.telegram.topics(world.chat_id)]
        assert names.count(f"{ticket.number} · Житло та комунальні послуги") == 1
        old_card = card_of(world, ticket)["message_id"]

        # "Благоустрій" has no chat of its own: its tickets are in the same operator forum.
        await world.press(OPERATOR, old_card, "↪️ Передати")
        await world.press(OPERATOR, old_card, "Благоустрій")

        ticket = await world.ticket(ticket_id)
        assert ticket.queue_code == "improvement"
        assert ticket.staff_chat_id == world.chat_id and ticket.thread_id == topic
        assert ticket.card_message_id not in (None, old_card)
        new_card = card_of(world, ticket)
        assert new_card["message_thread_id"] == topic and "Благоустрій" in new_card["text"]
        assert len(world.telegram.calls_to("createForumTopic")) == 1
        names = [t["name"] for t in world.telegram.topics(world.chat_id)]
        assert len(names) == len(set(names)) == 1, names

        # A staff reply in the topic still finds the ticket.
        await world.say(OPERATOR, "Передали до благоустрою, дякуємо", thread_id=topic)
        assert any("Передали до благоустрою" in t for t in world.resident_texts())


async def test_hand_over_to_another_forum_opens_a_topic_there(database_url: str) -> None:
    async with staff_world(database_url, forum=True) as world:
        world.telegram.add_group(OTHER_FORUM, "Транспорт", is_forum=True, members=(OPERATOR,))
        await world.set_queue_chat("transport", OTHER_FORUM)
        ticket_id = await world.file(kind="appeal")
        ticket = await world.ticket(ticket_id)
        old_card = card_of(world, ticket)["message_id"]
        await world.press(OPERATOR, old_card, "↪️ Передати")
        await world.press(OPERATOR, old_card, "Транспорт і дороги")
        ticket = await world.ticket(ticket_id)
        assert ticket.staff_chat_id == OTHER_FORUM and ticket.thread_id is not None
        assert [t["message_thread_id"] for t in world.telegram.topics(OTHER_FORUM)] == [
            ticket.thread_id
        ]
        assert len(world.telegram.topics(world.chat_id)) == 1
