"""The sandbox's people and places: who can be played in the page, and the stand-ins they live in.

Every resident and staff member stored in the database is registered in the stand-ins at start,
so the bot can reach them (a broadcast to seeded residents lands in their chats) and the page can
act as any of them. The stand-ins keep chats in memory: a restarted sandbox shows empty chats,
while the database keeps every ticket, resident and broadcast (and the open tickets are posted to
the operator forum again: bot.sandbox.restart).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.sandbox.fakes.telegram import FakeTelegram
from bot.sandbox.fakes.viber import FakeViber
from storage.models import Resident, Staff
from storage.vocabulary import Role

# Syntactically real tokens; they only open the local stand-ins.
TELEGRAM_TOKEN = "7000000001:SANDBOX-local-stand-in-token_0000000"
VIBER_TOKEN = "5a4db0c1e2f3a4b5-sandbox0stand0in-00000000deadbeef"
# The staff group: a forum supergroup, so each ticket gets its own topic.
OPERATOR_CHAT_ID = -1_007_000_000_001
OPERATOR_CHAT_TITLE = "Оператори міськради"
# The people a bare sandbox starts with (ranges apart from the demo world's, bot/sandbox/seed.py).
FIRST_TELEGRAM_RESIDENT = 600_000_001
FIRST_STAFF = 800_000_001
DEFAULT_TELEGRAM_RESIDENT = (FIRST_TELEGRAM_RESIDENT, "Оксана Коваленко")
DEFAULT_VIBER_RESIDENT_NAME = "Андрій Шевченко"
DEFAULT_ADMIN = (FIRST_STAFF, "Марія Бондаренко")
DEFAULT_NAMES = (DEFAULT_TELEGRAM_RESIDENT[1], DEFAULT_VIBER_RESIDENT_NAME, DEFAULT_ADMIN[1])
NAME_MAX = 64


def viber_id(index: int) -> str:
    """A Viber-looking user id (24 base64 characters ending in ``==``), stable per index."""
    digest = hashlib.sha256(f"sandbox-viber-{index}".encode()).digest()[:16]
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class Persona:
    """Someone the page can act as."""

    id: str  # Telegram user id (as text) or Viber user id
    name: str
    channel: str  # telegram | viber
    role: str | None = None  # staff role; None for residents

    def as_json(self) -> dict[str, str | None]:
        return {"id": self.id, "name": self.name, "channel": self.channel, "role": self.role}


@dataclass
class World:
    """The stand-ins and the personas registered in them."""

    telegram: FakeTelegram
    viber: FakeViber
    telegram_residents: dict[str, Persona] = field(default_factory=dict)
    viber_residents: dict[str, Persona] = field(default_factory=dict)
    staff: dict[str, Persona] = field(default_factory=dict)
    version: int = 0
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.telegram.add_listener(self.changed)
        self.viber.add_listener(self.changed)
        self.telegram.add_group(OPERATOR_CHAT_ID, OPERATOR_CHAT_TITLE, is_forum=True)

    def changed(self) -> None:
        self.version += 1
        for listener in self._listeners:
            listener()

    def add_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        self._listeners.remove(listener)

    # ------------------------------------------------------------------ registration

    def add_telegram_resident(self, user_id: int, name: str, *, known: bool = False) -> Persona:
        """``known``: the bot has talked to them before (their private chat exists)."""
        first, _, last = name.partition(" ")
        self.telegram.user(user_id, first_name=first or name, last_name=last or None)
        if known:
            self.telegram.open_private_chat(user_id)
        persona = Persona(str(user_id), name, "telegram")
        self.telegram_residents[persona.id] = persona
        return persona

    def add_viber_resident(self, user_id: str, name: str, *, subscribed: bool = False) -> Persona:
        if user_id not in self.viber.users:
            self.viber.user(user_id, name=name, subscribed=subscribed)
        persona = Persona(user_id, name, "viber")
        self.viber_residents[user_id] = persona
        return persona

    def add_staff(self, user_id: int, name: str, role: str) -> Persona:
        first, _, last = name.partition(" ")
        self.telegram.user(user_id, first_name=first or name, last_name=last or None)
        # Staff are members (admins) of the operator group, as in a real council chat.
        self.telegram.add_group_member(OPERATOR_CHAT_ID, user_id, admin=True)
        persona = Persona(str(user_id), name, "telegram", role)
        self.staff[persona.id] = persona
        return persona

    def new_resident(self, channel: str, name: str) -> Persona:
        """A resident made in the page's switcher: a fresh id in the right channel."""
        name = " ".join(name.split())[:NAME_MAX] or "Мешканець"
        if channel == "telegram":
            taken = {int(key) for key in self.telegram_residents}
            user_id = FIRST_TELEGRAM_RESIDENT
            while user_id in taken:
                user_id += 1
            return self.add_telegram_resident(user_id, name)
        index = len(self.viber_residents)
        while viber_id(index) in self.viber_residents:
            index += 1
        return self.add_viber_resident(viber_id(index), name)

    async def load(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        """Register every stored resident and staff member in the stand-ins."""
        async with sessionmaker() as session:
            residents = (
                await session.execute(
                    select(
                        Resident.channel,
                        Resident.external_id,
                        Resident.name,
                        Resident.subscribed & Resident.is_active,
                    ).order_by(Resident.id)
                )
            ).all()
            staff = (
                await session.execute(
                    select(Staff.telegram_id, Staff.name, Staff.role).where(
                        Staff.telegram_id.is_not(None)
                    )
                )
            ).all()
        for channel, external_id, name, reachable in residents:
            shown = name or ("Мешканець " + external_id[-4:])
            # Stored residents wrote to the bot before: their chats exist and they are
            # subscribed, unless they left; the messengers' memory of that is not kept here.
            if channel == "telegram" and external_id.lstrip("-").isdigit():
                self.add_telegram_resident(int(external_id), shown, known=True)
            elif channel == "viber":
                self.add_viber_resident(external_id, shown, subscribed=bool(reachable))
        for telegram_id, name, role in staff:
            assert telegram_id is not None  # selected so
            self.add_staff(telegram_id, name or f"Працівник {telegram_id}", str(role))

    def ensure_defaults(self) -> None:
        """One resident per messenger and an administrator, so a bare sandbox can be played."""
        if str(DEFAULT_TELEGRAM_RESIDENT[0]) not in self.telegram_residents:
            self.add_telegram_resident(*DEFAULT_TELEGRAM_RESIDENT)
        if viber_id(0) not in self.viber_residents:
            self.add_viber_resident(viber_id(0), DEFAULT_VIBER_RESIDENT_NAME)
        if str(DEFAULT_ADMIN[0]) not in self.staff:
            self.add_staff(DEFAULT_ADMIN[0], DEFAULT_ADMIN[1], Role.ADMIN.value)
