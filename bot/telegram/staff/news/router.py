"""Wiring of the composer into the Telegram Dispatcher.

The handlers are registered on the Dispatcher's own observers, which aiogram runs before any
included router: the staff router takes every group message it sees, and the composer's
commands and answers must reach the composer first. The filters are narrow: ``/news`` and
``/drafts``, replies to the composer's own questions, and ``nw:`` buttons, in staff chats only.
"""

from __future__ import annotations

from typing import Final, Unpack

from aiogram import Dispatcher

from bot.telegram.staff import composing
from bot.telegram.staff.composer_parts import Wiring, parts_of
from bot.telegram.staff.news.composer import NewsComposer
from messaging.contract import Sender

# The Dispatcher's workflow-data key of the composer (tests and jobs find it there).
KEY: Final = "news"


def install(dispatcher: Dispatcher, composer: NewsComposer) -> None:
    composing.install(dispatcher, composer, key=KEY)


def install_news(
    dispatcher: Dispatcher, *, sender: Sender, two_person: bool, **wiring: Unpack[Wiring]
) -> NewsComposer:
    """Build the composer and register its handlers (the composition root's one call)."""
    parts, wake = parts_of(wiring, two_person=two_person)
    composer = NewsComposer(sender=sender, wake=wake, **parts)
    install(dispatcher, composer)
    return composer
