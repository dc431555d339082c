"""The Viber webhook: signatures, parsing, de-duplication, subscription events, outages."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.viber import FakeViber
from bot.schedule import prune_claims
from storage.dedup import DEDUP_RETENTION
from storage.models import AuditEntry, ProcessedUpdate, Resident
from tests.conftest import set_connections_allowed
from tests.harness import VIBER_TOKEN, ViberResident, bot_settings, find_resident, running_bot

pytestmark = pytest.mark.migrated_database


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


def _text_event(user_id: str, text: object, *, token: int, timestamp: int) -> dict[str, Any]:
    return {
        "event": "message",
        "timestamp": timestamp,
        "message_token": token,
        "sender": {"id": user_id, "name": "Тарас", "language": "uk", "api_version": 10},
        "message": {"type": "text", "text": text},
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def _bad_types() -> list[tuple[str, bytes]]:
    """Signed callbacks the bot can never process: Viber's redelivery would not change them."""
    good = _text_event("typed==", "/start", token=8_000_000, timestamp=_now_ms())

    def variant(**changes: Any) -> bytes:
        event = copy.deepcopy(good)
        for path, value in changes.items():
            target = event
            *parents, last = path.split("__")
            for parent in parents:
                target = target[parent]
            if value is _DROP:
                del target[last]
            else:
                target[last] = value
        return json.dumps(event).encode()

    return [
        ("not JSON", b"not json"),
        ("not UTF-8", b'{"event": "message", "x": "\xff\xfe"}'),
        ("an array", b"[]"),
        ("an unknown event", json.dumps({"event": "teleport", "timestamp": _now_ms()}).encode()),
        ("text is a number", variant(message__text=5)),
        ("text is an object", variant(message__text={"a": 1})),
        ("message is a list", variant(message=["text"])),
        ("message type not text", variant(message__type=7)),
        ("sender missing", variant(sender=_DROP)),
        ("sender id a number", variant(sender__id=12345)),
        ("sender id too long", variant(sender__id="x" * 65)),
        ("sender name a list", variant(sender__name=["a"])),
        ("timestamp text", variant(timestamp="yesterday")),
        ("timestamp missing", variant(timestamp=_DROP)),
        ("timestamp a bignum", variant(timestamp=10**40)),
        ("token missing", variant(message_token=_DROP)),
        ("token an object", variant(message_token={"a": 1})),
        ("token too long", variant(message_token="t" * 200)),
        ("size a bignum", variant(message={"type": "file", "media": "https://x", "size": 10**30})),
        ("location lat text", variant(message={"type": "location", "location": {"lat": "n"}})),
        (
            "location lat NaN",
            variant(message={"type": "location", "location": {"lat": 0, "lon": 1}}).replace(
                b'"lat": 0', b'"lat": NaN'
            ),
        ),
        (
            "contact phone a number",
            variant(message={"type": "contact", "contact": {"phone_number": 1}}),
        ),
        (
            "subscribed without user",
            json.dumps({"event": "subscribed", "timestamp": _now_ms()}).encode(),
        ),
        (
            "unsubscribed user_id a number",
            json.dumps({"event": "unsubscribed", "timestamp": _now_ms(), "user_id": 7}).encode(),
        ),
        (
            "conversation_started user without an id",
            json.dumps(
                {
                    "event": "conversation_started",
                    "timestamp": _now_ms(),
                    "message_token": 8_000_001,
                    "type": "open",
                    "user": {"name": "Без id"},
                }
            ).encode(),
        ),
        (
            "failed without desc",
            json.dumps(
                {"event": "failed", "timestamp": _now_ms(), "message_token": 1, "user_id": "u=="}
            ).encode(),
        ),
    ]


_DROP = object()


async def test_signed_callbacks_with_wrong_types_are_answered_200_refused_and_audited(
    database_url: str,
) -> None:
    """A signed callback the bot cannot use is Viber's and will never become usable: answered
    200 (anything else is redelivered for an hour), recorded as refused, nothing else done."""
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings) as runtime:
            sm = runtime.sessionmaker
            claims = await _count(sm, ProcessedUpdate)
            cases = _bad_types()
            for name, body in cases:
                status = await fake.post_raw(body, signature=fake.signature(body))
                assert status == 200, name
            assert await _count(sm, Resident) == 0
            assert await _count(sm, ProcessedUpdate) == claims
            assert fake.messages("typed==") == []
            refused = await _refused(sm)
            assert len(refused) == len(cases)
            assert all(entry.actor == "viber" for entry in refused)
            assert refused[4].details["reason"] == "message.text is not text"
            # The audit keeps no content: the event, the reason and a hash.
            assert set(refused[4].details) == {"reason", "event", "sha256"}
            # The same callback with the right types is processed as usual.
            fake.user("typed==", name="Тарас", subscribed=True)
            good = _text_event("typed==", "/start", token=8_000_002, timestamp=_now_ms())
            assert await fake.deliver(good) == 200
            assert len(fake.messages("typed==")) == 1


async def _refused(sessionmaker: async_sessionmaker[AsyncSession]) -> list[AuditEntry]:
    async with sessionmaker() as session:
        query = (
            select(AuditEntry)
            .where(AuditEntry.action == "viber.callback_refused")
            .order_by(AuditEntry.id)
        )
        return list((await session.scalars(query)).all())


class _Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


async def test_callbacks_outside_the_replay_window_are_refused(database_url: str) -> None:
    """A claim is pruned after DEDUP_RETENTION: a captured callback replayed later would be
    processed again, so callbacks older than the window (or from far in the future) are
    refused; the replay of a real callback after its claim was pruned has no effect."""
    clock = _Clock()
    async with FakeViber(VIBER_TOKEN) as fake:
        settings = bot_settings(database_url, viber_token=VIBER_TOKEN, viber_api_url=fake.base_url)
        async with running_bot(settings, clock=clock) as runtime:
            sm = runtime.sessionmaker
            user = "replayed=="
            fake.user(user, name="Тарас", subscribed=True)
            now = _now_ms()
            day = 24 * 3600 * 1000
            # Signed, but sent 8 days ago or a day from now: refused, nothing stored or sent.
            for token, timestamp in ((7_000_001, now - 8 * day), (7_000_002, now + day)):
                event = _text_event(user, "/start", token=token, timestamp=timestamp)
                assert await fake.deliver(event) == 200
            assert fake.messages(user) == []
            assert await find_resident(sm, "viber", user) is None
            assert [e.details["reason"] for e in await _refused(sm)] == [
                "stale: older than the replay window",
                "timestamp is in the future",
            ]
            # Within the window (six days late, a minute early): accepted.
            late = _text_event(user, "/start", token=7_000_003, timestamp=now - 6 * day)
            assert await fake.deliver(late) == 200
            early = _text_event(user, "/help", token=7_000_004, timestamp=now + 60_000)
            assert await fake.deliver(early) == 200
            assert len(fake.messages(user)) == 2
            # A fresh callback is accepted, captured, and replayed after its claim was pruned.
            assert await fake.send_text(user, "/help") == 200
            captured = fake.callbacks[-1]
            answered = len(fake.messages(user))
            clock.now += DEDUP_RETENTION + timedelta(minutes=1)
            await prune_claims(runtime.sessionmaker, clock)
            assert await _count(sm, ProcessedUpdate) == 0
            assert await fake.replay(captured) == 200
            assert len(fake.messages(user)) == answered
            assert await _count(sm, ProcessedUpdate) == 0
            assert len(await _refused(sm)) == 3


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
                "timestamp": _now_ms(),
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
