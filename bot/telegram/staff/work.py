"""One staff-chat event of the composers (news, polls) and the statistics commands: its
transaction's session, and what to do once it commits. The ticket desk has its own edge
(``edge.py``) over the staff core; the composers keep this until they move to the core too."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession

After = Callable[[], Awaitable[None]]


@dataclass
class Work:
    """One staff event: its transaction's session, and what to do once it commits."""

    session: AsyncSession
    now: datetime
    after: list[After] = field(default_factory=list)
    # The text of the callback answer (buttons only).
    answer: str | None = None
    alert: bool = False

    def later(
        self, step: Callable[..., Awaitable[None]], /, *args: object, **kwargs: object
    ) -> None:
        self.after.append(functools.partial(step, *args, **kwargs))

    async def run_after(self, log: logging.Logger, what: str) -> None:
        """Run the steps queued with ``later`` once the transaction committed. The data is
        stored already: a Telegram message or edit that did not go out is logged (as ``what``'s
        follow-up) and is not worth failing the other steps for."""
        for step in self.after:
            try:
                await step()
            except TelegramAPIError as error:
                log.warning("%s follow-up step failed: %s", what, error)
