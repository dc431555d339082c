"""Wiring of the poll composer into the Telegram Dispatcher (its closing job is registered by
``bot.schedule``).

As for the news composer, the handlers go on the Dispatcher's own observers (they run before
the staff router, which takes every group message): ``/poll``, ``/pollresults``, replies to the
composer's questions, and ``pl:`` buttons, in staff chats only.
"""

from __future__ import annotations

from typing import Final, Unpack

from aiogram import Dispatcher

from bot.telegram.staff import composing
from bot.telegram.staff.composer_parts import Wiring, parts_of
from bot.telegram.staff.polls.composer import PollComposer

# The Dispatcher's workflow-data key of the composer (tests and jobs find it there).
KEY: Final = "polls"


def install_polls(dispatcher: Dispatcher, **wiring: Unpack[Wiring]) -> PollComposer:
    """Build the composer and register its handlers (the composition root's one call)."""
    parts, wake = parts_of(wiring)
    composer = PollComposer(wake=wake, **parts)
    composing.install(dispatcher, composer, key=KEY)
    return composer
