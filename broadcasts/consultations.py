"""The closing time of a public consultation has come: residents can no longer take part
(``storage.consultations.accepting``), and staff are told once in the operator chat to close
it with its outcome (``/consult close N …``), which makes the report and tells every
participant. The close itself waits for staff: the outcome is theirs to write.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from messaging.i18n import Catalog
from storage import consultations
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

JOB_NAME = "consultations-due"
# Every minute, at a second no other minute job uses.
DUE_SECOND = 15


class Poster(Protocol):
    async def post(self, chat_id: int, text: str, *, button: tuple[str, str] | None = None) -> None:
        """Post ``text`` to a staff chat."""


class ClosingReminder:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        catalog: Catalog,
        clock: Clock,
        poster: Poster,
        chat_id: int,
        language: str,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._catalog = catalog
        self._clock = clock
        self._poster = poster
        self._chat_id = chat_id
        self._language = language

    async def run(self, _at: datetime | None = None) -> int:
        """Tell staff of every consultation due now; how many. Claimed and committed before
        posting: a failed post is logged, never repeated (the list shows it as due)."""
        async with self._sessionmaker() as session, session.begin():
            due = await consultations.claim_due(session, now=self._clock())
            texts = [
                str(
                    self._catalog.text(
                        self._language, "staff.consult.due", id=item.id, title=item.title
                    )
                )
                for item in due
            ]
        for text in texts:
            await self._poster.post(self._chat_id, text)
        if texts:
            log.info("told staff of %d consultation(s) due to close", len(texts))
        return len(texts)
