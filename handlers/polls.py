"""Polls on the resident side: the poll message every recipient gets, voting with its buttons
(in Telegram and Viber alike), and the results texts (residents' and staff's).

A poll message carries one button per option, ``pv:<poll id>:<option>`` ("choose this one").
After a vote the resident's copy shows their choice (Telegram edits the poll message; Viber, which
cannot edit, gets a short answer with the choice and the marked options under which the main
menu stays, see ``handlers.conversation``): chosen options are marked and, in a
multiple-choice poll, carry ``pv:<poll id>:<option>:-`` ("unchoose it"). Every vote is therefore
a "set", never a "flip": the same press written twice (a redelivered update, a double tap) is
the same vote. Votes are accepted from residents the poll was sent to, for its options, until it
closes; a late vote gets a clear answer, anything else is refused and audited as a forged action
(``handlers.forged``); neither changes anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from broadcasts.poll_results import resident_results
from handlers import actions as act
from handlers import forged
from handlers.forged import ForgedAction
from handlers.poll_totals import TotalsCache
from handlers.turn import Turn
from messaging.contract import Button, Reply
from messaging.i18n import Catalog, Markup
from messaging.text import local_time
from storage import poll_votes, polls
from storage.models import Poll

CHOSEN: Final = "✅"
UNCHOSEN: Final = "▫️"
UNSELECT: Final = "-"
QUESTION_MAX: Final = 1000
OPTION_MAX: Final = 100
# How much of the question a vote's answer quotes (Viber), to say which poll it was.
ABOUT_MAX: Final = 80

Keyboard = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class Vote:
    poll_id: int
    option: int
    selected: bool


def vote_action(poll_id: int, option: int, *, selected: bool = True) -> str:
    argument = f"{poll_id}:{option}" + ("" if selected else f":{UNSELECT}")
    return act.with_arg(act.POLL_VOTE, argument)


def parse_vote(action: str) -> Vote | None:
    """The vote a button carries, or None for anything malformed (it comes from the client)."""
    verb, argument = act.split(action)
    if verb != act.POLL_VOTE:
        return None
    parts = argument.split(":")
    if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] != UNSELECT):
        return None
    number, option = parts[0], parts[1]
    if not (number.isdigit() and option.isdigit()) or len(number) > 18 or len(option) > 3:
        return None
    return Vote(poll_id=int(number), option=int(option), selected=len(parts) == 2)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def poll_keyboard(poll: Poll, chosen: frozenset[int] = frozenset()) -> Keyboard:
    """One button per option; a resident's own copy marks what they chose."""
    rows: list[tuple[Button, ...]] = []
    for index, label in enumerate(poll.options):
        if index in chosen:
            rows.append(
                (
                    Button(
                        f"{CHOSEN} {label}",
                        vote_action(poll.id, index, selected=not poll.multiple),
                    ),
                )
            )
        elif chosen and poll.multiple:
            rows.append((Button(f"{UNCHOSEN} {label}", vote_action(poll.id, index)),))
        else:
            rows.append((Button(label, vote_action(poll.id, index)),))
    return tuple(rows)


def poll_text(catalog: Catalog, lang: str, poll: Poll, zone: ZoneInfo) -> Markup:
    """The poll message (the question is a person's text: escaped)."""
    return catalog.text(
        lang,
        "poll.message",
        question=poll.question,
        how=catalog.text(lang, "poll.how.multiple" if poll.multiple else "poll.how.single"),
        when=local_time(poll.closes_at, zone),
    )


def poll_buttons_json(poll: Poll) -> list[list[list[str]]]:
    """The poll's buttons as stored on its broadcast (``broadcasts.buttons``)."""
    return [[[button.label, button.action] for button in row] for row in poll_keyboard(poll)]


class ResidentPolls:
    """Votes from residents' buttons, inside the pipeline's transaction."""

    def __init__(self, catalog: Catalog, zone: ZoneInfo) -> None:
        self.catalog = catalog
        self.zone = zone
        self._totals = TotalsCache()

    def wants(self, action: str) -> bool:
        return act.split(action)[0] == act.POLL_VOTE

    def _t(self, turn: Turn, key: str, /, **params: object) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    async def vote(self, turn: Turn, action: str, *, in_place: bool = True) -> list[Reply]:
        """The answer to a vote: the resident's copy of the poll with their choice, to replace the
        poll message (``in_place``, Telegram), or a short confirmation of their current choice
        with the options' buttons (Viber, which cannot edit a message: a new copy of the whole
        poll would repeat it in the chat at every press).

        Raises ``ForgedAction`` for a malformed press, a poll the resident did not get or an
        option it does not have (the conversation refuses and audits it)."""
        vote = parse_vote(action)
        if vote is None:
            poll_part = act.split(action)[1].partition(":")[0]
            target = int(poll_part) if forged.is_id(poll_part) else None
            raise ForgedAction(act.POLL_VOTE, forged.MALFORMED, target)
        session = turn.session
        found_poll = await poll_votes.poll_for_vote(
            session, poll_id=vote.poll_id, resident_id=turn.resident.id
        )
        if found_poll is None or not found_poll[1]:
            # Unknown, or not sent to this resident: a forged press.
            raise ForgedAction(act.POLL_VOTE, forged.NOT_RECEIVED, vote.poll_id)
        poll = found_poll[0]
        if not 0 <= vote.option < len(poll.options):
            raise ForgedAction(act.POLL_VOTE, forged.BAD_OPTION, poll.id)
        if polls.is_closed(poll, turn.now):
            text = self._t(turn, "poll.vote.closed", question=poll.question)
            if poll.results_after_close:
                found = await polls.results(session, poll_id=poll.id)
                assert found is not None
                text = Markup(text + "\n\n" + resident_results(self.catalog, turn.lang, found))
            return [Reply(text=text)]
        mine = await self._choose(turn, poll, vote)
        found = await self._results(turn, poll)
        if not in_place:
            return [self._vote_answer(turn, poll, mine, found)]
        return [self._after_vote(turn, poll, mine, found)]

    async def _choose(self, turn: Turn, poll: Poll, vote: Vote) -> frozenset[int]:
        """Apply the press (written and audited only where it changes something); the
        resident's options after it."""
        pressed = await poll_votes.press(
            turn.session,
            poll=poll,
            resident_id=turn.resident.id,
            option=vote.option,
            selected=vote.selected,
            district=turn.resident.district,
            channel=turn.account.channel,
            now=turn.now,
            actor=turn.actor,
        )
        if pressed.after != pressed.before:
            self._totals.moved(poll.id, pressed.before, pressed.after)
        return pressed.after

    async def _results(self, turn: Turn, poll: Poll) -> polls.Results | None:
        """What the resident sees of the results: the totals, at most ``TOTALS_TTL`` old (with
        this press in them), so a poll with many voters is not counted again at every press."""
        if not poll.results_after_vote:
            return None
        found = await self._totals.get(turn.session, poll.id, len(poll.options))
        return polls.Results(
            poll_id=poll.id,
            question=poll.question,
            options=list(poll.options),
            multiple=poll.multiple,
            status=poll.status,
            closes_at=poll.closes_at,
            reached=0,
            total=polls.Tally(list(found.votes), found.voters),
        )

    def _status(self, turn: Turn, poll: Poll, mine: frozenset[int]) -> Markup:
        if mine:
            choice = ", ".join(poll.options[index] for index in sorted(mine))
            return self._t(turn, "poll.vote.counted", choice=choice)
        return self._t(turn, "poll.vote.none")

    def _vote_answer(
        self, turn: Turn, poll: Poll, mine: frozenset[int], found: polls.Results | None
    ) -> Reply:
        """A new message after a vote: which poll, the resident's current choice, the results
        if the poll shows them after voting, and the options marked (to change the vote)."""
        about = self._t(turn, "poll.vote.about", question=_clip(poll.question, ABOUT_MAX))
        text = Markup(about + "\n" + self._status(turn, poll, mine))
        if found is not None:
            text = Markup(text + "\n\n" + resident_results(self.catalog, turn.lang, found))
        return Reply(text=text, buttons=poll_keyboard(poll, mine))

    def _after_vote(
        self, turn: Turn, poll: Poll, mine: frozenset[int], found: polls.Results | None
    ) -> Reply:
        """The resident's copy of the poll with their choice (Telegram edits it in place)."""
        parts = [
            poll_text(self.catalog, turn.lang, poll, self.zone),
            self._status(turn, poll, mine),
        ]
        if found is not None:
            parts.append(resident_results(self.catalog, turn.lang, found))
        return Reply(
            text=Markup("\n\n".join(parts)),
            buttons=poll_keyboard(poll, mine),
            replace=True,
        )
