"""``citybot sandbox --seed``: a demo world in the database, so the sandbox has something to show.

Residents on both messengers across the seven districts, staff of every role, open tickets of
every kind at different points of their legal terms (some overdue), a few closed and rated ones,
past news delivered to their audience, and an open poll with votes.

Everything goes through the same repository functions the bot itself uses (registration numbers,
deadlines, ticket transitions, broadcast planning, the delivery queue, votes), with "now" moved
into the past where the thing happened in the past. Nothing is sent anywhere: tickets are left
without a card, so the bot's catch-up job posts them to the staff chat once the sandbox runs.

Deterministic for a given ``rng_seed`` and ``now``; one transaction, so a seed is all or nothing,
and a second seed of the same database is refused (the audit entry ``sandbox.seed`` marks it).
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.polls import poll_buttons_json, poll_text
from messaging.i18n import Catalog
from storage import audit, polls, ticket_events, tickets
from storage.broadcasts import (
    DeliveryState,
    Outcome,
    claim_due,
    create_broadcast,
    finish_done,
    record_outcomes,
)
from storage.calendar import WorkCalendar
from storage.calendar_store import load_calendar
from storage.deadlines import TicketKind, initial_deadline
from storage.models import AuditEntry, Delivery, Poll, Resident, ResidentTopic, Ticket
from storage.planning import plan_broadcast
from storage.staff import upsert_staff
from storage.ticket_events import Happened
from storage.ticket_rules import answer_resolution, close, closure_round, rate, record_answer, take
from storage.vocabulary import (
    POLICY_VERSION,
    Channel,
    Digest,
    District,
    MessageDirection,
    Role,
    TicketStatus,
    Topic,
)

SEED_ACTION = "sandbox.seed"
SEED_ACTOR = "sandbox"
TELEGRAM_RESIDENT_BASE = 700_000_001
STAFF_BASE = 900_000_001
TELEGRAM_SHARE = 0.6

# The staff of the demo council: (name, role), in id order from STAFF_BASE.
STAFF: tuple[tuple[str, Role], ...] = (
    ("Ірина Коваленко", Role.ADMIN),
    ("Олег Мельник", Role.EDITOR),
    ("Наталія Бондар", Role.EDITOR),
    ("Андрій Шевчук", Role.OPERATOR),
    ("Світлана Ткаченко", Role.OPERATOR),
    ("Максим Кравчук", Role.OPERATOR),
)

_MALE_FIRST = (
    "Олександр",
    "Андрій",
    "Сергій",
    "Володимир",
    "Дмитро",
    "Максим",
    "Іван",
    "Олег",
    "Юрій",
    "Віктор",
    "Богдан",
    "Тарас",
    "Михайло",
    "Артем",
    "Василь",
    "Роман",
)
_FEMALE_FIRST = (
    "Олена",
    "Наталія",
    "Ірина",
    "Оксана",
    "Тетяна",
    "Світлана",
    "Юлія",
    "Марія",
    "Галина",
    "Людмила",
    "Катерина",
    "Анна",
    "Вікторія",
    "Ольга",
    "Софія",
    "Надія",
)
# Surnames that do not change with gender.
_LAST = (
    "Коваленко",
    "Бондаренко",
    "Ткаченко",
    "Шевченко",
    "Кравченко",
    "Олійник",
    "Мельник",
    "Бойко",
    "Ковальчук",
    "Савченко",
    "Руденко",
    "Марченко",
    "Лисенко",
    "Мороз",
    "Петренко",
    "Гончаренко",
    "Кравчук",
    "Поліщук",
    "Литвиненко",
    "Данилюк",
    "Павленко",
    "Гнатюк",
    "Сидоренко",
    "Левченко",
)
_FATHERS = (
    ("Олександрович", "Олександрівна"),
    ("Іванович", "Іванівна"),
    ("Петрович", "Петрівна"),
    ("Васильович", "Василівна"),
    ("Миколайович", "Миколаївна"),
    ("Сергійович", "Сергіївна"),
    ("Володимирович", "Володимирівна"),
    ("Анатолійович", "Анатоліївна"),
)
_STREETS = (
    "вул. Соборності",
    "просп. Металургів",
    "просп. Миру",
    "вул. Володимира Великого",
    "вул. Героїв АТО",
    "просп. Поштовий",
    "вул. Кобилянського",
    "просп. Південний",
    "вул. Українська",
    "вул. Шевченка",
    "вул. Лесі Українки",
    "вул. Січеславська",
)
_MOBILE_CODES = ("067", "097", "050", "066", "063", "093", "068", "098", "073")

# Rough shares of the city's population; the rest of the residents chose "the whole city".
_DISTRICT_WEIGHTS: tuple[tuple[District, int], ...] = (
    (District.DOVHYNTSIVSKYI, 12),
    (District.INHULETSKYI, 7),
    (District.METALURHIINYI, 17),
    (District.POKROVSKYI, 15),
    (District.SAKSAHANSKYI, 22),
    (District.TERNIVSKYI, 11),
    (District.TSENTRALNO_MISKYI, 16),
)
CITY_DISTRICTS = tuple(district for district, _ in _DISTRICT_WEIGHTS)
_WHOLE_CITY_SHARE = 0.04
_TOPIC_SHARES: tuple[tuple[Topic, float], ...] = (
    (Topic.CITY_NEWS, 0.85),
    (Topic.OUTAGES, 0.7),
    (Topic.DECISIONS, 0.4),
    (Topic.EVENTS, 0.5),
)
_ENGLISH_SHARE = 0.07
# Most residents get news at once; some chose a digest (ordinary news waits for it).
_DIGEST_SHARES: tuple[tuple[Digest, float], ...] = (
    (Digest.INSTANT, 0.85),
    (Digest.DAILY, 0.10),
    (Digest.WEEKLY, 0.05),
)


@dataclass(frozen=True)
class SeedIds:
    """The ids the sandbox registers in its fake messengers."""

    telegram_residents: list[tuple[int, str]]  # (telegram user id, display name)
    viber_residents: list[tuple[str, str]]  # (viber user id, display name)
    staff: list[tuple[int, str, str]]  # (telegram user id, display name, role value)


@dataclass(frozen=True, slots=True)
class _Person:
    first: str
    last: str
    patronymic: str

    @property
    def full_name(self) -> str:
        """ПІБ, as an appeal or an information request asks for it."""
        return f"{self.last} {self.first} {self.patronymic}"


@dataclass(frozen=True, slots=True)
class _TicketSpec:
    kind: TicketKind
    # Where the deadline falls, in local days from today (negative: overdue by that much).
    due_in: int
    # new | taken | answered | closed
    stage: str
    body: str
    category: str | None = None
    appeal_type: str | None = None
    urgent_reason: str | None = None
    anonymous: bool = False
    answer: str | None = None
    followup: str | None = None
    rating: int | None = None
    rating_comment: str | None = None


_F, _A, _I, _L = (
    TicketKind.FEEDBACK,
    TicketKind.APPEAL,
    TicketKind.INFO_REQUEST,
    TicketKind.LEGAL_AID,
)

TICKETS: tuple[_TicketSpec, ...] = (
    # -- feedback (a service target of 10 calendar days) --
    _TicketSpec(
        _F,
        -5,
        "new",
        "Вже тиждень не працює вуличне освітлення біля зупинки «Площа Праці». Увечері йти "
        "додому дуже темно, особливо дітям після гуртків.",
        category="improvement",
        followup="Досі не світить, сьогодні ввечері перевіряла.",
    ),
    _TicketSpec(
        _F,
        0,
        "taken",
        "Маршрутка №224 ввечері після 19:00 ходить раз на годину, а за розкладом — кожні 20 "
        "хвилин. Люди стоять на зупинці й не можуть доїхати з роботи.",
        category="roads_transport",
    ),
    _TicketSpec(
        _F,
        1,
        "new",
        "У під'їзді нашого будинку другий місяць не працює ліфт, у будинку живуть літні люди.",
        category="housing",
    ),
    _TicketSpec(
        _F,
        4,
        "answered",
        "Пропоную встановити лавки й урни вздовж нової велодоріжки на просп. Металургів.",
        category="improvement",
        answer="Дякуємо за пропозицію! Її передано до департаменту благоустрою, лавки "
        "заплановано встановити до кінця місяця.",
    ),
    _TicketSpec(
        _F,
        7,
        "new",
        "Хочу подякувати працівникам центру надання адміністративних послуг на Соборності — "
        "все зробили швидко й ввічливо.",
        category="social",
        anonymous=True,
    ),
    _TicketSpec(
        _F,
        -2,
        "taken",
        "На сайті міської ради не відкривається розділ із рішеннями виконкому за цей місяць.",
        category="council_work",
    ),
    _TicketSpec(
        _F,
        9,
        "new",
        "Біля школи №95 немає пішохідного переходу, діти перебігають дорогу просто між машинами.",
        category="other",
    ),
    _TicketSpec(
        _F,
        -8,
        "closed",
        "Після ремонту дороги на вул. Українській залишилися купи щебеню на тротуарі.",
        category="roads_transport",
        answer="Підрядника зобов'язано прибрати залишки матеріалів, роботи виконано.",
        rating=5,
        rating_comment="Дякую, прибрали за два дні!",
    ),
    _TicketSpec(
        _F,
        -12,
        "closed",
        "У сквері біля бібліотеки зламана гойдалка, діти можуть травмуватися.",
        category="improvement",
        answer="Гойдалку демонтовано, нову встановлять під час планового оновлення майданчика.",
        rating=4,
    ),
    # -- appeals (Law 393/96-ВР: one month) --
    _TicketSpec(
        _A,
        -4,
        "taken",
        "Скаржуся на управляючу компанію: з жовтня в квартирі +14 °C, на заявки в аварійну "
        "службу ніхто не реагує. Прошу перевірити якість надання послуги з опалення.",
        category="housing",
        appeal_type="complaint",
    ),
    _TicketSpec(
        _A,
        0,
        "new",
        "Прошу розглянути можливість облаштування дитячого майданчика у дворі будинків "
        "№12–16 на вул. Кобилянського. Мешканці готові долучитися до прибирання території.",
        category="improvement",
        appeal_type="application",
    ),
    _TicketSpec(
        _A,
        1,
        "answered",
        "Пропоную продовжити тролейбусний маршрут №16 до нового мікрорайону, де вже живе понад "
        "три тисячі людей, а громадського транспорту немає.",
        category="roads_transport",
        appeal_type="proposal",
        answer="Вашу пропозицію розглянуто на засіданні транспортної комісії; питання включено "
        "до плану оптимізації маршрутної мережі.",
    ),
    _TicketSpec(
        _A,
        12,
        "new",
        "Прошу надати інформацію, чи можу я як внутрішньо переміщена особа отримати компенсацію "
        "за оренду житла, та допомогти з оформленням.",
        category="social",
        appeal_type="application",
        followup="Додаю: я зареєстрована в Криворізькому районі з березня 2022 року.",
    ),
    _TicketSpec(
        _A,
        21,
        "taken",
        "Скарга на незаконне вирубування дерев у дворі будинку на просп. Миру. Роботи ведуться "
        "без будь-яких документів, мешканців ніхто не попередив.",
        category="housing",
        appeal_type="complaint",
    ),
    _TicketSpec(
        _A,
        27,
        "new",
        "Пропоную запровадити щомісячні онлайн-зустрічі депутатів міської ради з мешканцями "
        "районів з трансляцією на сайті ради.",
        category="council_work",
        appeal_type="proposal",
    ),
    _TicketSpec(
        _A,
        3,
        "new",
        "Прошу роз'яснити порядок отримання дозволу на встановлення пандуса до першого поверху "
        "житлового будинку для людини з інвалідністю.",
        category="other",
        appeal_type="application",
    ),
    _TicketSpec(
        _A,
        -15,
        "closed",
        "Скаржуся, що після ремонту покрівлі в нашому будинку знову протікає дах над п'ятим "
        "поверхом.",
        category="improvement",
        appeal_type="complaint",
        answer="Підрядника зобов'язано усунути недоліки в межах гарантійних зобов'язань; "
        "роботи виконано, акт підписано мешканцями.",
        rating=3,
        rating_comment="Дах полагодили, але довго.",
    ),
    # -- requests for public information (Law 2939-VI: 5 working days, 48 hours if urgent) --
    _TicketSpec(
        _I,
        -6,
        "new",
        "Прошу надати копію договору на ремонт дороги по вул. Героїв АТО, укладеного у 2025 "
        "році, з кошторисом і актами виконаних робіт.",
    ),
    _TicketSpec(
        _I,
        -1,
        "taken",
        "Прошу надати інформацію про кількість укриттів у закладах освіти Покровського району "
        "та їхню місткість.",
    ),
    _TicketSpec(
        _I,
        0,
        "new",
        "Прошу надати перелік об'єктів, відремонтованих за програмою «Громадський бюджет» "
        "цього року, із сумами витрат.",
    ),
    _TicketSpec(
        _I,
        1,
        "taken",
        "Прошу надати результати останніх вимірювань якості атмосферного повітря біля "
        "житлових кварталів Металургійного району.",
        urgent_reason="Після вчорашнього викиду на підприємстві в повітрі сильний запах, "
        "у будинку маленькі діти — потрібно знати, чи безпечно виходити на вулицю.",
    ),
    _TicketSpec(
        _I,
        2,
        "answered",
        "Прошу надати копію рішення виконкому про встановлення тарифів на вивезення побутових "
        "відходів.",
        answer="Надсилаємо посилання на рішення виконкому з тарифами; копію також направлено "
        "на вказану адресу.",
    ),
    _TicketSpec(
        _I,
        4,
        "new",
        "Скільки коштів витрачено з міського бюджету на утримання парків у минулому році, "
        "з розподілом за районами?",
    ),
    _TicketSpec(
        _I,
        -9,
        "closed",
        "Прошу надати графік роботи пунктів незламності в Інгулецькому районі.",
        answer="Графік роботи пунктів незламності додано до відповіді, його також оприлюднено "
        "на сайті міської ради.",
        rating=5,
    ),
    # -- free primary legal aid (our service target: 10 working days) --
    _TicketSpec(
        _L,
        -3,
        "new",
        "Роботодавець затримує заробітну плату вже три місяці. Куди звертатися і як скласти заяву?",
        category="labour",
    ),
    _TicketSpec(
        _L,
        0,
        "taken",
        "Потрібна консультація щодо стягнення аліментів: батько дитини живе в іншій області.",
        category="family",
    ),
    _TicketSpec(
        _L,
        1,
        "new",
        "Управляюча компанія нараховує борг за послуги, які не надавалися. Як оскаржити?",
        category="housing",
    ),
    _TicketSpec(
        _L,
        8,
        "answered",
        "Як оформити спадщину на квартиру, якщо заповіту немає, а пройшло вже більше шести "
        "місяців?",
        category="property",
        answer="Вам потрібно звернутися до суду із заявою про визначення додаткового строку для "
        "прийняття спадщини. Запрошуємо на консультацію в четвер о 10:00.",
    ),
    _TicketSpec(
        _L,
        12,
        "new",
        "Магазин відмовляється повернути гроші за несправний холодильник, куплений місяць тому.",
        category="consumer",
    ),
    _TicketSpec(
        _L,
        -10,
        "closed",
        "Допоможіть скласти заяву на призначення субсидії, бо мені відмовили через помилку "
        "в документах.",
        category="social",
        answer="Заяву складено разом із вами, її подано до управління праці та соцзахисту.",
        rating=4,
        rating_comment="Дуже допомогли, дякую юристці.",
    ),
)

# Past news: (days ago, local time, topics, districts, urgent, text).
NEWS: tuple[tuple[int, time, tuple[Topic, ...], tuple[District, ...], bool, str], ...] = (
    (
        13,
        time(11, 30),
        (Topic.DECISIONS,),
        (),
        False,
        "<b>Сесія міської ради ухвалила програму ремонту ліфтів</b>\n"
        "Цього року в житлових будинках міста замінять і відремонтують понад 120 ліфтів. "
        "Перелік будинків оприлюднено на сайті міської ради.",
    ),
    (
        9,
        time(15, 0),
        (Topic.EVENTS,),
        (),
        False,
        "<b>Благодійний ярмарок на підтримку захисників</b>\n"
        "У неділю з 10:00 у парку імені Богдана Хмельницького — ярмарок, концерт і майстер-класи "
        "для дітей. Усі кошти підуть на потреби військових частин, сформованих у Кривому Розі.",
    ),
    (
        6,
        time(10, 15),
        (Topic.OUTAGES,),
        (District.TERNIVSKYI, District.INHULETSKYI),
        False,
        "<b>Планове відключення водопостачання</b>\n"
        "У четвер з 09:00 до 17:00 у частині Тернівського та Інгулецького районів не буде води "
        "через заміну магістрального трубопроводу. Підвіз води організовано до шкіл №5 і №28.",
    ),
    (
        2,
        time(7, 40),
        (Topic.OUTAGES,),
        (District.METALURHIINYI, District.SAKSAHANSKYI),
        True,
        "<b>Аварійне відключення електроенергії</b>\n"
        "Через пошкодження мережі частина Металургійного та Саксаганського районів тимчасово "
        "без світла. Аварійні бригади працюють, орієнтовний час відновлення — 12:00. "
        "Пункти незламності відкрито.",
    ),
    (
        1,
        time(16, 45),
        (Topic.CITY_NEWS,),
        (),
        False,
        "<b>Оновлено карту укриттів міста</b>\n"
        "На сайті міської ради та в застосунку «Мій Кривий Ріг» оновлено карту укриттів: "
        "додано 34 нові адреси, позначено укриття з пандусами.",
    ),
)

POLL_QUESTION = "Які зміни в громадському транспорті для вас найважливіші?"
POLL_OPTIONS = (
    "Більше рейсів у години пік",
    "Нові маршрути до віддалених мікрорайонів",
    "Оновлені зупинки з укриттями",
    "Єдиний електронний квиток",
)
POLL_SENT_DAYS_AGO = 2
POLL_OPEN_DAYS = 7
POLL_VOTER_SHARE = 0.45

# How fast the demo broadcasts "went out": Telegram's bulk rate, Viber's broadcast batch.
_SEND_CHUNKS = {Channel.TELEGRAM.value: 30, Channel.VIBER.value: 300}


def viber_id(index: int) -> str:
    """A Viber-like user id (16 bytes, base64: 24 characters ending in ``==``)."""
    digest = hashlib.sha256(f"citybot-sandbox-viber-{index}".encode()).digest()
    return base64.b64encode(digest[:16]).decode("ascii")


async def is_seeded(session: AsyncSession) -> bool:
    """Whether this database already holds the demo world (or anything in its reserved ids)."""
    marker = exists().where(AuditEntry.action == SEED_ACTION)
    reserved = exists().where(
        Resident.channel == Channel.TELEGRAM.value,
        Resident.external_id == str(TELEGRAM_RESIDENT_BASE),
    )
    return bool(await session.scalar(select(marker | reserved)))


async def seed_demo_world(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    zone: ZoneInfo,
    residents: int = 300,
    rng_seed: int = 7,
) -> SeedIds | None:
    """Create the demo world in one transaction; None (and nothing changed) if it is there."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if residents < 2:
        raise ValueError("the demo world needs at least 2 residents (one per messenger)")
    now = now.astimezone(UTC)
    async with sessionmaker() as session, session.begin():
        if await is_seeded(session):
            return None
        world = _World(session, now=now, zone=zone, rng=random.Random(rng_seed))
        ids = await world.build(residents)
        audit.record(
            session,
            actor=SEED_ACTOR,
            action=SEED_ACTION,
            now=now,
            details={
                "residents": residents,
                "rng_seed": rng_seed,
                "tickets": len(TICKETS),
                "news": len(NEWS),
            },
        )
    return ids


class _World:
    def __init__(
        self, session: AsyncSession, *, now: datetime, zone: ZoneInfo, rng: random.Random
    ) -> None:
        self.session = session
        self.now = now
        self.zone = zone
        self.rng = rng
        self.today = now.astimezone(zone).date()

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def _before_now(self, moment: datetime, margin: timedelta = timedelta(minutes=5)) -> datetime:
        return min(moment, self.now - margin)

    async def build(self, count: int) -> SeedIds:
        staff = await self._staff()
        people, seeded = self._residents(count)
        self.session.add_all(seeded)
        await self.session.flush()
        operators = [sid for sid, _, role in staff if role == Role.OPERATOR.value]
        editors = [sid for sid, _, role in staff if role == Role.EDITOR.value]
        await self._tickets(seeded, people, operators)
        await self._news(editors)
        await self._poll(seeded, editors[0])
        telegram = [(int(r.external_id), r.name or "") for r in seeded if r.channel == "telegram"]
        viber = [(r.external_id, r.name or "") for r in seeded if r.channel == "viber"]
        return SeedIds(telegram_residents=telegram, viber_residents=viber, staff=staff)

    # -- people -----------------------------------------------------------------------------

    async def _staff(self) -> list[tuple[int, str, str]]:
        created = self.now - timedelta(days=400)
        found: list[tuple[int, str, str]] = []
        for offset, (name, role) in enumerate(STAFF):
            telegram_id = STAFF_BASE + offset
            # An id already in CITYBOT_ADMIN_IDS exists by now: then its role is changed.
            _, added = await upsert_staff(
                self.session, telegram_id=telegram_id, role=role, now=created, name=name
            )
            audit.record(
                self.session,
                actor=SEED_ACTOR,
                action="staff.added" if added else "staff.role_changed",
                now=created,
                subject=f"staff:{telegram_id}",
                details={"role": role.value},
            )
            found.append((telegram_id, name, role.value))
        return found

    def _person(self) -> _Person:
        rng = self.rng
        female = rng.random() < 0.55
        first = rng.choice(_FEMALE_FIRST if female else _MALE_FIRST)
        patronymic = rng.choice(_FATHERS)[1 if female else 0]
        return _Person(first=first, last=rng.choice(_LAST), patronymic=patronymic)

    def _display_name(self, person: _Person) -> str:
        style = self.rng.random()
        if style < 0.6:
            return f"{person.first} {person.last}"
        if style < 0.8:
            return person.first
        return f"{person.first} {person.last[0]}."

    def _residents(self, count: int) -> tuple[list[_Person], list[Resident]]:
        rng = self.rng
        telegram_count = min(count - 1, max(1, round(count * TELEGRAM_SHARE)))
        districts = [district for district, _ in _DISTRICT_WEIGHTS]
        weights = [weight for _, weight in _DISTRICT_WEIGHTS]
        people: list[_Person] = []
        seeded: list[Resident] = []
        for index in range(count):
            on_telegram = index < telegram_count
            channel_index = index if on_telegram else index - telegram_count
            if on_telegram:
                channel, external_id = Channel.TELEGRAM, str(TELEGRAM_RESIDENT_BASE + index)
            else:
                channel, external_id = Channel.VIBER, viber_id(channel_index)
            person = self._person()
            if channel_index < len(districts):
                # Every district on both messengers, whatever the draw.
                district = districts[channel_index].value
            elif rng.random() < _WHOLE_CITY_SHARE:
                district = District.WHOLE_CITY.value
            else:
                district = rng.choices(districts, weights)[0].value
            topics = [topic.value for topic, share in _TOPIC_SHARES if rng.random() < share]
            if not topics:
                topics = [Topic.CITY_NEWS.value]
            digest = rng.choices(
                [d.value for d, _ in _DIGEST_SHARES], [share for _, share in _DIGEST_SHARES]
            )[0]
            created = self.now - timedelta(days=rng.randint(50, 500), minutes=rng.randint(0, 1439))
            consent = created + timedelta(seconds=rng.randint(5, 60))
            seen = created + (self.now - created) * rng.uniform(0.5, 0.99)
            people.append(person)
            seeded.append(
                Resident(
                    channel=channel.value,
                    external_id=external_id,
                    name=self._display_name(person),
                    language="en" if rng.random() < _ENGLISH_SHARE else "uk",
                    consent_at=consent,
                    policy_version=POLICY_VERSION,
                    district=district,
                    digest=digest,
                    subscribed=True,
                    is_active=True,
                    onboarded_at=consent + timedelta(minutes=rng.randint(1, 5)),
                    created_at=created,
                    last_seen_at=seen,
                    topics=[ResidentTopic(topic=topic) for topic in topics],
                )
            )
        return people, seeded

    def _phone(self) -> str:
        return "+380" + self.rng.choice(_MOBILE_CODES)[1:] + f"{self.rng.randrange(10**7):07d}"

    def _address(self) -> str:
        street = self.rng.choice(_STREETS)
        house = self.rng.randint(1, 120)
        if self.rng.random() < 0.2:
            return f"{street}, {house}, м. Кривий Ріг"
        return f"{street}, {house}, кв. {self.rng.randint(1, 180)}, м. Кривий Ріг"

    # -- tickets ----------------------------------------------------------------------------

    def _filing(self, spec: _TicketSpec, calendar: WorkCalendar) -> tuple[datetime, datetime]:
        """When the ticket was received, so that its deadline (by the same rules the flows
        use) falls ``spec.due_in`` local days from today, or as near as the calendar allows."""
        at = time(self.rng.randint(8, 19), self.rng.randint(0, 59))
        best: tuple[int, int, datetime, datetime] | None = None
        for age in range(1, 60):
            received = self._local(self.today - timedelta(days=age), at)
            deadline = initial_deadline(
                spec.kind,
                received,
                calendar=calendar,
                zone=self.zone,
                urgent=spec.urgent_reason is not None,
            )
            due_in = (deadline.astimezone(self.zone).date() - self.today).days
            candidate = (abs(due_in - spec.due_in), age, received, deadline)
            if best is None or candidate[:2] < best[:2]:
                best = candidate
        assert best is not None
        return best[2], best[3]

    async def _queue(self, spec: _TicketSpec) -> str:
        return await tickets.queue_for_new_ticket(
            self.session, kind=spec.kind, category=spec.category
        )

    async def _tickets(
        self, seeded: Sequence[Resident], people: Sequence[_Person], operators: Sequence[int]
    ) -> None:
        calendar = await load_calendar(self.session)
        filings = [self._filing(spec, calendar) for spec in TICKETS]
        authors = self.rng.sample(range(len(seeded)), k=min(len(TICKETS), len(seeded)))
        planned = [
            (received, deadline, spec, authors[index % len(authors)])
            for index, (spec, (received, deadline)) in enumerate(zip(TICKETS, filings, strict=True))
        ]
        # Numbers are given in the order tickets were filed, as in the real flows.
        planned.sort(key=lambda item: item[0])
        for number, (received, deadline, spec, author) in enumerate(planned):
            operator = operators[number % len(operators)]
            await self._ticket(spec, seeded[author], people[author], received, deadline, operator)

    async def _ticket(
        self,
        spec: _TicketSpec,
        resident: Resident,
        person: _Person,
        received: datetime,
        deadline: datetime,
        operator: int,
    ) -> None:
        session = self.session
        kind = spec.kind
        year = received.astimezone(self.zone).year
        number = await tickets.next_number(session, kind=kind.value, year=year)
        queue_code = await self._queue(spec)
        formal = kind in (TicketKind.APPEAL, TicketKind.INFO_REQUEST)
        if kind is TicketKind.INFO_REQUEST:
            contact = self._phone() if self.rng.random() < 0.5 else self._address()
        elif kind is TicketKind.FEEDBACK:
            contact = None
        else:
            contact = self._phone()
        ticket = Ticket(
            number=number,
            kind=kind.value,
            status=TicketStatus.NEW.value,
            resident_id=resident.id,
            channel=resident.channel,
            queue_code=queue_code,
            category=spec.category,
            appeal_type=spec.appeal_type,
            appeal_term="standard" if kind is TicketKind.APPEAL else None,
            urgent=spec.urgent_reason is not None,
            urgent_reason=spec.urgent_reason,
            anonymous=spec.anonymous,
            full_name=None
            if spec.anonymous
            else (person.full_name if formal else resident.name or person.full_name),
            address=self._address() if kind is TicketKind.APPEAL else None,
            contact=contact,
            body=spec.body,
            received_at=received,
            deadline_at=deadline,
            created_at=received,
            updated_at=received,
        )
        session.add(ticket)
        await session.flush()
        self._audit(
            f"resident:{resident.id}",
            "ticket.filed",
            ticket,
            received,
            number=number,
            kind=kind.value,
            queue=queue_code,
        )
        if spec.followup is not None:
            later = self._before_now(received + timedelta(hours=self.rng.randint(3, 30)))
            tickets.add_message(
                session, ticket, direction=MessageDirection.RESIDENT, now=later, text=spec.followup
            )
        if spec.stage == "new":
            return
        actor = f"staff:{operator}"
        taken_at = self._before_now(received + timedelta(hours=self.rng.randint(1, 20)))
        take(ticket, staff_id=operator, now=taken_at)
        self._audit(actor, "ticket.take", ticket, taken_at)
        # The steps "my tickets" shows as the ticket's timeline.
        ticket_events.record(session, ticket, Happened.TAKEN, now=taken_at, staff_id=operator)
        if spec.stage == "taken":
            return
        answered_at = self._before_now(taken_at + timedelta(hours=self.rng.randint(2, 30)))
        message = tickets.add_message(
            session,
            ticket,
            direction=MessageDirection.STAFF,
            now=answered_at,
            text=spec.answer,
            author_id=operator,
        )
        await session.flush()
        record_answer(ticket, staff_id=operator, now=answered_at)
        self._audit(actor, "ticket.answer", ticket, answered_at, message=message.id)
        ticket_events.record(session, ticket, Happened.ANSWERED, now=answered_at, staff_id=operator)
        if spec.stage == "answered":
            return
        closed_at = self._before_now(answered_at + timedelta(hours=self.rng.randint(1, 48)))
        close(ticket, now=closed_at)
        self._audit(actor, "ticket.close", ticket, closed_at)
        ticket_events.record(session, ticket, Happened.CLOSED, now=closed_at, staff_id=operator)
        if spec.rating is None:
            return
        rated_at = self._before_now(
            closed_at + timedelta(hours=self.rng.randint(1, 24)), margin=timedelta(0)
        )
        # A rating follows the resident's "yes, resolved" (handlers.tickets.closure).
        round_ = closure_round(ticket)
        assert round_ is not None
        answer_resolution(ticket, resolved=True, round_=round_, now=rated_at)
        ticket_events.record(session, ticket, Happened.RESOLVED, now=rated_at)
        rate(ticket, stars=spec.rating, now=rated_at)
        ticket.rating_comment = spec.rating_comment
        audit.record(
            session,
            actor=f"resident:{resident.id}",
            action="ticket.rated",
            subject=f"ticket:{ticket.id}",
            now=rated_at,
            details={"stars": spec.rating},
        )

    def _audit(
        self, actor: str, action: str, ticket: Ticket, at: datetime, **details: object
    ) -> None:
        audit.record(
            self.session,
            actor=actor,
            action=action,
            now=at,
            subject=f"ticket:{ticket.id}",
            details={"number": ticket.number, **details},
        )

    # -- broadcasts -------------------------------------------------------------------------

    async def _deliver_all(self, broadcast_id: int, started: datetime) -> datetime:
        """Mark every delivery of a just-planned broadcast sent, through the engine's own claim
        and outcome statements, at the pace the real senders keep. Returns when it finished."""
        finished = started
        for channel, chunk in _SEND_CHUNKS.items():
            claimed = await claim_due(
                self.session,
                channel=channel,
                limit=1_000_000,
                now=started,
                lease=timedelta(minutes=5),
            )
            mine = [item for item in claimed if item.broadcast_id == broadcast_id]
            # Anything of another live broadcast goes back to the queue untouched.
            others = [
                Outcome(delivery_id=item.id, state=DeliveryState.PENDING, retry_at=item.lease_until)
                for item in claimed
                if item.broadcast_id != broadcast_id
            ]
            await record_outcomes(self.session, outcomes=others, now=started)
            for offset in range(0, len(mine), chunk):
                sent_at = started + timedelta(seconds=1 + offset // chunk)
                token = str(self.rng.randrange(10**18, 9 * 10**18))
                outcomes = [
                    Outcome(
                        delivery_id=item.id,
                        state=DeliveryState.SENT,
                        resident_id=item.resident_id,
                        message_id=token
                        if channel == Channel.VIBER.value
                        else str(self.rng.randint(2, 900)),
                    )
                    for item in mine[offset : offset + chunk]
                ]
                await record_outcomes(self.session, outcomes=outcomes, now=sent_at)
                finished = max(finished, sent_at)
        await finish_done(self.session, now=finished)
        return finished

    async def _news(self, editors: Sequence[int]) -> None:
        for index, (days_ago, at, topics, districts, urgent, text) in enumerate(NEWS):
            editor = editors[index % len(editors)]
            started = self._before_now(self._local(self.today - timedelta(days=days_ago), at))
            drafted = started - timedelta(minutes=self.rng.randint(5, 40))
            broadcast = await create_broadcast(
                self.session,
                text=text,
                now=drafted,
                topics=[topic.value for topic in topics],
                districts=[district.value for district in districts],
                urgent=urgent,
                created_by=editor,
            )
            subject = f"broadcast:{broadcast.id}"
            actor = f"staff:{editor}"
            audit.record(
                self.session, actor=actor, action="news.draft", now=drafted, subject=subject
            )
            count = await plan_broadcast(self.session, broadcast_id=broadcast.id, now=started)
            audit.record(
                self.session,
                actor=actor,
                action="news.sent",
                now=started,
                subject=subject,
                details={"recipients": count},
            )
            await self._deliver_all(broadcast.id, started)

    async def _poll(self, seeded: Sequence[Resident], editor: int) -> None:
        session = self.session
        started = self._before_now(
            self._local(self.today - timedelta(days=POLL_SENT_DAYS_AGO), time(12, 0))
        )
        drafted = started - timedelta(minutes=20)
        poll = await polls.create_poll(
            session,
            question=POLL_QUESTION,
            options=POLL_OPTIONS,
            closes_at=started + timedelta(days=POLL_OPEN_DAYS),
            now=drafted,
            created_by=editor,
        )
        self._poll_audit(editor, "poll.draft", poll, drafted)
        broadcast = await polls.poll_broadcast(session, poll)
        # What residents got, frozen when it was sent (as the poll composer does).
        catalog = Catalog.load()
        broadcast.text = poll_text(catalog, catalog.default, poll, self.zone)
        broadcast.buttons = poll_buttons_json(poll)
        await session.flush()
        count = await plan_broadcast(session, broadcast_id=broadcast.id, now=started)
        self._poll_audit(editor, "poll.sent", poll, started, recipients=count)
        finished = await self._deliver_all(broadcast.id, started)
        await self._votes(poll, seeded, finished)

    async def _votes(self, poll: Poll, seeded: Sequence[Resident], after: datetime) -> None:
        received = set(
            (
                await self.session.scalars(
                    select(Delivery.resident_id).where(
                        Delivery.broadcast_id == poll.broadcast_id,
                        Delivery.state == DeliveryState.SENT.value,
                    )
                )
            ).all()
        )
        window = max((self.now - after).total_seconds() - 600, 60)
        votes: list[tuple[datetime, Resident, int]] = []
        for resident in seeded:
            if resident.id not in received or self.rng.random() >= POLL_VOTER_SHARE:
                continue
            weights = _option_weights(resident.district or "")
            option = self.rng.choices(range(len(POLL_OPTIONS)), weights)[0]
            voted_at = after + timedelta(seconds=window * self.rng.random() ** 2)
            votes.append((voted_at, resident, option))
        votes.sort(key=lambda vote: (vote[0], vote[1].id))
        for voted_at, resident, option in votes:
            await polls.choose(
                self.session,
                poll=poll,
                resident=resident,
                option=option,
                selected=True,
                now=voted_at,
            )

    def _poll_audit(
        self, editor: int, action: str, poll: Poll, at: datetime, **details: object
    ) -> None:
        audit.record(
            self.session,
            actor=f"staff:{editor}",
            action=action,
            now=at,
            subject=f"poll:{poll.id}",
            details=dict(details),
        )


def _option_weights(district: str) -> list[float]:
    """Districts far from the centre want new routes more; the centre wants a single ticket."""
    far = (District.INHULETSKYI.value, District.TERNIVSKYI.value, District.DOVHYNTSIVSKYI.value)
    if district in far:
        return [3.0, 5.0, 2.0, 1.0]
    if district == District.TSENTRALNO_MISKYI.value:
        return [2.0, 1.0, 2.0, 4.0]
    return [4.0, 2.0, 2.0, 2.0]
