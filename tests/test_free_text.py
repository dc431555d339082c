"""Free text outside a flow is kept and led somewhere useful (issue 13, section 1): the resident
chooses to send it as feedback, an appeal or an information request (the suggested category
preselected), or not at all; greetings and thanks get a kind answer. Telegram and Viber, on
SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Runtime
from handlers.tickets.smalltalk import SmallTalk, classify
from storage.models import ConversationState, Ticket, TicketMessage
from tests.harness import WORLDS, Resident_, find_resident, onboard, running_bot

pytestmark = pytest.mark.migrated_database

CHANNELS = ["viber", "telegram-webhook"]
LIGHTS = "Доброго дня! У нас на вул. Металургів, 5 третій день не світять ліхтарі."
KEPT = "Я зберіг ваше повідомлення"
AS_FEEDBACK = "💬 Як відгук або питання"
AS_APPEAL = "📝 Як офіційне звернення"
AS_INFO = "📄 Як запит на публічну інформацію"


class LampSuggester:
    """A deterministic stand-in for the classifier: street lights are "improvement"."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def rank(self, session: AsyncSession, text: str) -> list[str]:  # noqa: ARG002 (protocol)
        self.asked.append(text)
        if "ліхтар" in text.casefold():
            return ["improvement", "housing", "no-such-category"]
        return []


@contextlib.asynccontextmanager
async def _bot(
    world_name: str, database_url: str, suggester: LampSuggester | None = None
) -> AsyncIterator[tuple[Resident_, Runtime, LampSuggester]]:
    suggester = suggester or LampSuggester()
    async with (
        WORLDS[world_name](database_url, tickets_per_hour=10) as world,
        running_bot(world.settings, suggester=suggester) as runtime,
    ):
        yield world.resident, runtime, suggester


async def _tickets(sessionmaker: async_sessionmaker[AsyncSession]) -> list[Ticket]:
    async with sessionmaker() as session:
        return list((await session.scalars(select(Ticket).order_by(Ticket.id))).all())


async def _thread(
    sessionmaker: async_sessionmaker[AsyncSession], ticket_id: int
) -> list[TicketMessage]:
    async with sessionmaker() as session:
        query = select(TicketMessage).where(TicketMessage.ticket_id == ticket_id)
        return list((await session.scalars(query.order_by(TicketMessage.id))).all())


async def _state(runtime: Runtime, r: Resident_) -> ConversationState | None:
    resident = await find_resident(runtime.sessionmaker, r.channel, r.external_id)
    assert resident is not None
    async with runtime.sessionmaker() as session:
        return await session.get(ConversationState, resident.id)


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_street_lights_become_feedback_with_the_chosen_category(
    world_name: str, database_url: str
) -> None:
    async with _bot(world_name, database_url) as (r, runtime, suggester):
        await onboard(r)
        await r.say(LIGHTS)
        choice = r.last_text()
        assert KEPT in choice and LIGHTS in choice
        # The suggested category is preselected (an unknown code from the suggester is ignored).
        assert "Категорія: 🌳 Благоустрій" in choice
        assert suggester.asked == [LIGHTS]
        assert {AS_FEEDBACK, AS_APPEAL, AS_INFO, "🗑 Не надсилати"} <= set(r.labels())

        # The category can be changed; the suggested ones come first.
        await r.press("🏷 Змінити категорію")
        assert "Оберіть категорію" in r.last_text()
        assert r.labels()[:2] == ["✅ 🌳 Благоустрій", "🏠 Житло та комунальні послуги"]
        await r.press("🚌 Транспорт і дороги")
        assert "Категорія: 🚌 Транспорт і дороги" in r.last_text()

        shown = len(r.texts())
        await r.press(AS_FEEDBACK)
        # The category and the text are answered already: the flow asks for files next.
        asked = "\n".join(r.texts()[shown:])
        assert "Опишіть суть питання" not in asked and "Оберіть тему" not in asked
        assert "Додайте фото" in r.last_text()
        await r.press("Далі ➡️")
        assert "анонімно" in r.last_text()
        await r.press("Ні")
        assert "Перевірте" in r.last_text() and LIGHTS in r.last_text()
        await r.press("✅ Надіслати")
        assert "Зареєстровано" in r.last_text()

        (ticket,) = await _tickets(runtime.sessionmaker)
        assert ticket.kind == "feedback" and ticket.body == LIGHTS
        assert ticket.category == "roads_transport" and ticket.queue_code == "transport"
        # What the bot suggested is kept to measure the suggester (citybot keywords report).
        assert ticket.suggested_category == "improvement"
        assert ticket.anonymous is False
        assert await _state(runtime, r) is None


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_the_keyword_lists_suggest_the_category(world_name: str, database_url: str) -> None:
    """The bot as built for ``citybot run``: the administrators' keyword lists rank the text."""
    async with (
        WORLDS[world_name](database_url, tickets_per_hour=10) as world,
        running_bot(world.settings) as runtime,
    ):
        r = world.resident
        await onboard(r)
        await r.say(LIGHTS)
        assert "Категорія: 🌳 Благоустрій" in r.last_text()
        await r.press(AS_FEEDBACK)
        await r.press("Далі ➡️")
        await r.press("Ні")
        await r.press("✅ Надіслати")
        (ticket,) = await _tickets(runtime.sessionmaker)
        assert (ticket.category, ticket.suggested_category) == ("improvement", "improvement")


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_three_messages_in_a_row_make_one_draft(world_name: str, database_url: str) -> None:
    async with _bot(world_name, database_url) as (r, runtime, _suggester):
        await onboard(r)
        await r.say("Біля школи №12 розбита лавка")
        assert "Категорія: ще не вибрано" in r.last_text()
        await r.photo()
        assert "Додано до чернетки (файлів: 1)" in r.last_text()
        await r.say("І сміття не вивозять другий тиждень")
        assert "Додано до чернетки (файлів: 1)" in r.last_text()
        assert "розбита лавка\nІ сміття" in r.last_text()

        await r.press(AS_FEEDBACK)
        # No category was suggested: the form asks it, then nothing else it already has.
        assert "Оберіть тему" in r.last_text()
        await r.press("🌳 Благоустрій")
        assert "анонімно" in r.last_text()
        await r.press("Так")
        await r.press("✅ Надіслати")

        (ticket,) = await _tickets(runtime.sessionmaker)
        assert ticket.body == "Біля школи №12 розбита лавка\nІ сміття не вивозять другий тиждень"
        assert ticket.category == "improvement" and ticket.anonymous is True
        files = [m.attachment_kind for m in await _thread(runtime.sessionmaker, ticket.id)]
        assert files == ["photo"]


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_an_appeal_from_free_text_asks_only_what_is_missing(
    world_name: str, database_url: str
) -> None:
    async with _bot(world_name, database_url) as (r, runtime, _suggester):
        # Without consent: an appeal needs it first, and the draft waits meanwhile.
        await onboard(r, consent=False)
        await r.say(LIGHTS)
        await r.press(AS_APPEAL)
        assert "згод" in r.last_text()
        await r.press("✅ Погоджуюсь")
        shown = len(r.texts())
        await r.press("Скарга")
        await r.say("Петренко Оксана Іванівна")
        await r.say("Кривий Ріг, вул. Металургів, 5")
        # Category and substance were answered by the free text; files are still offered.
        assert "Додайте фото" in r.last_text()
        await r.press("Далі ➡️")
        await r.say("oksana@example.com")
        asked = "\n".join(r.texts()[shown:])
        assert "Оберіть тему" not in asked and "Опишіть суть" not in asked
        await r.press("✅ Надіслати")

        # A text too short for an appeal is asked for again, with the reason.
        await r.say("Яма тут")
        await r.press(AS_APPEAL)
        assert "Закоротко: потрібно щонайменше 10 символів" in "\n".join(r.texts()[-3:])
        await r.press("Пропозиція (зауваження)")
        await r.press("🏠 Житло та комунальні послуги")
        await r.say("Петренко Оксана Іванівна")
        await r.say("Кривий Ріг, вул. Металургів, 5")
        assert "Опишіть суть" in r.last_text()

        appeal = (await _tickets(runtime.sessionmaker))[0]
        assert appeal.kind == "appeal" and appeal.body == LIGHTS
        assert appeal.category == "improvement" and appeal.appeal_type == "complaint"
        assert appeal.full_name == "Петренко Оксана Іванівна"


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_an_information_request_from_free_text_is_not_asked_a_category(
    world_name: str, database_url: str
) -> None:
    async with _bot(world_name, database_url) as (r, runtime, _suggester):
        await onboard(r)
        await r.say("Скільки коштувала заміна ліхтарів на Металургів у 2025 році?")
        shown = len(r.texts())
        await r.press(AS_INFO)
        await r.say("Петренко Оксана")
        await r.say("oksana@example.com")
        assert "терміново" in r.last_text().casefold() or "48" in r.last_text()
        await r.press("Ні")
        asked = "\n".join(r.texts()[shown:])
        assert "Оберіть тему" not in asked and "Опишіть" not in asked
        await r.press("✅ Надіслати")
        (ticket,) = await _tickets(runtime.sessionmaker)
        assert ticket.kind == "info_request"
        assert ticket.body == "Скільки коштувала заміна ліхтарів на Металургів у 2025 році?"


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_a_draft_can_be_discarded_and_small_talk_gets_a_kind_answer(
    world_name: str, database_url: str
) -> None:
    async with _bot(world_name, database_url) as (r, runtime, suggester):
        await onboard(r)
        answers = {
            "Доброго дня": "Вітаю!",
            "Привіт": "Вітаю!",
            "Добрий вечір": "Вітаю!",
            "Дякую!": "Будь ласка!",
            "дякую вам": "Будь ласка!",
            "👍": "Якщо потрібна допомога",
            "🙏": "Якщо потрібна допомога",
        }
        for said, expected in answers.items():
            await r.say(said)
            assert expected in r.last_text(), said
            assert KEPT not in r.last_text()
            assert await _state(runtime, r) is None, said
        assert suggester.asked == []

        await r.say("Не працює світлофор на перехресті біля ринку")
        assert KEPT in r.last_text()
        # Small talk while a draft waits: answered, the draft stays as it was.
        await r.say("Дякую")
        assert "Будь ласка!" in r.last_text() and KEPT in r.last_text()
        await r.press("🗑 Не надсилати")
        assert "не надсилаю" in r.last_text()
        assert await _state(runtime, r) is None
        assert await _tickets(runtime.sessionmaker) == []
        # Its buttons do nothing any more.
        if r.channel == "telegram":
            await r.press(AS_FEEDBACK)
            assert "вже надіслана або видалена" in r.last_text()
            assert await _tickets(runtime.sessionmaker) == []


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_limits_of_a_draft_are_said_and_nothing_is_lost(
    world_name: str, database_url: str
) -> None:
    async with _bot(world_name, database_url) as (r, runtime, _suggester):
        await onboard(r)
        await r.say("Фото ям на дорозі біля зупинки")
        for _ in range(10):
            await r.photo()
        assert "файлів: 10" in r.last_text()
        await r.photo()
        assert "не більше 10 файлів" in r.last_text()
        await r.say("я" * 3990)
        assert "не додано" in r.last_text() and "4000" in r.last_text()
        state = await _state(runtime, r)
        assert state is not None and state.flow == "draft"
        assert state.data["text"] == "Фото ям на дорозі біля зупинки"
        assert len(state.data["attachments"]) == 10


@pytest.mark.parametrize("world_name", CHANNELS)
async def test_a_draft_survives_a_restart(world_name: str, database_url: str) -> None:
    suggester = LampSuggester()
    async with WORLDS[world_name](database_url, tickets_per_hour=10) as world:
        r = world.resident
        async with running_bot(world.settings, suggester=suggester) as runtime:
            await onboard(r)
            await r.say("Не світять ліхтарі біля будинку")
            await r.location(47.91, 33.39)
            assert "файлів: 1" in r.last_text()
        async with running_bot(world.settings, suggester=suggester) as runtime:
            await r.say("Темно вже тиждень")
            assert "файлів: 1" in r.last_text()
            assert "Категорія: 🌳 Благоустрій" in r.last_text()
            await r.press(AS_FEEDBACK)
            await r.press("Ні")
            await r.press("✅ Надіслати")
            (ticket,) = await _tickets(runtime.sessionmaker)
            assert ticket.body == "Не світять ліхтарі біля будинку\nТемно вже тиждень"
            thread = await _thread(runtime.sessionmaker, ticket.id)
            assert [(m.attachment_kind, m.attachment_ref) for m in thread] == [
                ("location", "47.91,33.39")
            ]


def test_small_talk_is_only_greetings_thanks_and_emoji() -> None:
    assert classify("Доброго дня") is SmallTalk.GREETING
    assert classify("Добрий вечір!") is SmallTalk.GREETING
    assert classify("Привіт, дякую!") is SmallTalk.THANKS
    assert classify("Дуже дякую 🙏") is SmallTalk.THANKS
    assert classify("👍") is SmallTalk.EMOJI
    assert classify("🙏🙏") is SmallTalk.EMOJI
    # A greeting with a problem is a problem.
    assert classify(LIGHTS) is None
    assert classify("Привіт, не працює ліфт") is None
    assert classify("Доброго дня, 5") is None
    assert classify("...") is None
    assert classify("") is None
