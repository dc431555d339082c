"""The form engine of the four filing flows: which step comes next (answered steps skipped,
Back reaches them again), the screen of each step and the confirmation, and what a resident's
text, contact, file or location answers. Submitting is the flow's (``handlers.tickets.flows``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers import actions as act
from handlers.tickets.forms import (
    FORMS,
    MAX_ATTACHMENTS,
    Input,
    Invalid,
    Step,
    applicable_steps,
    check_text,
    normalize_phone,
)
from handlers.tickets.texts import TicketScreens
from handlers.turn import Turn
from messaging import labels
from messaging.contract import FILE_KINDS, Button, EventKind, Reply
from messaging.i18n import Markup
from storage.deadlines import TicketKind

STEP_CONFIRM = "confirm"
STEP_CONSENT = "consent"
# The longest caption kept with a file: Telegram allows 1,024 characters (4,096 with Premium),
# Viber less; the column is unbounded text. Longer is refused, never cut.
CAPTION_MAX = 4096


@dataclass(frozen=True, slots=True)
class Prefill:
    """What the resident already sent before choosing a flow (a kept free-text draft): the
    flow starts with it and asks only for the rest."""

    body: str | None = None
    attachments: tuple[dict[str, Any], ...] = ()
    category: str | None = None
    # The category the bot suggested (recorded on the ticket to measure the suggester).
    suggested: str | None = None


class FormEngine(TicketScreens):
    """The steps of a filing form over the conversation state (``turn.data``)."""

    def _prefill(self, turn: Turn, kind: TicketKind, prefill: Prefill) -> list[Reply]:
        """Answer the steps ``prefill`` answers; steps so answered are skipped (``_advance``),
        and Back still reaches them to change them. A body the form does not accept (too
        short for this kind) is asked for again, with the reason."""
        done: list[str] = []
        notes: list[Reply] = []
        answers = self._answers(turn)
        steps = {step.key: step for step in FORMS[kind]}
        if prefill.attachments:
            self._attachments(turn).extend(dict(item) for item in prefill.attachments)
            if "attachments" in steps:
                done.append("attachments")
        category = steps.get("category")
        if category is not None and prefill.category in category.choices:
            answers["category"] = prefill.category
            done.append("category")
        body = steps.get("body")
        if body is not None and prefill.body:
            try:
                answers["body"] = check_text(body, prefill.body)
                done.append("body")
            except Invalid as error:
                notes.append(Reply(text=self._t(turn, error.key, **error.params)))
        turn.data["prefilled"] = done
        if prefill.suggested is not None:
            turn.data["suggested"] = prefill.suggested
        return notes

    def _first_missing(self, turn: Turn, kind: TicketKind) -> str:
        """The first step the resident still has to answer (the confirmation if none)."""
        done = set(turn.data.get("prefilled", ()))
        for step in self._steps(turn, kind):
            if step.key not in done:
                return step.key
        return STEP_CONFIRM

    def _kind(self, turn: Turn) -> TicketKind:
        return TicketKind(turn.data["kind"])

    def _answers(self, turn: Turn) -> dict[str, Any]:
        answers: dict[str, Any] = turn.data.setdefault("answers", {})
        return answers

    def _attachments(self, turn: Turn) -> list[dict[str, Any]]:
        attachments: list[dict[str, Any]] = turn.data.setdefault("attachments", [])
        return attachments

    def _steps(self, turn: Turn, kind: TicketKind) -> list[Step]:
        answers = turn.data.get("answers", {}) if turn.data else {}
        return applicable_steps(kind, answers, consent=turn.resident.has_consent)

    def _step(self, turn: Turn) -> Step | None:
        for step in self._steps(turn, self._kind(turn)):
            if step.key == turn.step:
                return step
        return None

    def _advance(self, turn: Turn) -> None:
        steps = self._steps(turn, self._kind(turn))
        keys = [s.key for s in steps]
        index = keys.index(turn.step) if turn.step in keys else -1
        # Steps answered by what the resident sent before the flow began are not asked.
        done = set(turn.data.get("prefilled", ()))
        index += 1
        while index < len(keys) and keys[index] in done:
            index += 1
        turn.step = keys[index] if index < len(keys) else STEP_CONFIRM

    def _back(self, turn: Turn) -> bool:
        """Go to the previous step; False when already at the first one."""
        keys = [s.key for s in self._steps(turn, self._kind(turn))]
        if turn.step == STEP_CONFIRM:
            turn.step = keys[-1]
            return True
        index = keys.index(turn.step) if turn.step in keys else 0
        if index == 0:
            return False
        turn.step = keys[index - 1]
        return True

    def _form_screen(self, turn: Turn) -> Reply:
        kind = self._kind(turn)
        if turn.step == STEP_CONSENT:
            return Reply(
                text=self._t(turn, "file.needs_consent"),
                buttons=(
                    (Button(self._t(turn, "btn.consent_yes"), act.CONSENT_YES),),
                    (Button(self._t(turn, "btn.policy"), act.CONSENT_POLICY),),
                    self._nav(turn, back=False),
                ),
            )
        if turn.step == STEP_CONFIRM:
            return self._confirm_screen(turn, kind)
        step = self._step(turn)
        if step is None:
            # The state names a step that no longer applies (the form changed): restart it.
            turn.step = self._steps(turn, kind)[0].key
            step = self._step(turn)
            assert step is not None
        keys = [s.key for s in self._steps(turn, kind)]
        progress = self._t(turn, "form.progress", step=keys.index(step.key) + 1, total=len(keys))
        prompt = self.catalog.text(turn.lang, self._prompt_key(kind, step))
        text = Markup(f"{progress}\n{prompt}")
        rows: list[tuple[Button, ...]] = []
        if step.input is Input.CHOICE:
            rows.extend(
                (
                    Button(
                        self._choice_label(turn, step.key, value), act.with_arg(act.CHOOSE, value)
                    ),
                )
                for value in step.choices
            )
        if step.input is Input.ATTACHMENTS:
            count = len(self._attachments(turn))
            if count:
                text = Markup(text + "\n" + self._t(turn, "form.attachments.count", count=count))
            rows.append((Button(self._t(turn, "btn.next"), act.FORM_NEXT),))
        rows.append(self._nav(turn))
        return Reply(text=text, buttons=tuple(rows))

    def _prompt_key(self, kind: TicketKind, step: Step) -> str:
        return labels.FORM_KIND_PROMPT.get((kind.value, step.key)) or labels.FORM_PROMPT[step.key]

    def _choice_label(self, turn: Turn, key: str, value: str) -> str:
        if value in labels.CHOICE_FLAG:
            return self._t(turn, labels.CHOICE_FLAG[value])
        return self._t(turn, labels.CHOICES[key][value])

    def _confirm_screen(self, turn: Turn, kind: TicketKind) -> Reply:
        answers = self._answers(turn)
        lines = [self._t(turn, "form.confirm", kind=self._t(turn, labels.KIND[kind.value]))]
        for step in self._steps(turn, kind):
            if step.input is Input.ATTACHMENTS:
                count = len(self._attachments(turn))
                if count:
                    lines.append(self._t(turn, "form.summary.attachments", count=count))
                continue
            value = answers.get(step.key)
            if value is None:
                continue
            shown = (
                self._choice_label(turn, step.key, value) if step.input is Input.CHOICE else value
            )
            label = self._t(turn, labels.FIELD[step.key])
            lines.append(self._t(turn, "form.summary.line", label=label, value=shown))
        return Reply(
            text=Markup("\n".join(lines)),
            buttons=(
                (Button(self._t(turn, "btn.submit"), act.FORM_SUBMIT),),
                self._nav(turn),
            ),
        )

    async def _form_input(self, turn: Turn) -> list[Reply]:
        event = turn.event
        if turn.step in (STEP_CONSENT, STEP_CONFIRM):
            return [self._again(turn, "use_buttons")]
        step = self._step(turn)
        if step is None:
            return [self._form_screen(turn)]
        if event.kind in FILE_KINDS or event.kind is EventKind.LOCATION:
            return self._attach(turn, step)
        if step.input is Input.ATTACHMENTS:
            return [self._again(turn, "form.attachments.hint")]
        if step.input is Input.CHOICE:
            return [self._again(turn, "use_buttons")]
        if event.kind is EventKind.CONTACT and event.contact is not None:
            raw = event.contact.phone
            if step.input in (Input.CONTACT, Input.REPLY_ADDRESS):
                raw = normalize_phone(raw) or raw
        elif event.kind is EventKind.TEXT:
            raw = event.text or ""
        else:
            return [self._again(turn, "form.error.text_expected")]
        try:
            value = check_text(step, raw)
        except Invalid as error:
            return [self._again(turn, error.key, **error.params)]
        self._answers(turn)[step.key] = value
        self._advance(turn)
        return [self._form_screen(turn)]

    def _again(self, turn: Turn, key: str, **params: Any) -> Reply:
        screen = self._form_screen(turn)
        return Reply(
            text=Markup(self._t(turn, key, **params) + "\n\n" + screen.text), buttons=screen.buttons
        )

    def _attach(self, turn: Turn, step: Step) -> list[Reply]:
        """Photos, documents, videos and locations are kept during the body and attachment
        steps; a file's caption is kept with it (or, at the body step, is the body)."""
        kind = self._kind(turn)
        allowed = {s.key for s in self._steps(turn, kind) if s.input is Input.ATTACHMENTS}
        if not allowed or step.key not in ("body", *allowed):
            return [self._again(turn, "form.error.text_expected")]
        attachments = self._attachments(turn)
        if len(attachments) >= MAX_ATTACHMENTS:
            return [self._again(turn, "form.attachments.full", count=MAX_ATTACHMENTS)]
        event = turn.event
        caption = (event.text or "").strip()
        if len(caption) > CAPTION_MAX:
            return [self._again(turn, "form.error.too_long", count=len(caption), limit=CAPTION_MAX)]
        item: dict[str, Any]
        if event.location is not None:
            item = {
                "kind": "location",
                "ref": f"{event.location.latitude},{event.location.longitude}",
                "name": None,
            }
        elif event.attachment is not None:
            item = {
                "kind": event.attachment.kind,
                "ref": event.attachment.ref,
                "name": event.attachment.file_name,
            }
        else:
            return [self._again(turn, "form.error.text_expected")]
        attachments.append(item)
        if step.key == "body" and caption:
            # A photo with a caption answers the question too.
            try:
                self._answers(turn)["body"] = check_text(step, caption)
            except Invalid as error:
                # Not a usable body (too short…): keep the words with the file instead.
                item["caption"] = caption
                return [self._again(turn, error.key, **error.params)]
            self._advance(turn)
            return [self._form_screen(turn)]
        if caption:
            item["caption"] = caption
        key = "form.attachments.added_body" if step.key == "body" else "form.attachments.added"
        return [self._again(turn, key, count=len(attachments))]
