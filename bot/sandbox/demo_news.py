"""What the demo council has sent: past news to their audiences and an open poll (with how the
districts lean in it), and how fast the demo broadcasts went out."""

from __future__ import annotations

from datetime import time

from storage.vocabulary import (
    Channel,
    District,
    Topic,
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
SEND_CHUNKS = {Channel.TELEGRAM.value: 30, Channel.VIBER.value: 300}


def option_weights(district: str) -> list[float]:
    """Districts far from the centre want new routes more; the centre wants a single ticket."""
    far = (District.INHULETSKYI.value, District.TERNIVSKYI.value, District.DOVHYNTSIVSKYI.value)
    if district in far:
        return [3.0, 5.0, 2.0, 1.0]
    if district == District.TSENTRALNO_MISKYI.value:
        return [2.0, 1.0, 2.0, 4.0]
    return [4.0, 2.0, 2.0, 2.0]
