"""A submission straight into the database, as the resident flow would store it (the flow
itself is tested end to end in tests/test_consultations_resident.py): for the staff-side tests
of every desk."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import consultations
from storage.consultations import AnswerValue, Words
from storage.models import Resident


async def submit(
    sessionmaker: async_sessionmaker[AsyncSession],
    consultation_id: int,
    resident_id: int,
    *,
    answers: Mapping[int, AnswerValue],
    now: datetime,
    comment: str | None = None,
    name: str = "Оксана Петренко",
    organisation_id: int | None = None,
) -> int:
    """Save ``resident_id``'s submission; ``answers`` by question position. Its id."""
    async with sessionmaker() as session, session.begin():
        consultation = await consultations.get(session, consultation_id)
        resident = await session.get(Resident, resident_id)
        assert consultation is not None and resident is not None
        questions = await consultations.questions_of(session, consultation_id)
        saved = await consultations.save_submission(
            session,
            consultation=consultation,
            resident=resident,
            channel=resident.channel,
            organisation_id=organisation_id,
            words=Words(name=name, comment=comment),
            answers={questions[position].id: value for position, value in answers.items()},
            now=now,
        )
        return saved.submission.id
