"""A resident always knows where they are and what they can do, in Telegram and in Viber, on
SQLite and PostgreSQL:

- the "my tickets" list and a ticket's page lead back to the main menu (in Viber they once only
  pointed at each other);
- help lists everything a resident can do, with a button for each (Viber residents cannot tap
  commands), and the personal-data buttons work;
- a button of an old message (a confirmation already sent, a step the resident has left) is
  answered "out of date" with the screen the resident is on — never "I did not understand",
  never audited as forged, and it changes nothing;
- /mydata names the messenger ("Telegram", "Viber"), not its internal code.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers import actions as act
from storage.models import AuditEntry, Ticket
from tests.harness import WORLDS, Resident_, TelegramResident, ViberResident, find_resident, onboard
from tests.test_dead_ends import SLASH_COMMAND

pytestmark = pytest.mark.migrated_database

STALE = "Це повідомлення застаріло"
NOT_UNDERSTOOD = "Я не зрозумів"
HOME = "🏠 Головне меню"
MENU_PROMPT = "Головне меню. Оберіть, що вас цікавить"
WORLD_NAMES = ["viber", "telegram-webhook"]


async def press_old(resident: Resident_, action: str, *, message_text: str | None = None) -> None:
    """Press a button of an earlier message: in Telegram the message still shows its buttons
    (found by its text); in Viber a button sends its action as text, which a press racing a new
    keyboard delivers just the same."""
    if isinstance(resident, ViberResident):
        assert await resident.fake.send_text(resident.external_id, "act:" + action) == 200
        return
    assert isinstance(resident, TelegramResident)
    for message in reversed(resident.fake.messages(resident.user_id)):
        if message_text is None or message_text in (message.get("text") or ""):
            update = await resident.fake.press_button(
                resident.user_id, message["message_id"], action, strict=False
            )
            assert update.status == 200, update.status
            return
    raise LookupError(message_text)


async def file_feedback(r: Resident_, text: str = "Не світять ліхтарі на вул. Металургів") -> None:
    await r.command("feedback")
    await r.press("Інше")
    await r.say(text)
    await r.press("Далі ➡️")
    await r.press("Ні")
    await r.press("✅ Надіслати")
    assert "Зареєстровано" in r.last_text()


# Buttons that lead straight to the main menu, or the main menu itself ("✍️ Звернутися").
WAYS_HOME = frozenset({HOME, "✖️ Скасувати", "⬅️ Назад", "✍️ Звернутися"})


def assert_viber_keyboards_lead_home(r: Resident_) -> None:
    """Every message Viber got after the consent question carries a keyboard that leads home
    (as rendered for Viber: the crawl in ``test_dead_ends`` checks every screen, this checks
    what reached the fake Viber server)."""
    if not isinstance(r, ViberResident):
        return
    messages = r.fake.messages(r.external_id)
    assert messages
    for message in messages:
        labels = {str(b.get("Text")) for b in (message.get("keyboard") or {}).get("Buttons", [])}
        if "✅ Погоджуюсь" in labels:
            continue
        assert labels & WAYS_HOME, (message.get("text"), labels)


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _forged_audits(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        query = select(func.count()).where(AuditEntry.action == "resident.forged_action")
        return int(await session.scalar(query) or 0)


@pytest.mark.parametrize("world_name", WORLD_NAMES)
async def test_my_tickets_and_a_ticket_lead_to_the_main_menu(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world, world.restart():
        r = world.resident
        await onboard(r)
        await file_feedback(r)
        await r.press("📂 Мої звернення")
        assert "Ваші звернення" in r.last_text()
        number = next(label for label in r.labels() if label.startswith("ВД-"))
        await r.press(number)
        assert "⬅️ До списку" in r.labels()
        if world_name == "viber":
            # Viber shows only this keyboard: it must offer the way home itself.
            assert HOME in r.labels()
            await r.press(HOME)
        else:
            # Telegram keeps the main menu under the chat (the persistent reply keyboard).
            assert "⚙️ Налаштування" in r.labels()
            await r.press("📂 Мої звернення")
            assert "Ваші звернення" in r.last_text()
            await r.command("menu")
        assert MENU_PROMPT in r.last_text()
        assert "✍️ Звернутися" in r.labels()
        assert_viber_keyboards_lead_home(r)


@pytest.mark.parametrize("world_name", WORLD_NAMES)
async def test_help_lists_everything_with_buttons(world_name: str, database_url: str) -> None:
    async with WORLDS[world_name](database_url) as world, world.restart():
        r = world.resident
        await onboard(r)
        await r.press("❓ Допомога")
        text = r.last_text()
        assert "Що вміє цей бот" in text
        for label in (
            "📂 Мої звернення",
            "🗂 Мої дані",
            "🗑 Видалити мої дані",
            "🔗 Telegram і Viber",
            HOME,
        ):
            assert label in r.labels(), (label, r.labels())
        if world_name == "viber":
            assert not SLASH_COMMAND.search(text), text
        else:
            for command in ("/mytickets", "/mydata", "/forget", "/link", "/settings", "/appeal"):
                assert command in text, command
        await r.command("help")
        assert "Що вміє цей бот" in r.last_text() and "🗂 Мої дані" in r.labels()
        await r.command("nonsense")
        assert "Такої команди немає" in r.last_text() and "Що вміє цей бот" in r.last_text()

        # The personal-data buttons do what /mydata and /forget do.
        await r.press("🗂 Мої дані")
        summary = next(t for t in reversed(r.texts()) if "Що ми зберігаємо" in t)
        messenger = "Viber" if world_name == "viber" else "Telegram"
        assert f"Месенджер: {messenger}\n" in summary
        assert "Месенджер: viber" not in summary and "Месенджер: telegram" not in summary
        await r.press("❓ Допомога")
        await r.press("🗑 Видалити мої дані")
        assert "Видалити ваші персональні дані?" in r.last_text()
        await r.press("✖️ Скасувати")
        assert MENU_PROMPT in r.last_text() or "Скасовано" in r.last_text()
        assert_viber_keyboards_lead_home(r)


@pytest.mark.parametrize("world_name", WORLD_NAMES)
async def test_old_buttons_are_out_of_date_not_misunderstood(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await onboard(r)
            await file_feedback(r)
            assert await _count(sessionmaker, Ticket) == 1

            # The confirmation of a ticket already sent: nothing is sent twice.
            await press_old(r, act.FORM_SUBMIT, message_text="Перевірте, будь ласка")
            assert STALE in r.last_text() and NOT_UNDERSTOOD not in r.last_text()
            assert "✍️ Звернутися" in r.labels()
            assert await _count(sessionmaker, Ticket) == 1

            # A step of the form the resident has left, and a kind button of an earlier
            # message while a new form is open: the draft stays where it was.
            await r.command("feedback")
            await r.press("Інше")
            await press_old(r, act.with_arg(act.CHOOSE, "housing"), message_text="Оберіть тему")
            assert STALE in r.last_text() and "Напишіть ваш відгук" in r.last_text()
            await press_old(r, act.with_arg(act.FILE, "appeal"))
            assert STALE in r.last_text() and "Напишіть ваш відгук" in r.last_text()
            await r.say("Дуже темно ввечері біля зупинки на вул. Соборності")
            assert "Додайте фото" in r.last_text()
            await r.press("✖️ Скасувати")

            # "Yes, erase" of a confirmation the resident cancelled erases nothing.
            await r.command("forget")
            await r.press("✖️ Скасувати")
            await press_old(r, act.FORGET_YES, message_text="Видалити ваші персональні дані?")
            assert STALE in r.last_text()
            row = await find_resident(sessionmaker, r.channel, r.external_id)
            assert row is not None and row.erased_at is None and row.has_consent

            # An old consent question, already answered: not recorded again.
            await press_old(r, act.CONSENT_YES, message_text="згода на обробку")
            assert STALE in r.last_text()
            async with sessionmaker() as session:
                consents = await session.scalar(
                    select(func.count()).where(AuditEntry.action == "consent.given")
                )
            assert consents == 1

            # Stale is not forged: nothing was audited as forged. An action we never made is.
            assert await _forged_audits(sessionmaker) == 0
            await press_old(r, "form:explode")
            assert "Цю дію не виконано" in r.last_text()
            assert await _forged_audits(sessionmaker) == 1
            assert_viber_keyboards_lead_home(r)


@pytest.mark.parametrize("world_name", WORLD_NAMES)
async def test_the_main_menu_is_one_press_away_during_onboarding(
    world_name: str, database_url: str
) -> None:
    async with WORLDS[world_name](database_url) as world:
        r = world.resident
        async with world.restart() as sessionmaker:
            await r.start()
            # Before the consent question is answered there is no menu to go to.
            assert HOME not in r.labels()
            await r.press("✅ Погоджуюсь")
            await r.press("Українська")
            assert HOME in r.labels()
            await r.press(HOME)
            # The onboarding is finished with the choices made so far.
            assert "Готово!" in r.last_text() and "✍️ Звернутися" in r.labels()
            row = await find_resident(sessionmaker, r.channel, r.external_id)
            assert row is not None and row.onboarded_at is not None and row.has_consent
            assert_viber_keyboards_lead_home(r)
