"""The edge of every incoming event: one transaction that loads the resident, runs the
conversation, claims the update (with the replies it owes) and commits; then the replies go out.

Order matters: the update is acknowledged to the messenger only after this returns, and this
returns only after the commit, so nothing is acknowledged that was not stored. A database error
that may pass (the server down or restarting, a serialization failure) propagates (the webhook
answers 5xx, the poller does not confirm the offset) so the messenger delivers the update
again; the claim row makes that redelivery a no-op once it did commit. A failure that cannot
pass (a bug, data the database refuses) is apologised for and confirmed instead: redelivering
it would fail the same way, forever, and in polling mode hold up every update after it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.conversation import KEYBOARD_CHANNELS, Conversation
from handlers.outbox import Outbox
from handlers.owed import Owed, owed_to_json
from handlers.sending import ReplySender
from messaging.contract import (
    Effect,
    EffectSink,
    EventKind,
    Incoming,
    Reply,
    Sender,
    with_keyboard,
)
from messaging.i18n import Catalog
from storage import audit, conversations, dedup, linking, log_context
from storage.errors import failure_reason, failure_trace, is_permanent
from storage.models import AuditEntry, ConversationState
from storage.residents import get_resident, resident_for_event
from storage.vocabulary import Clock

log = logging.getLogger(__name__)

_AUDIT_SUBJECT_MAX: int = AuditEntry.__table__.c.subject.type.length  # type: ignore[attr-defined]


class _HandledBefore(Exception):
    """The update's claim exists already: its transaction is rolled back."""


@dataclass(frozen=True, slots=True)
class Processed:
    replies: tuple[Reply, ...]
    duplicate: bool = False
    effects: tuple[Effect, ...] = ()
    # The update whose claim keeps these replies until they are sent (None: nothing kept).
    owed_key: tuple[str, str] | None = None


class Pipeline:
    def __init__(
        self,
        *,
        sessionmaker: async_sessionmaker[AsyncSession],
        conversation: Conversation,
        catalog: Catalog,
        clock: Clock,
        default_language: str,
        replies: ReplySender,
        effects: EffectSink | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        """``replies``: sends the replies after the commit (``handlers.sending``), shared with
        the owed-replies job and the notices."""
        self._replies = replies
        self._effects = effects
        self._outbox = outbox
        self._sessionmaker = sessionmaker
        self._conversation = conversation
        self._catalog = catalog
        self._clock = clock
        self._default_language = default_language

    async def process(self, event: Incoming, *, owe: bool = True) -> Processed:
        """Store the effects of ``event`` and return the replies to send (after the commit).

        ``owe``: keep the replies on the update's claim until they are sent (``handlers.owed``);
        False when the caller answers with them in the same HTTP response (Viber's welcome)."""
        log_context.update_key.set(f"{event.identity.channel}:{event.update_key}")
        try:
            return await self._process(event, owe=owe)
        except IntegrityError:
            # A concurrent delivery of the same update (or the same resident's first contact)
            # committed first. If it was the same update, it is done; otherwise let the
            # messenger redeliver this one.
            if await self._already_processed(event):
                return Processed(replies=(), duplicate=True)
            raise
        except SQLAlchemyError as error:
            if not is_permanent(error):
                # The database is unreachable or failed for now: nothing was stored, so the
                # messenger must deliver this update again.
                raise
            failure: Exception = error
        except (OSError, TimeoutError):
            raise
        except Exception as error:  # noqa: BLE001 - recorded with its trace below, not retried
            failure = error
        # A bug in a flow, or data the database refuses (too long, an invalid byte sequence, a
        # number out of range): the same update would fail the same way every time, so it must
        # not be redelivered forever. It is recorded as processed with the failure in the audit
        # log, and the resident gets an apology. The log names the failure and where it
        # happened, never its message: that may quote what the resident wrote.
        reason = failure_reason(failure)
        log.error(
            "handler failed for %s update %s (%s); confirmed with an apology\n%s",
            event.identity.channel,
            event.update_key,
            reason,
            failure_trace(failure),
        )
        try:
            return await self._record_failure(event, reason)
        except SQLAlchemyError as error:
            if not is_permanent(error):
                raise
            # Even the failure cannot be recorded (an update key the database refuses):
            # answering is still better than a redelivery loop.
            log.error(
                "could not record the failure of %s update %s (%s)",
                event.identity.channel,
                event.update_key,
                failure_reason(error),
            )
            return Processed(replies=(self._apology(self._default_language),))

    async def _process(self, event: Incoming, *, owe: bool) -> Processed:
        try:
            return await self._handle_and_claim(event, owe=owe)
        except _HandledBefore:
            return Processed(replies=(), duplicate=True)

    async def _handle_and_claim(self, event: Incoming, *, owe: bool) -> Processed:
        """Handle the event and claim it last, in one transaction, the replies owed on the claim
        (one statement for both). A claim that finds the update handled before rolls the whole
        transaction back: what this run changed is undone (a redelivery costs its handling, and
        changes nothing). A concurrent delivery of the same update waits on the claim's key
        until the first transaction ends: nothing is handled twice."""
        now = self._clock()
        identity = event.identity
        async with self._sessionmaker() as session, session.begin():
            if event.kind is EventKind.BLOCKED:
                # Someone who blocked us before ever writing leaves no profile behind.
                existing = await get_resident(
                    session, channel=identity.channel, external_id=identity.external_id
                )
                if existing is None:
                    await self._claim(session, event, now=now, owed=None)
                    return Processed(replies=())
            known = await resident_for_event(
                session,
                channel=identity.channel,
                external_id=identity.external_id,
                name=identity.name,
                language=self._default_language,
                now=now,
            )
            # An account linked to another messenger's is handled as that person (the
            # replies still go back where the event came from).
            known, via = await linking.resolve(session, known)
            replies, effects = await self._conversation.handle(
                session, known.resident, event, now=now, state=known.state, via=via
            )
            owed = owed_for(event, tuple(replies)) if replies and owe else None
            await self._claim(
                session, event, now=now, owed=owed, ended=_ended(session, known.state)
            )
        owed_key = (identity.channel, event.update_key) if owed is not None else None
        return Processed(replies=tuple(replies), effects=tuple(effects), owed_key=owed_key)

    @staticmethod
    async def _claim(
        session: AsyncSession,
        event: Incoming,
        *,
        now: datetime,
        owed: Owed | None,
        ended: int | None = None,
    ) -> None:
        """Claim the update (with the replies it owes), or raise ``_HandledBefore``.
        ``ended``: the resident whose conversation state the claim deletes (``_ended``)."""
        claimed = await dedup.claim_update(
            session,
            channel=event.identity.channel,
            update_key=event.update_key,
            now=now,
            owed=owed_to_json(owed) if owed is not None else None,
            drop_state_of=ended,
        )
        if not claimed:
            raise _HandledBefore

    async def _already_processed(self, event: Incoming) -> bool:
        async with self._sessionmaker() as session:
            return not await dedup.claim_update(
                session,
                channel=event.identity.channel,
                update_key=event.update_key,
                now=self._clock(),
            )

    async def _record_failure(self, event: Incoming, reason: str) -> Processed:
        """Claim the update (a redelivery is a no-op), audit the failure by its ``reason``
        (``failure_reason``: a class, no personal data) and apologise."""
        now = self._clock()
        identity = event.identity
        async with self._sessionmaker() as session, session.begin():
            if not await dedup.claim_update(
                session, channel=identity.channel, update_key=event.update_key, now=now
            ):
                return Processed(replies=(), duplicate=True)
            resident = await get_resident(
                session, channel=identity.channel, external_id=identity.external_id
            )
            audit.record(
                session,
                actor=f"resident:{resident.id}" if resident else "system",
                action="handler.failed",
                now=now,
                subject=f"{identity.channel}:{event.update_key}"[:_AUDIT_SUBJECT_MAX],
                details={"kind": event.kind.value, "reason": reason},
            )
            language = resident.language if resident else self._default_language
            apology = self._apology(language)
            if resident is not None and identity.channel in KEYBOARD_CHANNELS:
                # Viber shows the last message's keyboard: the apology must not take the
                # resident's menu away (the failed turn changed nothing, so their state holds).
                state = await conversations.load_state(session, resident_id=resident.id)
                keyboard = self._conversation.keyboard(session, resident, state, now=now)
                apology = with_keyboard(apology, keyboard)
        return Processed(replies=(apology,))

    def _apology(self, language: str) -> Reply:
        return Reply(text=self._catalog.text(language, "error.generic"))

    async def handle(self, event: Incoming, sender: Sender, *, later: bool = False) -> Processed:
        """Store the event, answer the resident, then carry out the effects.

        ``later`` (a webhook that wants its answer as soon as the event is stored): the answer
        and the effects go to the outbox, in order with the resident's earlier events, and this
        returns right after the commit. Without an outbox they are done here.
        """
        result = await self.process(event)
        if not (result.replies or result.effects):
            return result
        if later and self._outbox is not None:
            identity = event.identity
            await self._outbox.submit(
                f"{identity.channel}:{identity.external_id}",
                lambda: self._after_commit(sender, event, result),
            )
        else:
            await self._after_commit(sender, event, result)
        return result

    async def _after_commit(self, sender: Sender, event: Incoming, result: Processed) -> None:
        if result.replies:
            owed = owed_for(event, result.replies)
            if result.owed_key is not None:
                await self._replies.deliver_owed(sender, owed, result.owed_key)
            else:
                await self._replies.deliver(sender, owed)
        await self.apply_effects(result.effects)

    async def apply_effects(self, effects: tuple[Effect, ...]) -> None:
        if self._effects is None:
            return
        for effect in effects:
            try:
                await self._effects.apply(effect)
            except Exception:
                # Stored already; the staff desk's catch-up job posts it later.
                log.exception("effect %r failed; it will be retried", effect)


def _ended(session: AsyncSession, state: ConversationState | None) -> int | None:
    """The resident whose conversation the turn ended (their state deleted in ``session``),
    taken out of the session: the claim deletes it in its own statement instead of a DELETE of
    the unit of work at the commit (a round trip fewer for every flow that ends: a follow-up,
    a form sent). None when the state stays."""
    if state is None or state not in session.deleted:
        return None
    session.expunge(state)
    return state.resident_id


def owed_for(event: Incoming, replies: tuple[Reply, ...]) -> Owed:
    """The replies to the resident who caused ``event``."""
    return Owed(
        channel=event.identity.channel,
        recipient=event.identity.external_id,
        replies=replies,
        source_message_id=event.source_message_id,
    )
