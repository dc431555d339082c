"""Audience targeting of a broadcast, shared by the news and the poll composers.

Both composers let an editor narrow a ``Broadcast`` to topics, districts and channels with the
same rules and the same buttons; only the callback data differs, so the keyboard builders take a
function that makes it. Texts are the ``news.*`` catalog entries, which the poll composer reuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from handlers.staff.broadcasts.targets import ALL, TARGET_DISTRICTS
from messaging import labels
from messaging.contract import Button
from messaging.i18n import Markup
from storage.models import Broadcast
from storage.vocabulary import Channel, Topic

Keyboard = tuple[tuple[Button, ...], ...]
# A catalog lookup in the composer's language.
Text = Callable[[str], Markup]
# The callback data of a targeting button, from the code it toggles ("all" for everyone).
Data = Callable[[str], str]

CHECKED: Final = "✅"
UNCHECKED: Final = "▫️"


def mark(on: bool) -> str:
    return CHECKED if on else UNCHECKED


def cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def topics_page(broadcast: Broadcast, t: Text, data: Data, back: Button) -> Keyboard:
    rows: list[tuple[Button, ...]] = [
        (Button(f"{mark(not broadcast.topics)} {t('news.all_topics')}", data(ALL)),)
    ]
    rows.extend(
        (
            Button(
                f"{mark(topic.value in broadcast.topics)} " + t(labels.TOPIC[topic.value]),
                data(topic.value),
            ),
        )
        for topic in Topic
    )
    rows.append((back,))
    return tuple(rows)


def districts_page(broadcast: Broadcast, t: Text, data: Data, back: Button) -> Keyboard:
    rows: list[tuple[Button, ...]] = [
        (Button(f"{mark(not broadcast.districts)} {t('news.all_districts')}", data(ALL)),)
    ]
    buttons = [
        Button(
            f"{mark(d.value in broadcast.districts)} {t(labels.DISTRICT[d.value])}", data(d.value)
        )
        for d in TARGET_DISTRICTS
    ]
    rows.extend(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))
    rows.append((back,))
    return tuple(rows)


def channels_row(broadcast: Broadcast, t: Text, data: Data) -> tuple[Button, ...]:
    return tuple(
        Button(
            f"{mark(not broadcast.channels or channel.value in broadcast.channels)} "
            + t(labels.NEWS_CHANNEL[channel.value]),
            data(channel.value),
        )
        for channel in Channel
    )


def summary(broadcast: Broadcast, t: Text) -> tuple[str, str]:
    """The chosen topics and districts for the main page's buttons (the "all" text for none)."""
    every = t("news.all")
    topics = ", ".join(t(labels.TOPIC[code]) for code in broadcast.topics) or every
    districts = ", ".join(t(labels.DISTRICT[code]) for code in broadcast.districts) or every
    return topics, districts
