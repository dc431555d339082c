"""News operations of the staff core: compose, change, target, send or schedule, approve (the
two-person rule), cancel, stop.

Each operation exists twice. ``NewsCore.<operation>(actor, …)`` is what a desk calls: it runs in
its own ``StaffCore.call`` (editors and administrators only), locks the news item and returns
``Done`` or ``Refused``. ``NewsOps.<operation>(call, broadcast, …)`` is the same step inside a
call a desk opened itself (the Telegram chat claims its update in that transaction); both share
one implementation, so a rule is written once. The state rules are ``storage.broadcast_lifecycle``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from handlers.staff.broadcasts import targets
from handlers.staff.broadcasts.common import Starter, Wake, audit, iso, refused
from handlers.staff.core import EDITORS, Actor, Done, Outcome, Reason, Refused, StaffCall, StaffCore
from storage import broadcast_lifecycle as lifecycle
from storage import news, polls
from storage.broadcast_lifecycle import LifecycleError
from storage.broadcasts import BroadcastKind, cancel_broadcast, create_broadcast
from storage.models import Broadcast

T = TypeVar("T")
# What the progress message's Stop serves: news and polls share the progress message.
STOPPABLE = (BroadcastKind.NEWS.value, BroadcastKind.POLL.value)


@dataclass(frozen=True, slots=True)
class Content:
    """A news item's text (the markup residents get) and its media, if any."""

    markup: str
    media: tuple[str, str, str | None] | None = None  # kind, file reference, file name


class Target(StrEnum):
    TOPIC = "topic"
    DISTRICT = "district"
    CHANNEL = "channel"
    URGENT = "urgent"


class Submission(StrEnum):
    """What a submitted news item became."""

    PENDING = "pending"  # waits for a second editor
    SCHEDULED = "scheduled"
    SENDING = "sending"


@dataclass(frozen=True, slots=True)
class Submitted:
    broadcast_id: int
    became: Submission
    when: datetime | None = None
    recipients: int = 0


@dataclass(frozen=True, slots=True)
class Choice:
    """Every target of a broadcast at once; empty means everyone (channels: at least one)."""

    topics: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    urgent: bool = False


@dataclass(frozen=True, slots=True)
class Stopped:
    broadcast_id: int
    cancelled: int
    # The poll whose broadcast was stopped (the Stop button serves polls too).
    poll_id: int | None = None


def subject(broadcast: Broadcast) -> str:
    return f"broadcast:{broadcast.id}"


class NewsOps:
    """The news steps inside an open staff call, on a locked news item."""

    def __init__(self, *, two_person: bool, wake: Wake) -> None:
        self.two_person = two_person
        self._starter = Starter(wake)

    async def create(self, call: StaffCall, content: Content) -> Broadcast:
        kind, ref, name = content.media or (None, None, None)
        broadcast = await create_broadcast(
            call.session,
            text=content.markup,
            now=call.now,
            media_kind=kind,
            media_ref=ref,
            media_name=name,
            created_by=call.staff.id,
        )
        audit(call, "news.draft", subject(broadcast))
        return broadcast

    def set_text(self, call: StaffCall, broadcast: Broadcast, content: Content) -> Outcome[None]:
        """A new text (and media) for an item not sent yet; it becomes a draft again."""
        try:
            lifecycle.reopen(broadcast)
        except LifecycleError as error:
            return refused(error)
        broadcast.text = content.markup
        broadcast.media_kind, broadcast.media_ref, broadcast.media_name = content.media or (
            None,
            None,
            None,
        )
        audit(call, "news.text", subject(broadcast))
        return Done(None)

    def reopen(self, call: StaffCall, broadcast: Broadcast) -> Outcome[bool]:
        """Back to draft ("Change"): what was approved or scheduled is what goes out."""
        was = broadcast.status
        try:
            changed = lifecycle.reopen(broadcast)
        except LifecycleError as error:
            return refused(error)
        if changed:
            audit(call, "news.reopened", subject(broadcast), was=was)
        return Done(changed)

    def target(self, broadcast: Broadcast, what: Target, code: str = "") -> Outcome[None]:
        """Toggle a topic, a district, a channel or urgency of a draft."""
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        if what is Target.URGENT:
            broadcast.urgent = not broadcast.urgent
            return Done(None)
        if what is Target.CHANNEL:
            problem = targets.toggle_channel(broadcast, code)
        else:
            problem = targets.toggle_code(broadcast, code, topics=what is Target.TOPIC)
        return Done(None) if problem is None else Refused(Reason.INVALID, {"problem": problem})

    def edit(
        self, call: StaffCall, broadcast: Broadcast, content: Content, choice: Choice
    ) -> Outcome[None]:
        """A draft's text, media and every target at once (a desk's form): what an item not sent
        yet is changed to; it becomes a draft again."""
        done = self.set_text(call, broadcast, content)
        if isinstance(done, Refused):
            return done
        problem = targets.choose(
            broadcast, topics=choice.topics, districts=choice.districts, channels=choice.channels
        )
        if problem is not None:
            return Refused(Reason.INVALID, {"problem": problem})
        broadcast.urgent = choice.urgent
        return Done(None)

    def save(self, call: StaffCall, broadcast: Broadcast) -> Outcome[None]:
        try:
            lifecycle.require_draft(broadcast)
        except LifecycleError as error:
            return refused(error)
        audit(call, "news.saved", subject(broadcast))
        return Done(None)

    async def submit(
        self,
        call: StaffCall,
        broadcast: Broadcast,
        *,
        when: datetime | None,
        report_to: int | None,
    ) -> Outcome[Submitted]:
        """Send a draft now (``when`` None) or schedule it; under the two-person rule it waits
        for a second editor instead. ``report_to``: the chat the progress report goes to (None:
        none, the web desk shows progress on its own page)."""
        try:
            lifecycle.require_draft(broadcast)
            broadcast.progress_chat_id = report_to
            if self.two_person:
                lifecycle.submit(broadcast, when=when, now=call.now)
                audit(call, "news.submitted", subject(broadcast), at=iso(when))
                return Done(Submitted(broadcast.id, Submission.PENDING, when))
            if when is not None:
                lifecycle.schedule(broadcast, when=when, now=call.now)
                audit(call, "news.scheduled", subject(broadcast), at=iso(when))
                return Done(Submitted(broadcast.id, Submission.SCHEDULED, when))
        except LifecycleError as error:
            return refused(error)
        count = await self._start(call, broadcast, lifecycle.START_NOW)
        return Done(Submitted(broadcast.id, Submission.SENDING, None, count))

    async def approve(
        self, call: StaffCall, broadcast: Broadcast, *, report_to: int | None
    ) -> Outcome[Submitted]:
        """A second editor approves: sent now, or scheduled for its later time. The author is
        refused (and that is audited)."""
        try:
            now = lifecycle.approve(broadcast, approver=call.staff.id, now=call.now)
        except LifecycleError as error:
            if error.problem is lifecycle.Problem.TWO_PERSON:
                audit(call, "news.approve_refused", subject(broadcast), reason="author")
            return refused(error)
        broadcast.progress_chat_id = broadcast.progress_chat_id or report_to
        if not now:
            when = broadcast.scheduled_at
            audit(call, "news.approved", subject(broadcast), at=iso(when))
            return Done(Submitted(broadcast.id, Submission.SCHEDULED, when))
        audit(call, "news.approved", subject(broadcast))
        count = await self._start(call, broadcast, lifecycle.START_APPROVED)
        return Done(Submitted(broadcast.id, Submission.SENDING, None, count))

    def cancel(self, call: StaffCall, broadcast: Broadcast) -> Outcome[str]:
        """Cancel an item not sent yet; returns the status it had."""
        try:
            was = lifecycle.cancel(broadcast, now=call.now)
        except LifecycleError as error:
            return refused(error)
        audit(call, "news.cancelled", subject(broadcast), was=was)
        return Done(was)

    async def stop(self, call: StaffCall, broadcast: Broadcast) -> Outcome[Stopped]:
        """Stop a broadcast being sent (news or a poll): what is still pending is cancelled."""
        try:
            lifecycle.require_sending(broadcast)
        except LifecycleError as error:
            return refused(error)
        stopped = await cancel_broadcast(call.session, broadcast_id=broadcast.id, now=call.now)
        if broadcast.kind == BroadcastKind.POLL.value:
            poll_id = await polls.poll_id_of(call.session, broadcast_id=broadcast.id)
            audit(call, "poll.stopped", subject(broadcast), cancelled=stopped, poll=poll_id)
            return Done(Stopped(broadcast.id, stopped, poll_id))
        audit(call, "news.stopped", subject(broadcast), cancelled=stopped)
        return Done(Stopped(broadcast.id, stopped))

    async def _start(self, call: StaffCall, broadcast: Broadcast, statuses: tuple[str, ...]) -> int:
        count = await self._starter.start(call, broadcast, statuses=statuses)
        audit(call, "news.sent", subject(broadcast), recipients=count)
        return count


Step = Callable[[StaffCall, Broadcast], Awaitable[Outcome[T]]]


class NewsCore:
    """News operations for any desk: each takes the acting staff member and plain arguments."""

    def __init__(self, core: StaffCore, *, two_person: bool, wake: Wake) -> None:
        self._core = core
        self.ops = NewsOps(two_person=two_person, wake=wake)

    async def compose(self, actor: Actor, content: Content) -> Outcome[int]:
        async with self._core.call(actor, roles=EDITORS) as call:
            if isinstance(call, Refused):
                return call
            broadcast = await self.ops.create(call, content)
            return Done(broadcast.id)

    async def on(
        self, actor: Actor, broadcast_id: int, step: Step[T], *, kinds: tuple[str, ...] = ()
    ) -> Outcome[T]:
        """Run ``step`` on the news item (locked) for an editor or administrator."""
        async with self._core.call(actor, roles=EDITORS) as call:
            if isinstance(call, Refused):
                return call
            broadcast = await news.lock_news(
                call.session, broadcast_id=broadcast_id, kinds=kinds or (BroadcastKind.NEWS.value,)
            )
            if broadcast is None:
                return Refused(Reason.NOT_FOUND, {"id": broadcast_id})
            return await step(call, broadcast)

    async def target(
        self, actor: Actor, broadcast_id: int, what: Target, code: str = ""
    ) -> Outcome[None]:
        async def step(_call: StaffCall, broadcast: Broadcast) -> Outcome[None]:
            return self.ops.target(broadcast, what, code)

        return await self.on(actor, broadcast_id, step)

    async def submit(
        self,
        actor: Actor,
        broadcast_id: int,
        *,
        when: datetime | None = None,
        report_to: int | None = None,
    ) -> Outcome[Submitted]:
        async def step(call: StaffCall, broadcast: Broadcast) -> Outcome[Submitted]:
            return await self.ops.submit(call, broadcast, when=when, report_to=report_to)

        return await self.on(actor, broadcast_id, step)

    async def approve(
        self, actor: Actor, broadcast_id: int, *, report_to: int | None = None
    ) -> Outcome[Submitted]:
        async def step(call: StaffCall, broadcast: Broadcast) -> Outcome[Submitted]:
            return await self.ops.approve(call, broadcast, report_to=report_to)

        return await self.on(actor, broadcast_id, step)

    async def edit(
        self, actor: Actor, broadcast_id: int, content: Content, choice: Choice
    ) -> Outcome[None]:
        async def step(call: StaffCall, broadcast: Broadcast) -> Outcome[None]:
            return self.ops.edit(call, broadcast, content, choice)

        return await self.on(actor, broadcast_id, step)

    async def cancel(self, actor: Actor, broadcast_id: int) -> Outcome[str]:
        async def step(call: StaffCall, broadcast: Broadcast) -> Outcome[str]:
            return self.ops.cancel(call, broadcast)

        return await self.on(actor, broadcast_id, step)

    async def stop(self, actor: Actor, broadcast_id: int) -> Outcome[Stopped]:
        return await self.on(actor, broadcast_id, self.ops.stop, kinds=STOPPABLE)
