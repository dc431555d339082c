"""The personal-data commands: ``/mydata`` (everything held about the resident, as JSON) and
``/forget`` (the confirmation, then the erasure by ``storage.erasure``'s rule)."""

from __future__ import annotations

import json
from datetime import datetime

from handlers import actions as act
from handlers import screens
from handlers.linking import linked_data, messengers_shown
from handlers.tickets.texts import TicketScreens
from handlers.turn import FLOW_IDLE, Turn
from messaging.contract import Button, Reply
from messaging.i18n import Markup
from messaging.text import format_when
from storage import consultations, incidents, polls, tickets
from storage.erasure import erase_resident
from storage.incidents import Followed
from storage.vocabulary import MessageDirection

FLOW_FORGET = "forget"


class PersonalData(TicketScreens):
    async def my_data(self, turn: Turn) -> list[Reply]:
        turn.go(FLOW_IDLE)
        resident = turn.resident
        own = await tickets.resident_tickets(turn.session, resident_id=resident.id, limit=1000)
        follows = await incidents.resident_follows(turn.session, resident.id)
        export = {
            "profile": {
                "channel": resident.channel,
                "messenger_id": resident.external_id,
                "name": resident.name,
                "language": resident.language,
                "district": resident.district,
                "topics": sorted(resident.topic_codes),
                "digest": resident.digest,
                "subscribed": resident.subscribed,
                "consent_at": _iso(resident.consent_at),
                "policy_version": resident.policy_version,
                "created_at": _iso(resident.created_at),
                "last_seen_at": _iso(resident.last_seen_at),
            },
            "tickets": [
                {
                    "number": t.number,
                    "kind": t.kind,
                    "status": t.status,
                    "received_at": _iso(t.received_at),
                    "deadline_at": _iso(t.deadline_at),
                    # Their answer to "Питання вирішено?" after the last closing.
                    "resolution": t.resolution,
                    "resolution_at": _iso(t.resolution_at),
                    **tickets.personal_fields(t),
                    "messages": [
                        {
                            "from": m.direction,
                            "at": _iso(m.created_at),
                            "text": m.text,
                            "attachment": m.attachment_kind,
                        }
                        for m in await tickets.thread(turn.session, ticket_id=t.id, limit=1000)
                        if m.direction != MessageDirection.NOTE
                    ],
                }
                for t in own
            ],
            "poll_votes": [
                {
                    "poll": vote.poll_id,
                    "question": vote.question,
                    "chosen": list(vote.chosen),
                    "at": _iso(vote.voted_at),
                }
                for vote in await polls.resident_votes(turn.session, resident_id=resident.id)
            ],
            # What they said in public consultations (the words are gone after /forget).
            "consultation_submissions": [
                {
                    "consultation": own.submission.consultation_id,
                    "title": own.title,
                    "organisation": own.submission.organisation_id,
                    "name": own.submission.name,
                    "district": own.submission.district,
                    "comment": own.submission.comment,
                    "file": own.submission.file_name or own.submission.file_kind,
                    "answers": {
                        str(question): value.text if value.choice is None else value.choice
                        for question, value in own.answers.items()
                    },
                    "consent_at": _iso(own.submission.consent_at),
                    "submitted_at": _iso(own.submission.submitted_at),
                    "updated_at": _iso(own.submission.updated_at),
                    "decision": own.submission.decision,
                }
                for own in await consultations.resident_submissions(
                    turn.session, resident_id=resident.id
                )
            ],
            # The incidents they chose to follow instead of filing a ticket.
            "incident_follows": [
                {
                    "incident": follow.incident_id,
                    "title": follow.title,
                    "status": follow.status,
                    "followed_at": _iso(follow.followed_at),
                }
                for follow in follows
            ],
            # Both messenger accounts of a person linked in Telegram and Viber.
            **await linked_data(turn),
        }
        summary = self._t(
            turn,
            "mydata.summary",
            summary=screens.summary(self.catalog, resident),
            name=resident.name or "—",
            channel=await messengers_shown(self.catalog, turn),
            tickets=len(own),
            version=resident.policy_version or "—",
        )
        if follows:
            summary = Markup(f"{summary}\n\n{self._follows(turn, follows)}")
        dump = json.dumps(export, ensure_ascii=False, indent=1)
        return [
            Reply(text=summary),
            self._with_menu(turn, Reply(text=self._t(turn, "mydata.export", json=dump))),
        ]

    def _follows(self, turn: Turn, follows: list[Followed]) -> Markup:
        """ "Incidents you follow": number, title and since when, one a line."""
        lines = [self._t(turn, "mydata.follows")]
        lines.extend(
            self._t(
                turn,
                "mydata.follow",
                incident=follow.incident_id,
                title=follow.title,
                date=format_when(follow.followed_at, self.zone),
            )
            for follow in follows
        )
        return Markup("\n".join(lines))

    def forget_screen(self, turn: Turn) -> Reply:
        return Reply(
            text=self._t(turn, "forget.confirm"),
            buttons=(
                (Button(self._t(turn, "forget.yes"), act.FORGET_YES),),
                (Button(self._t(turn, "btn.cancel"), act.FORM_CANCEL),),
            ),
        )

    async def forget(self, turn: Turn) -> list[Reply]:
        """The resident confirmed ``/forget``: erase (``storage.erasure`` decides what goes)."""
        erased = await erase_resident(turn.session, turn.resident, now=turn.now, actor=turn.actor)
        turn.go(FLOW_IDLE)
        return [self._menu(turn, "forget.done", count=erased.tickets)]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
