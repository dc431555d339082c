"""aiogram router of the staff chats: the operator chat and every queue's chat.

Handlers receive ``staff`` (the ``StaffService``) from the Dispatcher's workflow data. Messages
and button presses in any other group are left alone. Must be included before the residents'
router, whose callback handler takes every button press it sees.
"""

from __future__ import annotations

import logging

from aiogram import F, Router

from bot.telegram.staff import callbacks as cb
from bot.telegram.staff.chat_router import GROUP_CHATS, button_handler, message_handler
from bot.telegram.staff.service import StaffService

log = logging.getLogger(__name__)

# The Dispatcher's workflow-data key of the StaffService.
KEY = "staff"

_on_message = message_handler(KEY, what="staff", log=log, in_chat=StaffService.is_staff_chat)
_on_button = button_handler(KEY, what="staff", log=log, in_chat=StaffService.is_staff_chat)


def staff_router() -> Router:
    router = Router(name="staff")
    router.message.register(_on_message, F.chat.type.in_(GROUP_CHATS))
    router.callback_query.register(
        _on_button,
        F.data.startswith(cb.PREFIX + ":"),
        F.message.chat.type.in_(GROUP_CHATS),
    )
    return router
