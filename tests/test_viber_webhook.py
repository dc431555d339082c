"""The Viber webhook: signatures, parsing, de-duplication, subscription events, outages."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fake_viber import FakeViber
from storage.models import AuditEntry, ProcessedUpdate, Resident
from tests.conftest import set_connections_allowed
from tests.harness import VIBER_TOKEN, ViberResident, bot_settings, find_resident, running_bot


async def _health(base_url: str | None) -> int:
    async with aiohttp.ClientSession() as http, http.get(f"{base_url}/healthz") as response:
        return response.status


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_registers_its_webhook_at_start(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings):
            assert fake.webhook_url == f"{settings.public_url}/viber/webhook"
            # Viber's set_webhook check (a signed "webhook" event) was answered with 200.
            assert "conversation_started" in (fake.event_types or [])
            assert fake.send_name


async def test_forged_and_unsigned_callbacks_are_rejected_and_nothing_is_written(
    database_url: str,
) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            sm = runtime.sessionmaker
            before = await _count(sm, ProcessedUpdate)
            event = {
                "event": "message",
                "timestamp": 1,
                "message_token": 555,
                "sender": {"id": "forger==", "name": "Mallory"},
                "message": {"type": "text", "text": "/start"},
            }
            body = json.dumps(event).encode()
            assert await fake.post_raw(body, signature=None) == 403
            assert await fake.post_raw(body, signature="0" * 64) == 403
            # Signed with another token.
            other = FakeViber("another-token-0000")
            assert await fake.post_raw(body, signature=other.signature(body)) == 403
            # Correct signature of a different body.
            assert await fake.post_raw(body, signature=fake.signature(body + b" ")) == 403
            assert await _count(sm, ProcessedUpdate) == before
            assert await _count(sm, Resident) == 0
            assert fake.messages("forger==") == []


async def test_signed_garbage_is_a_bad_request(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            for body in (b"not json", b"[]", json.dumps({"event": "teleport"}).encode()):
                assert await fake.post_raw(body, signature=fake.signature(body)) == 400
            assert await _count(runtime.sessionmaker, Resident) == 0


async def test_duplicate_message_token_is_processed_once(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            resident = ViberResident(fake, "dup-user==")
            assert await fake.send_text(resident.external_id, "привіт", message_token=777) == 200
            sent = len(fake.messages(resident.external_id))
            assert sent == 1
            assert await fake.send_text(resident.external_id, "привіт", message_token=777) == 200
            assert await fake.replay() == 200
            assert len(fake.messages(resident.external_id)) == sent
            assert await _count(runtime.sessionmaker, ProcessedUpdate) == 1


async def test_unsubscribe_marks_inactive_and_subscribe_greets(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            fake.user("sub==", name="Іван")
            assert await fake.subscribe("sub==") == 200
            # Subscribing without writing starts the onboarding.
            assert "Погоджуюсь" in " ".join(ViberResident(fake, "sub==").labels())
            assert await fake.unsubscribe("sub==") == 200
            stored = await find_resident(runtime.sessionmaker, "viber", "sub==")
            assert stored is not None and not stored.is_active and stored.blocked_at is not None
            # Someone unsubscribing who never wrote leaves no profile.
            fake.user("ghost==")
            assert await fake.unsubscribe("ghost==") == 200
            assert await find_resident(runtime.sessionmaker, "viber", "ghost==") is None


async def test_receipts_and_failures_are_accepted(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings):
            resident = ViberResident(fake, "receipts==")
            await resident.say("привіт")
            assert await fake.delivered(resident.external_id) == 200
            assert await fake.seen(resident.external_id) == 200
            assert await fake.failed(resident.external_id, desc="device unsupported") == 200


async def test_unsupported_and_odd_messages_get_a_polite_answer(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings):
            resident = ViberResident(fake, "odd==")
            await resident.start()
            cases = [
                fake.send_sticker(resident.external_id),
                fake.send_text(resident.external_id, ""),
                fake.send_text(resident.external_id, "<script>alert(1)</script> & 🙂" * 300),
                fake.send_location(resident.external_id, 47.91, 33.39),
                fake.send_contact(resident.external_id, "Олена", "+380671234567"),
                fake.send_picture(resident.external_id, "https://example.org/p.jpg"),
                fake.send_text(resident.external_id, "act:not-an-action"),
            ]
            for call in cases:
                before = len(fake.messages(resident.external_id))
                assert await call == 200
                after = fake.messages(resident.external_id)
                assert len(after) == before + 1, "every input gets an answer"
            # Onboarding is still where it was: the consent buttons are offered again.
            assert any("Погоджуюсь" in label for label in resident.labels())


async def test_database_outage_answers_5xx_and_the_redelivery_is_processed(pg_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(pg_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            resident = ViberResident(fake, "outage==")
            await set_connections_allowed(pg_url, False)
            try:
                status = await fake.send_text(resident.external_id, "/start")
                assert status >= 500
                assert fake.messages(resident.external_id) == []
                assert await _health(settings.public_url) == 503
            finally:
                await set_connections_allowed(pg_url, True)
            assert await _health(settings.public_url) == 200
            assert await fake.redeliver() == [200]
            assert len(fake.messages(resident.external_id)) == 1
            assert await find_resident(runtime.sessionmaker, "viber", "outage==") is not None
            async with runtime.sessionmaker() as session:
                failures = await session.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "handler.failed")
                )
            assert failures == 0


async def test_concurrent_duplicate_deliveries_are_processed_once(database_url: str) -> None:
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            resident = ViberResident(fake, "race==")
            await resident.say("привіт")
            event = {
                "event": "message",
                "timestamp": 1_780_000_000_000,
                "message_token": 9_000_001,
                "sender": {"id": "race==", "name": "R", "language": "uk", "api_version": 10},
                "message": {"type": "text", "text": "/help"},
            }
            before = len(fake.messages("race=="))
            statuses = await asyncio.gather(*(fake.deliver(event) for _ in range(5)))
            assert statuses == [200] * 5
            assert len(fake.messages("race==")) == before + 1
            async with runtime.sessionmaker() as session:
                claims = await session.scalar(
                    select(func.count())
                    .select_from(ProcessedUpdate)
                    .where(ProcessedUpdate.update_key == "message:9000001")
                )
            assert claims == 1
