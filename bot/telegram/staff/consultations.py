"""Public consultations and the organisation registry in the operator chat (issue 18), over the
staff core's operations (``handlers.staff.consultations``). Commands, in a staff chat:

- ``/consult`` — the list; ``/consult N`` — one consultation with its comments;
- ``/consult new`` with the draft on the following lines (``text_form``), ``/consult publish N``,
  ``/consult close N <outcome>``, ``/consult decide S accepted|partly|rejected [reason]``,
  ``/consult export N`` (the CSV and the PDF as files);
- ``/org`` — the registry; ``/org add <ngo|party|religious|initiative> <name>`` and
  ``/org edit N`` (with ``person:``, ``contact:``, ``topics:``, ``districts:`` lines),
  ``/org code N`` (the representative's one-time code), ``/org invite N[,M…] consult K`` or
  ``/org invite N[,M…] meeting <what and when>``, ``/org responses K``.

A Feature of the staff chats' ``FeatureEdge``: one transaction per message, the update claimed,
the core's calls joined to it, the Telegram replies sent once it committed.
"""

from __future__ import annotations

from typing import Final

from aiogram import Bot, Dispatcher, F
from aiogram.enums import ParseMode
from aiogram.types import BufferedInputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.telegram.staff.chat_router import GROUP_CHATS
from bot.telegram.staff.command_line import parse_command
from bot.telegram.staff.composing import is_composer_chat
from bot.telegram.staff.edge import EVENT_FLAG, Edge, install_feature_edge
from bot.telegram.staff.identity import actor_of
from handlers.staff import consultations as ops
from handlers.staff.consultations.text_form import FormError, parse_draft, parse_organisation
from handlers.staff.core import Actor, Reason, Refused
from handlers.staff.tickets.context import Within
from messaging import labels
from messaging.i18n import N_, Markup
from messaging.text import clean_text, local_time
from storage.models import Organisation
from storage.vocabulary import Clock

KEY: Final = "consultations"
CMD_CONSULT: Final = "consult"
CMD_ORG: Final = "org"
COMMANDS: Final = frozenset({CMD_CONSULT, CMD_ORG})
# How many comments a card lists (the export has them all).
COMMENTS_SHOWN: Final = 20
EXCERPT: Final = 300

REFUSED: Final = {
    Reason.NOT_STAFF: N_("staff.denied"),
    Reason.ROLE: N_("staff.consult.refused.role"),
    Reason.NOT_FOUND: N_("staff.consult.refused.not_found"),
    Reason.STATE: N_("staff.consult.refused.state"),
}
# The core's codes (``Refused.details["code"]``) in words; others: "invalid".
CODES: Final = {
    "empty": N_("staff.consult.error.empty"),
    "too_long": N_("desk.error.too_long"),
    "bad_topic": N_("staff.consult.error.bad_topic"),
    "bad_district": N_("staff.consult.error.bad_district"),
    "bad_dates": N_("staff.consult.error.bad_dates"),
    "no_questions": N_("staff.consult.error.no_questions"),
    "bad_options": N_("staff.consult.error.bad_options"),
    "no_reason": N_("staff.consult.error.no_reason"),
    "bad_kind": N_("staff.consult.error.bad_kind"),
}


def _first_word(text: str) -> tuple[str, str]:
    """The first word and the rest (its line breaks kept: a draft's lines)."""
    parts = text.strip().split(maxsplit=1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (parts[0] if parts else "", "")


def _number(text: str) -> int | None:
    text = text.lstrip("#")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


class ConsultChat:
    """The Telegram side of the consultation and organisation operations."""

    answer_duplicates = False

    def __init__(
        self,
        *,
        bot: Bot,
        core: ops.ConsultationCore,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        operator_chat_id: int | None,
    ) -> None:
        self.bot = bot
        self.core = core
        self.sessionmaker = sessionmaker
        self.clock = clock
        self.operator_chat_id = operator_chat_id

    def t(self, key: str, /, **params: object) -> Markup:
        return self.core.catalog.text(self.core.default_language, key, **params)

    async def is_staff_chat(self, chat_id: int) -> bool:
        return await is_composer_chat(
            self.sessionmaker, chat_id, editors_chat_id=None, operator_chat_id=self.operator_chat_id
        )

    async def wants(self, message: Message, bot_username: str) -> bool:
        text = message.text or ""
        command = parse_command(text, bot_username) if text.startswith("/") else None
        if command is None or command.name not in COMMANDS:
            return False
        return await self.is_staff_chat(message.chat.id)

    def refusal(self, refused: Refused) -> Markup:
        code = str(refused.details.get("code", ""))
        if code in CODES:
            return self.t(CODES[code])
        if refused.reason is Reason.INVALID:
            return self.t("staff.consult.refused.invalid")
        return self.t(REFUSED.get(refused.reason, N_("staff.consult.refused.invalid")))

    # -- events ---------------------------------------------------------------------------

    async def on_message(self, message: Message, bot: Bot, staff_edge: Edge) -> None:
        assert message.from_user is not None
        me = await bot.me()
        # Cleaned as every staff text is (NUL, lone surrogates, NFC) before it is stored.
        command = parse_command(clean_text(message.text or ""), me.username or "")
        assert command is not None  # ``wants``
        actor, _ = await actor_of(staff_edge.session, message.from_user.id)
        within = Within(session=staff_edge.session, after=staff_edge.after)
        verb, rest = _first_word(command.args)
        if command.name == CMD_CONSULT:
            reply = await self._consult(actor, within, staff_edge, message, verb, rest.strip())
        else:
            reply = await self._org(actor, within, verb, rest.strip())
        if reply is not None:
            staff_edge.later(self.reply, message, reply)

    async def _consult(
        self, actor: Actor, within: Within, edge: Edge, message: Message, verb: str, rest: str
    ) -> Markup | None:
        if not verb:
            return await self._list(actor, within)
        if verb == "new":
            return await self._new(actor, within, rest)
        if verb.lstrip("#").isdigit():
            number = _number(verb)
            return (
                self.t("staff.consult.usage")
                if number is None
                else await self._card(actor, within, number)
            )
        first, argument = _first_word(rest)
        number = _number(first)
        if number is None:
            return self.t("staff.consult.usage")
        return await self._on_one(actor, within, edge, message, verb, number, argument)

    async def _on_one(
        self,
        actor: Actor,
        within: Within,
        edge: Edge,
        message: Message,
        verb: str,
        number: int,
        argument: str,
    ) -> Markup | None:
        """``publish``, ``close``, ``decide`` and ``export`` of consultation (or submission)
        ``number``."""
        if verb == "publish":
            published = await ops.publish(self.core, actor, number, within=within)
            if isinstance(published, Refused):
                return self.refusal(published)
            return self.t("staff.consult.published", id=number, total=published.value.recipients)
        if verb == "close":
            closed = await ops.close(self.core, actor, number, argument, within=within)
            if isinstance(closed, Refused):
                return self.refusal(closed)
            value = closed.value
            return self.t(
                "staff.consult.closed", id=number, total=value.recipients, url=value.link or "—"
            )
        if verb == "decide":
            decision, reason = _first_word(argument)
            decided = await ops.decide(self.core, actor, number, decision, reason, within=within)
            if isinstance(decided, Refused):
                return self.refusal(decided)
            return self.t("staff.consult.decided", id=number)
        if verb == "export":
            exported = await ops.export(self.core, actor, number, within=within)
            if isinstance(exported, Refused):
                return self.refusal(exported)
            edge.later(self.send_files, message, number, exported.value)
            return None
        return self.t("staff.consult.usage")

    async def _list(self, actor: Actor, within: Within) -> Markup:
        listed = await ops.listing(self.core, actor, within=within)
        if isinstance(listed, Refused):
            return self.refusal(listed)
        if not listed.value:
            return self.t("staff.consult.none")
        lines = [
            self.t(
                "staff.consult.line",
                id=c.id,
                status=c.status,
                title=c.title,
                closes=local_time(c.closes_at, self.core.zone),
            )
            for c in listed.value
        ]
        return Markup("\n".join(lines))

    async def _new(self, actor: Actor, within: Within, body: str) -> Markup:
        draft = parse_draft(body, zone=self.core.zone, now=self.clock())
        if isinstance(draft, FormError):
            return self.t("staff.consult.form_error", label=draft.field)
        created = await ops.create(self.core, actor, draft, within=within)
        if isinstance(created, Refused):
            return self.refusal(created)
        return self.t("staff.consult.created", id=created.value.id)

    async def _card(self, actor: Actor, within: Within, number: int) -> Markup:
        shown = await ops.card(self.core, actor, number, within=within)
        if isinstance(shown, Refused):
            return self.refusal(shown)
        card = shown.value
        c = card.consultation
        lines: list[str] = [
            self.t(
                "staff.consult.card",
                id=c.id,
                title=c.title,
                status=c.status,
                closes=local_time(c.closes_at, self.core.zone),
                count=len(card.submissions),
            )
        ]
        lines += [f"{q.position + 1}. {q.text}" for q in card.questions]
        commented = [s for s in card.submissions if s.comment][:COMMENTS_SHOWN]
        for submission in commented:
            code = submission.decision or ""
            decision = self.t(labels.CONSULT_DECISION.get(code, N_("consult.decision.none")))
            text = (submission.comment or "")[:EXCERPT]
            lines.append(
                self.t("staff.consult.comment", id=submission.id, decision=decision, text=text)
            )
        return Markup("\n".join(lines))

    async def _org(self, actor: Actor, within: Within, verb: str, rest: str) -> Markup:
        if not verb:
            listed = await ops.registry(self.core, actor, within=within)
            if isinstance(listed, Refused):
                return self.refusal(listed)
            if not listed.value:
                return self.t("staff.org.none")
            return Markup("\n".join(self._org_line(o) for o in listed.value))
        if verb in ("add", "edit"):
            return await self._save(actor, within, verb, rest)
        if verb == "code":
            number = _number(rest)
            if number is None:
                return self.t("staff.org.usage")
            issued = await ops.issue_code(self.core, actor, number, within=within)
            if isinstance(issued, Refused):
                return self.refusal(issued)
            code = issued.value
            when = local_time(code.expires_at, self.core.zone)
            return self.t(
                "staff.org.code", organisation=code.organisation.name, org_code=code.code, when=when
            )
        if verb == "invite":
            return await self._invite(actor, within, rest)
        if verb == "responses":
            return await self._responses(actor, within, _number(rest))
        return self.t("staff.org.usage")

    async def _save(self, actor: Actor, within: Within, verb: str, rest: str) -> Markup:
        """``/org add <kind> <name>`` or ``/org edit N`` + ``<kind> <name>``, each with the
        optional ``person:``, ``contact:``, ``topics:``, ``districts:`` lines."""
        number = None
        if verb == "edit":
            first, rest = _first_word(rest)
            number = _number(first)
            if number is None:
                return self.t("staff.org.usage")
        draft = parse_organisation(rest)
        if isinstance(draft, FormError):
            return self.t("staff.consult.form_error", label=draft.field)
        saved = (
            await ops.register(self.core, actor, draft, within=within)
            if number is None
            else await ops.edit(self.core, actor, number, draft, within=within)
        )
        if isinstance(saved, Refused):
            return self.refusal(saved)
        if number is not None:
            return self.t("staff.org.saved", id=number)
        return self.t("staff.org.added", id=saved.value.id)

    def _org_line(self, organisation: Organisation) -> Markup:
        return self.t(
            "staff.org.line",
            id=organisation.id,
            name=organisation.name,
            kind=self.t(labels.ORGANISATION_KIND[organisation.kind]),
            linked=self.t(
                "summary.yes" if organisation.representative_id is not None else "summary.no"
            ),
        )

    async def _invite(self, actor: Actor, within: Within, rest: str) -> Markup:
        ids_text, _, target = rest.partition(" ")
        ids = [_number(part) for part in ids_text.split(",")]
        what, _, argument = target.strip().partition(" ")
        if not ids or any(i is None for i in ids) or what not in ("consult", "meeting"):
            return self.t("staff.org.usage")
        organisation_ids = tuple(i for i in ids if i is not None)
        if what == "consult":
            number = _number(argument.strip())
            if number is None:
                return self.t("staff.org.usage")
            invite = ops.Invite(organisation_ids, consultation_id=number)
        else:
            invite = ops.Invite(organisation_ids, meeting=argument.strip())
        invited = await ops.invite(self.core, actor, invite, within=within)
        if isinstance(invited, Refused):
            return self.refusal(invited)
        value = invited.value
        return self.t("staff.org.invited", count=len(value.invitation_ids), total=value.reached)

    async def _responses(self, actor: Actor, within: Within, number: int | None) -> Markup:
        listed = await ops.responses(self.core, actor, consultation_id=number, within=within)
        if isinstance(listed, Refused):
            return self.refusal(listed)
        if not listed.value:
            return self.t("staff.org.no_invitations")
        lines = []
        for item in listed.value:
            response = item.invitation.response
            lines.append(
                self.t(
                    "staff.org.response",
                    organisation=item.organisation.name,
                    status=self.t(
                        "consult.btn.invite_yes"
                        if response == "yes"
                        else "consult.btn.invite_no"
                        if response == "no"
                        else "staff.org.no_answer"
                    ),
                    submitted=self.t("summary.yes" if item.submitted else "summary.no"),
                )
            )
        return Markup("\n".join(lines))

    # -- Telegram, after the commit -------------------------------------------------------

    async def reply(self, message: Message, text: str) -> None:
        await message.reply(text, parse_mode=ParseMode.HTML)

    async def send_files(self, message: Message, number: int, files: ops.Export) -> None:
        for content, name in (
            (files.csv.encode("utf-8-sig"), f"consultation-{number}.csv"),
            (files.pdf, f"consultation-{number}.pdf"),
        ):
            await self.bot.send_document(
                message.chat.id,
                BufferedInputFile(content, filename=name),
                message_thread_id=message.message_thread_id,
            )


def install_consultations(
    dispatcher: Dispatcher,
    *,
    bot: Bot,
    core: ops.ConsultationCore,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    operator_chat_id: int | None,
) -> ConsultChat:
    """Build the consultation and organisation commands and register them (the composition
    root's one call)."""
    chat = ConsultChat(
        bot=bot,
        core=core,
        sessionmaker=sessionmaker,
        clock=clock,
        operator_chat_id=operator_chat_id,
    )
    install_feature_edge(dispatcher)
    dispatcher[KEY] = chat
    flags = {EVENT_FLAG: KEY}

    async def is_ours(message: Message, bot: Bot) -> bool:
        me = await bot.me()
        return await chat.wants(message, me.username or "")

    dispatcher.message.register(chat.on_message, F.chat.type.in_(GROUP_CHATS), is_ours, flags=flags)
    return chat
