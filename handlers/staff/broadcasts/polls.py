"""Poll operations of the staff core: compose, target, settings, closing time, send now,
schedule, cancel, close early.

As for news (``handlers.staff.broadcasts.news``): ``PollCore`` is what a desk calls with the
acting staff member; ``PollOps`` are the same steps inside a call a desk opened itself. A poll
can be changed while its broadcast is a draft; what was sent or scheduled is what residents get.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar
from zoneinfo import ZoneInfo

from handlers.polls import poll_buttons_json, poll_text
from handlers.staff.broadcasts.common import Starter, Wake, audit, iso, refused
from handlers.staff.broadcasts.news import Choice, Target
from handlers.staff.broadcasts.targets import (
    choose,
    count_audience,
    toggle_channel,
    toggle_code,
)
from handlers.staff.core import EDITORS, Actor, Done, Outcome, Reason, Refused, StaffCall, StaffCore
from messaging.i18n import Catalog
from storage import broadcast_lifecycle as lifecycle
from storage import polls
from storage.broadcast_lifecycle import LifecycleError
from storage.models import Broadcast, Poll

T = TypeVar("T")
# A new poll closes this long after it was composed unless the editor changes it.
DEFAULT_DAYS = 7
# ``Refused(Reason.INVALID)`` details: nobody to send to; it would close before it starts.
NOBODY = "nobody"
CLOSES_FIRST = "closes_before_start"


class Setting(StrEnum):
    MULTIPLE = "multiple"  # single or multiple choice
    AFTER_VOTE = "results_after_vote"
    AFTER_CLOSE = "results_after_close"
    PUBLISH = "publish_results"  # to the voters, at closing


@dataclass(frozen=True, slots=True)
class Sent:
    poll_id: int
    recipients: int


def subject(poll: Poll) -> str:
    return f"poll:{poll.id}"


class PollOps:
    """The poll steps inside an open staff call, on a locked poll and its broadcast."""

    def __init__(self, *, catalog: Catalog, zone: ZoneInfo, wake: Wake) -> None:
        self._catalog = catalog
        self._zone = zone
        self._starter = Starter(wake)

    async def create(
        self, call: StaffCall, *, question: str, options: tuple[str, ...], chat_id: int | None
    ) -> Poll:
        poll = await polls.create_poll(
            call.session,
            question=question,
            options=options,
            closes_at=call.now + timedelta(days=DEFAULT_DAYS),
            now=call.now,
            created_by=call.staff.id,
            chat_id=chat_id,
        )
        audit(call, "poll.draft", subject(poll))
        return poll

    def target(self, broadcast: Broadcast, what: Target, code: str) -> Outcome[None]:
        """Topics, districts or channels, by the news rules."""
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        if what is Target.CHANNEL:
            problem = toggle_channel(broadcast, code)
        elif what in (Target.TOPIC, Target.DISTRICT):
            problem = toggle_code(broadcast, code, topics=what is Target.TOPIC)
        else:
            problem = "news.bad_button"
        return Done(None) if problem is None else Refused(Reason.INVALID, {"problem": problem})

    def toggle(self, poll: Poll, broadcast: Broadcast, setting: Setting) -> Outcome[bool]:
        """Switch one of the poll's settings; returns its new value."""
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        value = not getattr(poll, setting.value)
        setattr(poll, setting.value, value)
        return Done(value)

    def set_closes(
        self, call: StaffCall, poll: Poll, broadcast: Broadcast, when: datetime
    ) -> Outcome[None]:
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        poll.closes_at = when
        audit(call, "poll.closes", subject(poll), at=when.isoformat())
        return Done(None)

    def configure(
        self,
        call: StaffCall,
        poll: Poll,
        broadcast: Broadcast,
        *,
        choice: Choice,
        multiple: bool,
        closes_at: datetime,
    ) -> Outcome[None]:
        """Every target, single or multiple choice and the closing time at once (a desk's
        form), for a draft."""
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        if closes_at <= call.now:
            return Refused(Reason.INVALID, {"problem": CLOSES_FIRST})
        problem = choose(
            broadcast, topics=choice.topics, districts=choice.districts, channels=choice.channels
        )
        if problem is not None:
            return Refused(Reason.INVALID, {"problem": problem})
        broadcast.urgent = choice.urgent
        poll.multiple = multiple
        poll.closes_at = closes_at
        audit(call, "poll.configured", subject(poll), closes=closes_at.isoformat())
        return Done(None)

    def schedule(
        self,
        call: StaffCall,
        poll: Poll,
        broadcast: Broadcast,
        *,
        when: datetime,
        report_to: int | None,
    ) -> Outcome[None]:
        if poll.closes_at <= when:
            return Refused(Reason.INVALID, {"problem": CLOSES_FIRST})
        try:
            lifecycle.schedule(broadcast, when=when, now=call.now)
        except LifecycleError as error:
            return refused(error)
        self._freeze(poll, broadcast)
        # Where the progress message goes once the scheduler starts it.
        broadcast.progress_chat_id = report_to
        audit(call, "poll.scheduled", subject(poll), at=iso(when))
        return Done(None)

    async def send(
        self, call: StaffCall, poll: Poll, broadcast: Broadcast, *, report_to: int | None
    ) -> Outcome[Sent]:
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        if poll.closes_at <= call.now:
            return Refused(Reason.INVALID, {"problem": CLOSES_FIRST})
        if not await count_audience(call.session, broadcast):
            return Refused(Reason.INVALID, {"problem": NOBODY})
        self._freeze(poll, broadcast)
        broadcast.progress_chat_id = report_to
        count = await self._starter.start(call, broadcast, statuses=lifecycle.START_NOW)
        audit(call, "poll.sent", subject(poll), recipients=count)
        return Done(Sent(poll.id, count))

    async def cancel(self, call: StaffCall, poll: Poll, broadcast: Broadcast) -> Outcome[None]:
        """A draft or scheduled poll is cancelled, and closed (nobody can vote in it)."""
        if broadcast.status == lifecycle.PENDING:
            return Refused(Reason.STATE, {"status": broadcast.status})
        try:
            lifecycle.cancel(broadcast, now=call.now)
        except LifecycleError as error:
            return refused(error)
        await polls.close_poll(call.session, poll_id=poll.id, now=call.now)
        audit(call, "poll.cancelled", subject(poll))
        return Done(None)

    async def close(self, call: StaffCall, poll_id: int) -> Outcome[int]:
        """Close an open poll now; what was not sent yet is cancelled."""
        poll = await polls.get_poll(call.session, poll_id=poll_id)
        if poll is None:
            return Refused(Reason.NOT_FOUND, {"id": poll_id})
        if not await polls.close_poll(call.session, poll_id=poll.id, now=call.now):
            return Refused(Reason.STATE, {"id": poll.id})
        audit(call, "poll.closed_early", subject(poll))
        return Done(poll.id)

    def _freeze(self, poll: Poll, broadcast: Broadcast) -> None:
        """What residents get: the poll message and its buttons, fixed when it is submitted."""
        broadcast.text = poll_text(self._catalog, self._catalog.default, poll, self._zone)
        broadcast.buttons = poll_buttons_json(poll)


Step = Callable[[StaffCall, Poll, Broadcast], Awaitable[Outcome[T]]]


class PollCore:
    """Poll operations for any desk (editors and administrators)."""

    def __init__(self, core: StaffCore, *, catalog: Catalog, zone: ZoneInfo, wake: Wake) -> None:
        self._core = core
        self.ops = PollOps(catalog=catalog, zone=zone, wake=wake)

    async def compose(
        self, actor: Actor, *, question: str, options: tuple[str, ...], chat_id: int | None = None
    ) -> Outcome[int]:
        async with self._core.call(actor, roles=EDITORS) as call:
            if isinstance(call, Refused):
                return call
            poll = await self.ops.create(call, question=question, options=options, chat_id=chat_id)
            return Done(poll.id)

    async def on(self, actor: Actor, poll_id: int, step: Step[T]) -> Outcome[T]:
        """Run ``step`` on the poll (locked) and its broadcast."""
        async with self._core.call(actor, roles=EDITORS) as call:
            if isinstance(call, Refused):
                return call
            poll = await polls.lock_poll(call.session, poll_id=poll_id)
            if poll is None:
                return Refused(Reason.NOT_FOUND, {"id": poll_id})
            return await step(call, poll, await polls.poll_broadcast(call.session, poll))

    async def send(
        self, actor: Actor, poll_id: int, *, report_to: int | None = None
    ) -> Outcome[Sent]:
        async def step(call: StaffCall, poll: Poll, broadcast: Broadcast) -> Outcome[Sent]:
            return await self.ops.send(call, poll, broadcast, report_to=report_to)

        return await self.on(actor, poll_id, step)

    async def schedule(
        self, actor: Actor, poll_id: int, *, when: datetime, report_to: int | None = None
    ) -> Outcome[None]:
        async def step(call: StaffCall, poll: Poll, broadcast: Broadcast) -> Outcome[None]:
            return self.ops.schedule(call, poll, broadcast, when=when, report_to=report_to)

        return await self.on(actor, poll_id, step)

    async def configure(
        self,
        actor: Actor,
        poll_id: int,
        *,
        choice: Choice,
        multiple: bool,
        closes_at: datetime,
    ) -> Outcome[None]:
        async def step(call: StaffCall, poll: Poll, broadcast: Broadcast) -> Outcome[None]:
            return self.ops.configure(
                call, poll, broadcast, choice=choice, multiple=multiple, closes_at=closes_at
            )

        return await self.on(actor, poll_id, step)

    async def toggle(self, actor: Actor, poll_id: int, setting: Setting) -> Outcome[bool]:
        async def step(_call: StaffCall, poll: Poll, broadcast: Broadcast) -> Outcome[bool]:
            return self.ops.toggle(poll, broadcast, setting)

        return await self.on(actor, poll_id, step)

    async def cancel(self, actor: Actor, poll_id: int) -> Outcome[None]:
        return await self.on(actor, poll_id, self.ops.cancel)

    async def close(self, actor: Actor, poll_id: int) -> Outcome[int]:
        async with self._core.call(actor, roles=EDITORS) as call:
            if isinstance(call, Refused):
                return call
            return await self.ops.close(call, poll_id)
