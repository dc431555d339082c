"""aiogram router of the staff chats: the operator chat and every queue's chat.

Handlers receive ``staff`` (the ``StaffService``) from the Dispatcher's workflow data. Messages
and button presses in any other group are left alone. Must be included before the residents'
router, whose callback handler takes every button press it sees.

The edge (``edge.py``) wraps every handler the same way: one transaction, the update claimed,
the staff member checked, the after-commit steps run. Handlers are tried in order: card buttons
(one per verb), commands (one per command), then replies to prompts, answers and notes in a
ticket's thread.
"""

from __future__ import annotations

from aiogram import F, Router

from bot.telegram.staff import buttons, commands, thread
from bot.telegram.staff.chat_router import GROUP_CHATS
from bot.telegram.staff.edge import KEY, StaffClaim, StaffEdge

__all__ = ["KEY", "staff_router"]


def staff_router() -> Router:
    router = Router(name="staff")
    # Anything outside group chats (residents' private chats) is for the residents' router.
    router.message.filter(F.chat.type.in_(GROUP_CHATS))
    router.callback_query.filter(F.message.chat.type.in_(GROUP_CHATS))
    edge, claim = StaffEdge(), StaffClaim()
    router.message.outer_middleware(edge)
    router.callback_query.outer_middleware(edge)
    router.message.middleware(claim)
    router.callback_query.middleware(claim)
    buttons.register(router)
    commands.register(router)
    thread.register(router)
    return router
