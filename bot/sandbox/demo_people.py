"""Who lives in the demo city of ``citybot sandbox --seed``: the council's staff, the parts of
Ukrainian names, the streets, and how residents spread over districts, topics, languages and
digests (rough shares of the real city)."""

from __future__ import annotations

from dataclasses import dataclass

from storage.vocabulary import (
    Digest,
    District,
    Role,
    Topic,
)

# The staff of the demo council: (name, role), in id order from STAFF_BASE.
STAFF: tuple[tuple[str, Role], ...] = (
    ("Ірина Коваленко", Role.ADMIN),
    ("Олег Мельник", Role.EDITOR),
    ("Наталія Бондар", Role.EDITOR),
    ("Андрій Шевчук", Role.OPERATOR),
    ("Світлана Ткаченко", Role.OPERATOR),
    ("Максим Кравчук", Role.OPERATOR),
)

MALE_FIRST = (
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
FEMALE_FIRST = (
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
LAST = (
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
FATHERS = (
    ("Олександрович", "Олександрівна"),
    ("Іванович", "Іванівна"),
    ("Петрович", "Петрівна"),
    ("Васильович", "Василівна"),
    ("Миколайович", "Миколаївна"),
    ("Сергійович", "Сергіївна"),
    ("Володимирович", "Володимирівна"),
    ("Анатолійович", "Анатоліївна"),
)
STREETS = (
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
MOBILE_CODES = ("067", "097", "050", "066", "063", "093", "068", "098", "073")

# Rough shares of the city's population; the rest of the residents chose "the whole city".
DISTRICT_WEIGHTS: tuple[tuple[District, int], ...] = (
    (District.DOVHYNTSIVSKYI, 12),
    (District.INHULETSKYI, 7),
    (District.METALURHIINYI, 17),
    (District.POKROVSKYI, 15),
    (District.SAKSAHANSKYI, 22),
    (District.TERNIVSKYI, 11),
    (District.TSENTRALNO_MISKYI, 16),
)
CITY_DISTRICTS = tuple(district for district, _ in DISTRICT_WEIGHTS)
WHOLE_CITY_SHARE = 0.04
TOPIC_SHARES: tuple[tuple[Topic, float], ...] = (
    (Topic.CITY_NEWS, 0.85),
    (Topic.OUTAGES, 0.7),
    (Topic.DECISIONS, 0.4),
    (Topic.EVENTS, 0.5),
)
ENGLISH_SHARE = 0.07
# Most residents get news at once; some chose a digest (ordinary news waits for it).
DIGEST_SHARES: tuple[tuple[Digest, float], ...] = (
    (Digest.INSTANT, 0.85),
    (Digest.DAILY, 0.10),
    (Digest.WEEKLY, 0.05),
)


@dataclass(frozen=True, slots=True)
class Person:
    first: str
    last: str
    patronymic: str

    @property
    def full_name(self) -> str:
        """ПІБ, as an appeal or an information request asks for it."""
        return f"{self.last} {self.first} {self.patronymic}"
