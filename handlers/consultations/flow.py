"""Residents taking part in public consultations, the same in Telegram and Viber: the list of
open consultations, one consultation (summary, document, whether they took part), answering
its questions one by one, a comment (text, or a file) they may skip, their name, and the
consent that sends it. One submission per resident (and one per organisation they represent,
marked as the organisation's), editable by going through it again until the closing time.

An organisation's representative links themselves by typing the code staff gave the
organisation (``ORG-…``, ``storage.organisations``). An invitation's answer comes from its
buttons.

Every action's argument comes from the client: a malformed one, a consultation that is not
published, an organisation the resident does not represent, an invitation that is not theirs
raise ``ForgedAction`` (refused and audited by the conversation); a valid press that came too
late (closed, or a step they left) gets a plain answer and changes nothing.
"""

from __future__ import annotations

from typing import Any, Final
from zoneinfo import ZoneInfo

from handlers import actions as act
from handlers import forged
from handlers.consultations.texts import ConsultationTexts
from handlers.forged import ForgedAction
from handlers.turn import FLOW_IDLE, Turn
from messaging.contract import FILE_KINDS, Button, EventKind, Media, Reply
from messaging.i18n import Catalog, Markup
from messaging.text import local_time, markup_to_plain
from storage import audit, consultations, organisations
from storage.consultations import AnswerValue, ConsultationStatus, Words
from storage.models import Consultation, ConsultationQuestion

FLOW_CONSULT: Final = "consult"
STEP_QUESTION: Final = "question"
STEP_COMMENT: Final = "comment"
STEP_NAME: Final = "name"
STEP_CONFIRM: Final = "confirm"

COMMENT_MAX: Final = 4000
ANSWER_MAX: Final = 2000
NAME_MAX: Final = 200
LISTED: Final = 10

AUDIT_SUBMIT: Final = "consultation.submit"
AUDIT_EDIT: Final = "consultation.edit"
AUDIT_REPRESENT: Final = "organisation.represent"
AUDIT_RESPOND: Final = "organisation.respond"


def _id(text: str, verb: str) -> int:
    if not forged.is_id(text):
        raise ForgedAction(verb, forged.MALFORMED)
    return int(text)


class ResidentConsultations:
    def __init__(self, catalog: Catalog, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone
        self.texts = ConsultationTexts(catalog, zone)

    def _t(self, turn: Turn, key: str, /, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _button(self, turn: Turn, key: str, /, **params: Any) -> str:
        """A button's label with a person's text in it: plain text (buttons show no markup,
        so an escaped ``<`` would be shown as ``&lt;``)."""
        return markup_to_plain(self._t(turn, key, **params))

    def wants(self, action: str) -> bool:
        verb = act.split(action)[0]
        return action == act.CONSULT_LIST or verb in act.CONSULT_VERBS

    # -- entry points --------------------------------------------------------------------------

    async def listing(self, turn: Turn) -> list[Reply]:
        turn.go(FLOW_IDLE)
        found = await consultations.open_now(turn.session, now=turn.now, limit=LISTED)
        if not found:
            return [Reply(text=self._t(turn, "consult.list.empty"))]
        lines = [
            self._t(turn, "consult.list.item", title=c.title, closes=self.texts.closes(c))
            for c in found
        ]
        text = Markup(self._t(turn, "consult.list") + "\n\n" + "\n".join(lines))
        buttons = tuple((self.texts.open_button(turn.lang, c),) for c in found)
        return [Reply(text=text, buttons=buttons)]

    async def typed_code(self, turn: Turn) -> list[Reply] | None:
        """An organisation's code typed by its representative; None for any other text."""
        if turn.event.kind is not EventKind.TEXT:
            return None
        code = organisations.looks_like_code(turn.event.text)
        if code is None:
            return None
        organisation = await organisations.redeem(
            turn.session, code=code, resident=turn.resident, now=turn.now
        )
        if organisation is None:
            return [Reply(text=self._t(turn, "consult.org.code_wrong"))]
        audit.record(
            turn.session,
            actor=turn.actor,
            action=AUDIT_REPRESENT,
            subject=f"organisation:{organisation.id}",
            now=turn.now,
        )
        return [Reply(text=self._t(turn, "consult.org.linked", organisation=organisation.name))]

    async def action(self, turn: Turn, action: str) -> list[Reply]:
        """Our buttons (``wants``); raises ``ForgedAction`` for a forged one."""
        if action == act.CONSULT_LIST:
            return await self.listing(turn)
        verb, argument = act.split(action)
        parts = argument.split(":")
        if verb == act.CONSULT_INVITE:
            return await self._respond(turn, parts)
        consultation = await self._published(turn, verb, parts[0])
        if verb == act.CONSULT_OPEN and len(parts) == 1:
            return await self._card(turn, consultation)
        if verb == act.CONSULT_PART and len(parts) in (1, 2):
            on_behalf = _id(parts[1], verb) if len(parts) == 2 else 0
            return await self._begin(turn, consultation, on_behalf)
        if verb == act.CONSULT_CHOICE and len(parts) == 3:
            return await self._choice(turn, consultation, parts[1], parts[2])
        if verb == act.CONSULT_SKIP and len(parts) == 1:
            return await self._skip(turn, consultation)
        if verb == act.CONSULT_SEND and len(parts) == 1:
            return await self._send(turn, consultation)
        raise ForgedAction(verb, forged.MALFORMED, consultation.id)

    async def _published(self, turn: Turn, verb: str, text: str) -> Consultation:
        consultation = await consultations.get(turn.session, _id(text, verb))
        if consultation is None or consultation.status == ConsultationStatus.DRAFT.value:
            # Unknown, or not published: no button of ours names it.
            raise ForgedAction(verb, forged.NOT_RECEIVED, int(text))
        return consultation

    # -- one consultation ----------------------------------------------------------------------

    async def _card(self, turn: Turn, consultation: Consultation) -> list[Reply]:
        turn.go(FLOW_IDLE)
        parts = [
            self._t(
                turn,
                "consult.card",
                title=consultation.title,
                about=consultation.summary,
                closes=self.texts.closes(consultation),
            )
        ]
        if consultation.document_url:
            parts.append(self._t(turn, "consult.card.document", url=consultation.document_url))
        own = await consultations.submission_of(
            turn.session, consultation_id=consultation.id, resident_id=turn.resident.id
        )
        if own is not None:
            when = local_time(own.updated_at, self.zone)
            parts.append(self._t(turn, "consult.card.submitted", when=when))
        if not consultations.accepting(consultation, turn.now):
            parts.append(self._t(turn, "consult.closed"))
            return [Reply(text=Markup("\n\n".join(parts)), media=self._document(consultation))]
        key = "consult.btn.edit" if own is not None else "consult.btn.answer"
        buttons = [(Button(self._t(turn, key), self._part(consultation.id)),)]
        for organisation in await organisations.represented_by(turn.session, turn.resident.id):
            buttons.append(
                (
                    Button(
                        self._button(turn, "consult.btn.for_org", organisation=organisation.name),
                        self._part(consultation.id, organisation.id),
                    ),
                )
            )
        return [
            Reply(
                text=Markup("\n\n".join(parts)),
                buttons=tuple(buttons),
                media=self._document(consultation),
            )
        ]

    def _document(self, consultation: Consultation) -> Media | None:
        if not consultation.document_ref:
            return None
        return Media("document", consultation.document_ref, consultation.document_name)

    def _part(self, consultation_id: int, organisation_id: int | None = None) -> str:
        argument = str(consultation_id)
        if organisation_id is not None:
            argument += f":{organisation_id}"
        return act.with_arg(act.CONSULT_PART, argument)

    async def _begin(self, turn: Turn, consultation: Consultation, on_behalf: int) -> list[Reply]:
        if on_behalf:
            mine = await organisations.represented_by(turn.session, turn.resident.id)
            if on_behalf not in {organisation.id for organisation in mine}:
                raise ForgedAction(act.CONSULT_PART, forged.NOT_OWN, consultation.id)
        if not consultations.accepting(consultation, turn.now):
            turn.go(FLOW_IDLE)
            return [Reply(text=self._t(turn, "consult.closed"))]
        turn.go(FLOW_CONSULT, STEP_QUESTION)
        turn.data = {"c": consultation.id, "o": on_behalf, "q": 0, "a": {}}
        own = await consultations.submission_of(
            turn.session,
            consultation_id=consultation.id,
            resident_id=turn.resident.id,
            on_behalf=on_behalf,
        )
        if own is not None and own.name:
            # An edit: the name given before is offered again (one press, no retyping).
            turn.data["before"] = own.name
        return await self._next(turn, consultation)

    async def _questions(
        self, turn: Turn, consultation: Consultation
    ) -> list[ConsultationQuestion]:
        return await consultations.questions_of(turn.session, consultation.id)

    async def _next(self, turn: Turn, consultation: Consultation) -> list[Reply]:
        """The screen of where the resident is now in the flow."""
        screen = await self._screen(turn, consultation)
        return [screen]

    async def _screen(self, turn: Turn, consultation: Consultation) -> Reply:
        if turn.step == STEP_QUESTION:
            questions = await self._questions(turn, consultation)
            index = int(turn.data.get("q", 0))
            if index >= len(questions):
                turn.go(FLOW_CONSULT, STEP_COMMENT)
            else:
                return self._question(turn, consultation, questions[index], len(questions))
        skip = Button(self._t(turn, "consult.btn.skip"), self._skip_action(consultation.id))
        if turn.step == STEP_COMMENT:
            return Reply(text=self._t(turn, "consult.ask.comment"), buttons=((skip,),))
        if turn.step == STEP_NAME:
            before = turn.data.get("before")
            if not before:
                return Reply(text=self._t(turn, "consult.ask.name"))
            keep = Button(
                self._button(turn, "consult.btn.keep_name", name=before),
                self._skip_action(consultation.id),
            )
            return Reply(text=self._t(turn, "consult.ask.name"), buttons=((keep,),))
        send = Button(
            self._t(turn, "consult.btn.send"),
            act.with_arg(act.CONSULT_SEND, str(consultation.id)),
        )
        return Reply(text=self._t(turn, "consult.ask.consent"), buttons=((send,),))

    def _skip_action(self, consultation_id: int) -> str:
        return act.with_arg(act.CONSULT_SKIP, str(consultation_id))

    def _question(
        self, turn: Turn, consultation: Consultation, question: ConsultationQuestion, total: int
    ) -> Reply:
        head = self._t(
            turn,
            "consult.ask.question",
            position=question.position + 1,
            total=total,
            asked=question.text,
        )
        if not question.options:
            return Reply(text=Markup(head + "\n\n" + self._t(turn, "consult.ask.text")))
        buttons = tuple(
            (
                Button(
                    option,
                    act.with_arg(
                        act.CONSULT_CHOICE, f"{consultation.id}:{question.position}:{index}"
                    ),
                ),
            )
            for index, option in enumerate(question.options)
        )
        return Reply(text=head, buttons=buttons)

    def _in_flow(self, turn: Turn, consultation: Consultation, step: str) -> bool:
        return (
            turn.flow == FLOW_CONSULT
            and turn.step == step
            and turn.data.get("c") == consultation.id
        )

    async def _stale(self, turn: Turn) -> list[Reply]:
        return [Reply(text=self._t(turn, "stale"))]

    async def _choice(
        self, turn: Turn, consultation: Consultation, position: str, option: str
    ) -> list[Reply]:
        index, chosen = _id(position, act.CONSULT_CHOICE), _id(option, act.CONSULT_CHOICE)
        questions = await self._questions(turn, consultation)
        if index >= len(questions) or chosen >= len(questions[index].options):
            raise ForgedAction(act.CONSULT_CHOICE, forged.BAD_OPTION, consultation.id)
        if not self._in_flow(turn, consultation, STEP_QUESTION) or turn.data["q"] != index:
            return await self._stale(turn)
        turn.data["a"][str(questions[index].id)] = {"choice": chosen}
        turn.data["q"] = index + 1
        return await self._next(turn, consultation)

    async def _skip(self, turn: Turn, consultation: Consultation) -> list[Reply]:
        """No comment (at the comment step), or the name given before (at the name step)."""
        if self._in_flow(turn, consultation, STEP_NAME) and turn.data.get("before"):
            turn.data["name"] = turn.data["before"]
            turn.go(FLOW_CONSULT, STEP_CONFIRM)
            return await self._next(turn, consultation)
        if not self._in_flow(turn, consultation, STEP_COMMENT):
            return await self._stale(turn)
        turn.data.pop("comment", None)
        turn.go(FLOW_CONSULT, STEP_NAME)
        return await self._next(turn, consultation)

    # -- typed input ---------------------------------------------------------------------------

    async def input(self, turn: Turn) -> list[Reply] | None:
        """Text (or a file, at the comment) while in the flow; None outside it."""
        if turn.flow != FLOW_CONSULT:
            return None
        consultation = await consultations.get(turn.session, int(turn.data.get("c", 0)))
        if consultation is None:
            turn.go(FLOW_IDLE)
            return None
        event = turn.event
        if event.kind in FILE_KINDS and turn.step == STEP_COMMENT and event.attachment:
            attachment = event.attachment
            turn.data["file"] = [attachment.kind, attachment.ref, attachment.file_name]
            # With the step's own button: Viber shows only the last keyboard sent.
            skip = Button(self._t(turn, "consult.btn.skip"), self._skip_action(consultation.id))
            return [Reply(text=self._t(turn, "consult.file.kept"), buttons=((skip,),))]
        if event.kind is not EventKind.TEXT:
            return [
                Reply(text=self._t(turn, "consult.text_only")),
                await self._screen(turn, consultation),
            ]
        text = (event.text or "").strip()
        limit = {STEP_NAME: NAME_MAX, STEP_COMMENT: COMMENT_MAX}.get(turn.step, ANSWER_MAX)
        if not text or len(text) > limit:
            key = "consult.too_long" if text else "consult.empty"
            return [
                Reply(text=self._t(turn, key, limit=limit)),
                await self._screen(turn, consultation),
            ]
        if turn.step == STEP_QUESTION:
            return await self._typed_answer(turn, consultation, text)
        if turn.step == STEP_COMMENT:
            turn.data["comment"] = text
            turn.go(FLOW_CONSULT, STEP_NAME)
        elif turn.step == STEP_NAME:
            turn.data["name"] = text
            turn.go(FLOW_CONSULT, STEP_CONFIRM)
        return await self._next(turn, consultation)

    async def _typed_answer(self, turn: Turn, consultation: Consultation, text: str) -> list[Reply]:
        questions = await self._questions(turn, consultation)
        index = int(turn.data.get("q", 0))
        if index >= len(questions) or questions[index].options:
            # A choice question is answered with its buttons.
            return [
                Reply(text=self._t(turn, "use_buttons")),
                await self._screen(turn, consultation),
            ]
        turn.data["a"][str(questions[index].id)] = {"text": text}
        turn.data["q"] = index + 1
        return await self._next(turn, consultation)

    # -- sending -------------------------------------------------------------------------------

    async def _send(self, turn: Turn, consultation: Consultation) -> list[Reply]:
        if not self._in_flow(turn, consultation, STEP_CONFIRM):
            return await self._stale(turn)
        turn.go(FLOW_IDLE)
        if not consultations.accepting(consultation, turn.now):
            return [Reply(text=self._t(turn, "consult.closed"))]
        data = turn.data
        questions = {str(q.id) for q in await self._questions(turn, consultation)}
        answers = {
            int(key): AnswerValue(value.get("choice"), value.get("text"))
            for key, value in data.get("a", {}).items()
            if key in questions
        }
        file = data.get("file") or [None, None, None]
        on_behalf = int(data.get("o", 0))
        saved = await consultations.save_submission(
            turn.session,
            consultation=consultation,
            resident=turn.resident,
            channel=turn.account.channel,
            organisation_id=on_behalf or None,
            words=Words(
                name=str(data.get("name", "")),
                comment=data.get("comment"),
                file_kind=file[0],
                file_ref=file[1],
                file_name=file[2],
            ),
            answers=answers,
            now=turn.now,
        )
        audit.record(
            turn.session,
            actor=turn.actor,
            action=AUDIT_SUBMIT if saved.created else AUDIT_EDIT,
            subject=f"consultation:{consultation.id}",
            now=turn.now,
            details={"organisation": on_behalf or None, "answers": len(answers)},
        )
        turn.data = {}
        key = "consult.sent" if saved.created else "consult.edited"
        return [
            Reply(
                text=self._t(
                    turn, key, title=consultation.title, closes=self.texts.closes(consultation)
                )
            )
        ]

    # -- invitations ---------------------------------------------------------------------------

    async def _respond(self, turn: Turn, parts: list[str]) -> list[Reply]:
        if len(parts) != 2 or parts[1] not in ("yes", "no"):
            raise ForgedAction(act.CONSULT_INVITE, forged.MALFORMED)
        invitation = await organisations.get_invitation(
            turn.session, _id(parts[0], act.CONSULT_INVITE)
        )
        mine = {o.id for o in await organisations.represented_by(turn.session, turn.resident.id)}
        if invitation is None or invitation.organisation_id not in mine:
            raise ForgedAction(act.CONSULT_INVITE, forged.NOT_OWN, int(parts[0]))
        response = organisations.Response(parts[1])
        recorded = await organisations.respond(
            turn.session, invitation_id=invitation.id, response=response, now=turn.now
        )
        if not recorded:
            return [Reply(text=self._t(turn, "consult.invite.already"))]
        audit.record(
            turn.session,
            actor=turn.actor,
            action=AUDIT_RESPOND,
            subject=f"invitation:{invitation.id}",
            now=turn.now,
            details={"response": response.value},
        )
        key = (
            "consult.invite.thanks_yes"
            if response is organisations.Response.YES
            else "consult.invite.thanks_no"
        )
        return [Reply(text=self._t(turn, key))]
