"""Incidents in the operator chat through the fake Bot API, on SQLite and PostgreSQL: the spike
alert's "open an incident" button opens one with the spike's tickets; the card's buttons set
the status and ask (ForceReply) for an update's text and the resolving answer; ``/incident``
lists and shows; ``/link N`` in a ticket's thread links it; a non-staff member is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.models import Incident
from tests.staff_world import OPERATOR, OUTSIDER, staff_world
from tests.stats_seed import Seed
from tests.test_spikes import _job

pytestmark = pytest.mark.migrated_database

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
OPEN = "🚨 Відкрити інцидент"


async def test_spike_button_card_status_update_link_and_resolve(database_url: str) -> None:
    async with staff_world(database_url) as world:
        seed = Seed(world.runtime.sessionmaker)
        now = world.clock()
        tern = await seed.resident(district="ternivskyi")
        for day in range(1, 28):
            await seed.ticket(resident_id=tern, received_at=now - day * DAY)
        for minutes in range(6):
            await seed.ticket(
                resident_id=tern,
                kind="feedback",
                received_at=now - (10 + minutes) * MINUTE,
                body=f"Вибух труби на вулиці, вода в підвалі {minutes}",
            )
        # Their cards now, as the minute's catch-up would: posted later, they would come
        # between the messages this test reads as the chat's last.
        assert await world.desk.post_pending(limit=100) == 33
        await _job(world).run()
        alerts = [m for m in world.chat() if OPEN in world.buttons(m["message_id"])]
        alert = next(m for m in alerts if "Житло" in m["text"])
        data = world.buttons(alert["message_id"])[OPEN]
        assert data.startswith("incspike:category:housing:") and len(data.encode()) <= 64

        # Not staff: refused, nothing opened.
        assert await world.press(OUTSIDER, alert["message_id"], OPEN) is not None
        assert world.last_answer.get("show_alert")
        assert await world.audit("incident.open") == []

        answer = await world.press(OPERATOR, alert["message_id"], OPEN)
        assert answer is not None and "відкрито" in answer
        async with world.runtime.sessionmaker() as session:
            (incident,) = (await session.scalars(select(Incident))).all()
        assert incident.category == "housing"
        card = world.chat()[-1]
        assert f"Інцидент №{incident.id}" in card["text"] and "Звернень: 6" in card["text"]
        assert OPEN not in world.buttons(alert["message_id"])  # spent

        # Status by a button: the card is edited in place.
        answer = await world.press(OPERATOR, card["message_id"], "🛠 Працюємо над цим")
        assert answer == "Оновлення отримають: 1."  # one resident filed the six tickets
        assert "працюємо над цим" in world.message(card["message_id"])["text"]

        # An update's text, asked with a ForceReply.
        await world.press(OPERATOR, card["message_id"], "✍️ Надіслати оновлення")
        question = world.chat()[-1]
        markup = world.telegram.calls_to("sendMessage")[-1]["reply_markup"]
        assert markup["force_reply"] is True
        await world.say(OPERATOR, "Бригада на місці.", reply_to=question["message_id"])
        assert world.texts()[-1] == "Оновлення отримають: 1."
        updates = await world.audit("incident.update")
        assert len(updates) == 2

        # /incident lists the open ones and shows one card.
        await world.say(OPERATOR, "/incident")
        assert f"№{incident.id} · " in world.texts()[-1]
        await world.say(OPERATOR, f"/incident {incident.id}")
        assert "Стан: працюємо над цим" in world.texts()[-1]

        # /link in a ticket's thread.
        ticket_id = await world.file(kind="feedback", body="Нема води")
        ticket = await world.ticket(ticket_id)
        await world.say(OPERATOR, f"/link {incident.id}", thread_id=ticket.thread_id)
        assert f"прив'язано до інциденту №{incident.id}" in world.texts()[-1]
        assert len(await world.audit("incident.link")) == 7

        # Resolve: the answer asked with a ForceReply; the feedback tickets are closed.
        await world.press(OPERATOR, card["message_id"], "✅ Вирішено")
        question = world.chat()[-1]
        await world.say(OPERATOR, "Воду подали.", reply_to=question["message_id"])
        # The closed tickets' threads get the answer in the background (the outbox): the
        # staff member's request does not wait for them.
        await world.runtime.outbox.drain()
        after = world.texts()[::-1]
        done = next(text for text in after if "Інцидент вирішено" in text)
        assert "закрито відгуків: 7" in done
        assert any("Воду подали." in text and "💬" in text for text in after)
        assert (await world.ticket(ticket_id)).status == "closed"
        # A second answer to the same question is refused by the core.
        await world.say(OPERATOR, "Ще раз.", reply_to=question["message_id"])
        assert world.texts()[-1] == "Інцидент уже вирішено."
