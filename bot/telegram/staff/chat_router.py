"""What every staff-chat feature (tickets, news, polls, statistics) shares at its edge
(``edge.py``): the group chats it works in, and the failure rule — database and network errors
that may pass are re-raised (nothing was stored, so Telegram should deliver the update again),
any other exception, and data the database refuses, is logged (a bug must not make Telegram
redeliver the update forever).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Final

from aiogram.enums import ChatType

from storage.errors import TRY_AGAIN_LATER, failure_reason, failure_trace, is_permanent

GROUP_CHATS: Final = {ChatType.GROUP, ChatType.SUPERGROUP}


async def guarded(handled: Awaitable[None], log: logging.Logger, what: str, update_id: int) -> None:
    try:
        await handled
    except TRY_AGAIN_LATER as error:
        if not is_permanent(error):
            # Nothing was stored: let Telegram deliver the update again.
            raise
        # Data the database refuses fails the same way on every redelivery (and in polling
        # mode would hold up every update after it): logged, and not retried.
        _log_failure(log, what, update_id, error)
    except Exception as error:  # noqa: BLE001 - logged with its trace (below), not retried
        # A bug must not make Telegram redeliver the update forever.
        _log_failure(log, what, update_id, error)


def _log_failure(log: logging.Logger, what: str, update_id: int, error: BaseException) -> None:
    # The failure's class and where it happened, not its message (it may quote what was typed).
    log.error(
        "%s %s failed (%s); not retried\n%s",
        what,
        update_id,
        failure_reason(error),
        failure_trace(error),
    )
