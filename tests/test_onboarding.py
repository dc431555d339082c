"""The resident onboarding scenario, written once and run on Telegram (polling and webhook) and
Viber, each on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Resident
from storage.vocabulary import POLICY_VERSION
from tests.harness import WORLDS, Resident_, find_resident

pytestmark = pytest.mark.migrated_database


async def _stored(sessionmaker: async_sessionmaker[AsyncSession], r: Resident_) -> Resident:
    resident = await find_resident(sessionmaker, r.channel, r.external_id)
    assert resident is not None
    return resident


@pytest.mark.parametrize("world_name", list(WORLDS))
async def test_onboarding_scenario(world_name: str, database_url: str) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await r.start()
            assert "Криворізької міської ради" in r.last_text()
            assert "персональних даних" in r.last_text()
            assert {"✅ Погоджуюсь", "📄 Детальніше", "Продовжити без згоди"} <= set(r.labels())

            await r.press("📄 Детальніше")
            assert any(f"редакція {POLICY_VERSION}" in t for t in r.texts()[-2:])
            await r.press("✅ Погоджуюсь")
            assert any("Згоду зафіксовано" in t for t in r.texts()[-2:])
            assert set(r.labels()) >= {"Українська", "English"}
            stored = await _stored(sessionmaker, r)
            assert stored.consent_at is not None and stored.policy_version == POLICY_VERSION

        # A restart in the middle of the flow: the resident continues where they were.
        async with world.restart() as sessionmaker:
            await r.press("English")
            assert "Which news" in r.last_text()
            await r.press("✅ Events")
            assert "▫️ Events" in r.labels()
            await r.press("Done ✔️")
            assert "Choose your district" in r.last_text()
            await r.press("Pokrovskyi")
            assert "All set!" in r.last_text()
            assert "Pokrovskyi" in r.last_text()
            assert "⚙️ Settings" in r.labels()

            stored = await _stored(sessionmaker, r)
            assert stored.language == "en"
            assert stored.district == "pokrovskyi"
            assert stored.topic_codes == {"city_news", "decisions", "outages"}
            assert stored.onboarded_at is not None and stored.subscribed and stored.is_active

            # Free text is kept, to be sent or dropped (tests/test_free_text.py) — HTML shown
            # as typed; dropped, the menu is back.
            await r.say("<b>hello</b> & <script>x</script> 🙂")
            assert "kept your message" in r.last_text()
            assert "<b>hello</b> & <script>x</script> 🙂" in r.last_text()
            await r.press("🗑 Do not send")
            assert "nothing was sent" in r.last_text()
            assert "⚙️ Settings" in r.labels()
            await r.press("❓ Help")
            assert "What this bot does" in r.last_text()
            await r.command("nonsense")
            assert "no such command" in r.last_text()

            # Settings: news frequency.
            await r.command("settings")
            assert "Settings" in r.last_text()
            await r.press("⏰ Frequency")
            await r.press("Daily")
            assert any("Saved." in t for t in r.texts()[-2:])
            # Switch back to Ukrainian through settings.
            await r.press("🗣 Language")
            await r.press("Українська")
            assert any("Мову змінено" in t for t in r.texts()[-2:])
            await r.press("⬅️ Назад")
            assert "Головне меню" in r.last_text()
            stored = await _stored(sessionmaker, r)
            assert (stored.digest, stored.language) == ("daily", "uk")

            # Unsubscribe and come back.
            await r.command("stop")
            assert "відписалися" in r.last_text()
            assert not (await _stored(sessionmaker, r)).subscribed
            await r.command("start")
            assert "Підписку відновлено" in r.last_text()
            assert (await _stored(sessionmaker, r)).subscribed

            # Consent withdrawn from settings is recorded.
            await r.command("settings")
            await r.press("🔐 Відкликати згоду")
            assert any("Згоду відкликано" in t for t in r.texts()[-2:])
            stored = await _stored(sessionmaker, r)
            assert stored.consent_at is None and stored.policy_version is None


@pytest.mark.parametrize("world_name", ["viber", "telegram-webhook"])
async def test_declining_consent_still_subscribes_to_news(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await r.start()
            await r.press("Продовжити без згоди")
            assert any("без згоди" in t for t in r.texts()[-2:])
            await r.press("Українська")
            await r.press("Готово ✔️")
            await r.press("Усе місто")
            assert "Готово!" in r.last_text()
            stored = await _stored(sessionmaker, r)
            assert stored.consent_at is None and not stored.has_consent
            assert stored.district == "city" and stored.subscribed
            assert len(stored.topic_codes) == 4
