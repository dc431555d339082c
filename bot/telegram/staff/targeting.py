"""Audience targeting of a broadcast, shared by the news and the poll composers.

Both composers let an editor narrow a ``Broadcast`` to topics, districts and channels with the
same rules and the same buttons; only the callback data differs, so the keyboard builders take a
function that makes it. Texts are the ``news.*`` catalog entries, which the poll composer reuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from messaging import labels
from messaging.contract import Button
from messaging.i18n import N_, Markup
from storage.models import Broadcast
from storage.vocabulary import Channel, District, Topic

Keyboard = tuple[tuple[Button, ...], ...]
# A catalog lookup in the composer's language.
Text = Callable[[str], Markup]
# The callback data of a targeting button, from the code it toggles ("all" for everyone).
Data = Callable[[str], str]

CHECKED: Final = "✅"
UNCHECKED: Final = "▫️"
ALL: Final = "all"
# Districts a news item can target: a resident who chose "the whole city" gets every district's
# news anyway, so it is not a target of its own.
TARGET_DISTRICTS: Final = tuple(d for d in District if d is not District.WHOLE_CITY)
# Catalog keys of what is wrong with a pressed targeting button.
BAD_BUTTON: Final = "news.bad_button"
ONE_CHANNEL: Final = N_("news.one_channel")


def mark(on: bool) -> str:
    return CHECKED if on else UNCHECKED


def cut(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def toggle_channel(broadcast: Broadcast, argument: str) -> str | None:
    """Switch one channel; the catalog key of the problem, or None. No channels stored means
    every channel, and at least one must stay chosen."""
    if argument not in {c.value for c in Channel}:
        return BAD_BUTTON
    chosen = set(broadcast.channels or [c.value for c in Channel]) ^ {argument}
    if not chosen:
        return ONE_CHANNEL
    broadcast.channels = [] if len(chosen) == len(Channel) else sorted(chosen)
    return None


def toggle_code(broadcast: Broadcast, argument: str, *, topics: bool) -> str | None:
    """Switch one topic (``topics``) or district, or choose everyone with ``all``; the catalog
    key of the problem, or None."""
    codes = [t.value for t in Topic] if topics else [d.value for d in TARGET_DISTRICTS]
    current = list(broadcast.topics if topics else broadcast.districts)
    if argument == ALL:
        updated: list[str] = []
    elif argument in codes:
        chosen = set(current) ^ {argument}
        # Every code chosen is the same as none: everyone.
        updated = [] if len(chosen) == len(codes) else [c for c in codes if c in chosen]
    else:
        return BAD_BUTTON
    if topics:
        broadcast.topics = updated
    else:
        broadcast.districts = updated
    return None


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
