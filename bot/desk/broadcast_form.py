"""What the news and poll pages share: the targeting boxes, the schedule fields, the live count
and the preview as residents get it in Telegram and in Viber.

The preview is the adapters' own rendering of the very ``Reply`` the delivery engine sends
(``broadcasts.sender_loop.reply_for``): Telegram's split into messages and captions
(``bot.telegram.sender.telegram_parts``) and Viber's message dicts (``bot.viber.render``), so
what an editor sees is what each messenger gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

import markupsafe
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.telegram.sender import telegram_parts
from bot.viber.render import messages as viber_messages
from broadcasts.sender_loop import reply_for
from handlers.staff.broadcasts.news import Choice
from handlers.staff.broadcasts.targets import TARGET_DISTRICTS, count_audience
from messaging import labels
from messaging.i18n import N_
from messaging.rich import news_markup
from storage.models import Broadcast
from storage.vocabulary import Channel, Topic

# How far ahead a broadcast may be scheduled (as in the chat composer).
SCHEDULE_HORIZON: Final = timedelta(days=366)
TOPICS: Final = tuple(t.value for t in Topic)
DISTRICTS: Final = tuple(d.value for d in TARGET_DISTRICTS)
CHANNELS: Final = tuple(c.value for c in Channel)
CHANNEL_NAMES: Final = {"telegram": "Telegram", "viber": "Viber"}
Form = Mapping[str, Any]


def _values(form: Any, name: str, allowed: tuple[str, ...]) -> tuple[str, ...]:
    """The ticked boxes of ``name`` (unknown values are dropped: the page offers no others)."""
    given = {value for value in form.getall(name, []) if isinstance(value, str)}
    return tuple(code for code in allowed if code in given)


def choice_of(form: Any) -> Choice:
    """The targets a form (or a count query) chose; no channel ticked means both."""
    return Choice(
        topics=_values(form, "topic", TOPICS),
        districts=_values(form, "district", DISTRICTS),
        channels=_values(form, "channel", CHANNELS) or CHANNELS,
        urgent=form.get("urgent") == "1",
    )


def choice_from(broadcast: Broadcast) -> Choice:
    return Choice(
        topics=tuple(broadcast.topics or ()),
        districts=tuple(broadcast.districts or ()),
        channels=tuple(broadcast.channels or CHANNELS),
        urgent=broadcast.urgent,
    )


async def count_for(session: AsyncSession, choice: Choice) -> int:
    """How many residents a broadcast with these targets would reach now."""
    probe = Broadcast(
        topics=list(choice.topics),
        districts=list(choice.districts),
        channels=[] if set(choice.channels) == set(CHANNELS) else list(choice.channels),
        urgent=choice.urgent,
    )
    return await count_audience(session, probe)


def targeting(t: Any, choice: Choice) -> dict[str, Any]:
    """What the targeting boxes show: each code with its label and whether it is ticked."""
    return {
        "topics": [(code, t(labels.TOPIC[code]), code in choice.topics) for code in TOPICS],
        "districts": [
            (code, t(labels.DISTRICT[code]), code in choice.districts) for code in DISTRICTS
        ],
        "channels": [(code, CHANNEL_NAMES[code], code in choice.channels) for code in CHANNELS],
        "urgent": choice.urgent,
    }


class TimeProblem(Exception):
    """A schedule time that cannot be taken; ``key`` says why (a catalog key)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def when_of(form: Any, *, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The schedule time (date and time fields, council time) as UTC; None when both are
    empty (send now)."""
    day = str(form.get("when_date", "")).strip()[:10]
    clock = str(form.get("when_time", "")).strip()[:5]
    if not day and not clock:
        return None
    try:
        local = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock), tzinfo=zone)
    except ValueError as error:
        raise TimeProblem(N_("desk.broadcast.time_format")) from error
    when = local.astimezone(now.tzinfo)
    if when <= now:
        raise TimeProblem(N_("desk.broadcast.time_past"))
    if when - now > SCHEDULE_HORIZON:
        raise TimeProblem(N_("desk.broadcast.time_far"))
    return when


@dataclass(frozen=True, slots=True)
class Bubble:
    """One message of the preview: its text (safe markup) and what it carries."""

    text: markupsafe.Markup
    media: str | None = None  # "photo" | "document"
    name: str | None = None
    buttons: tuple[str, ...] = ()


def _safe(markup: str) -> markupsafe.Markup:
    """Stored markup as page markup: it is shown as such only when it is the subset residents
    get (anything else, e.g. an old row, is shown as text)."""
    checked = news_markup(markup) if markup.strip() else ""
    if isinstance(checked, str) and checked == markup.strip():
        return markupsafe.Markup(markup)
    return markupsafe.Markup(markupsafe.escape(markup))


def preview(broadcast: Broadcast) -> dict[str, list[Bubble]]:
    """The broadcast as residents get it: the Telegram messages and the Viber messages."""
    reply = reply_for(broadcast)
    telegram = [
        Bubble(
            text=_safe(part.text),
            media=part.media.kind if part.media is not None else None,
            name=part.media.file_name if part.media is not None else None,
            buttons=tuple(button.label for row in part.buttons for button in row),
        )
        for part in telegram_parts(reply)
    ]
    viber: list[Bubble] = []
    for message in viber_messages(reply):
        kind = message.get("type")
        board = message.get("keyboard") or {}
        buttons = tuple(
            markupsafe.Markup(str(button.get("Text", ""))).unescape()
            for button in board.get("Buttons", [])
        )
        viber.append(
            Bubble(
                text=markupsafe.Markup(markupsafe.escape(str(message.get("text", "")))),
                media={"picture": "photo", "file": "document"}.get(str(kind)),
                name=message.get("file_name"),
                buttons=buttons,
            )
        )
    return {"telegram": telegram, "viber": viber}


def json_error(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)
