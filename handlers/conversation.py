"""The resident conversation: onboarding, settings, menu, help — written once for every messenger.

``Conversation.handle`` runs inside the caller's database transaction: it reads and changes the
resident and their conversation state and returns the replies to send after the commit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from handlers import actions as act
from handlers import forged, home, media_answers, screens
from handlers import help as help_screen
from handlers.consultations.flow import ResidentConsultations
from handlers.forged import ForgedAction
from handlers.linking import ResidentLinking
from handlers.news import latest_screen
from handlers.polls import ResidentPolls
from handlers.tickets.drafts import FLOW_DRAFT, Drafts
from handlers.tickets.flows import FLOWS as TICKET_FLOWS
from handlers.tickets.flows import ResidentTickets
from handlers.tickets.suggest import CategorySuggester, NoSuggestions
from handlers.turn import FLOW_IDLE, Turn
from messaging.contract import (
    FILE_KINDS,
    Button,
    Effect,
    EventKind,
    Identity,
    Incoming,
    Keyboard,
    Reply,
    with_keyboard,
)
from messaging.i18n import LANGUAGES, Catalog, Markup
from storage import audit, conversations
from storage.models import ConversationState, Resident
from storage.residents import mark_reachable, record_blocked, set_topics
from storage.vocabulary import POLICY_VERSION, Channel, Digest, District, Topic

FLOW_ONBOARDING = "onboarding"
FLOW_SETTINGS = "settings"

STEP_CONSENT = "consent"
STEP_LANGUAGE = "language"
STEP_TOPICS = "topics"
STEP_DISTRICT = "district"
STEP_DIGEST = "digest"
STEP_MENU = "menu"

_TOPICS = frozenset(t.value for t in Topic)
_DISTRICTS = frozenset(d.value for d in District)
_DIGESTS = frozenset(d.value for d in Digest)

# Buttons that do what a personal-data command does (Viber residents cannot tap commands).
# What the messenger reports about reaching the resident (nothing the resident wrote).
_REACHABILITY_EVENTS = (EventKind.BLOCKED, EventKind.UNBLOCKED, EventKind.SUBSCRIBED)
_DATA_COMMANDS = {act.MY_DATA: "mydata", act.FORGET_ASK: "forget"}

# Messengers whose keyboard belongs to the chat, not to one message: the client shows the last
# keyboard sent (Viber's keyboards guide: "The client will always display the last keyboard
# that was sent to it"), so every message carries the one the resident should have then.
KEYBOARD_CHANNELS = frozenset({Channel.VIBER.value})


class Conversation:
    def __init__(
        self,
        catalog: Catalog,
        tickets: ResidentTickets,
        suggester: CategorySuggester | None = None,
    ) -> None:
        """``suggester``: ranks the categories of a resident's free text (none: the resident
        picks the category)."""
        self.catalog = catalog
        self.tickets = tickets
        self.drafts = Drafts(catalog, tickets, suggester or NoSuggestions())
        self.polls = ResidentPolls(catalog, tickets.policy.zone)
        self.linking = ResidentLinking(catalog, self._text_then_screen)
        self.consultations = ResidentConsultations(catalog, tickets.policy.zone)

    async def handle(
        self,
        session: AsyncSession,
        resident: Resident,
        event: Incoming,
        *,
        now: datetime,
        state: ConversationState | None,
        via: Resident | None = None,
    ) -> tuple[list[Reply], list[Effect]]:
        """``state``: the resident's conversation state as loaded in ``session`` with them;
        ``via``: the linked account the event came from, when not ``resident`` itself."""
        turn = Turn(session=session, resident=resident, event=event, now=now, via=via)
        if state is not None:
            # A deep copy: flows change nested values in place, and the JSON column is only
            # written when its new value differs from the loaded one.
            turn.flow, turn.step, turn.data = state.flow, state.step, copy.deepcopy(state.data)
        replies = [self._with_home(turn, reply) for reply in await self._dispatch(turn)]
        if event.identity.channel in KEYBOARD_CHANNELS:
            keyboard = self._keyboard(turn)
            # Screens keep their own buttons; other messages get the resident's keyboard.
            replies = [
                reply if reply.buttons else with_keyboard(reply, keyboard) for reply in replies
            ]
        if turn.flow == FLOW_IDLE:
            await conversations.drop_state(session, state)
        else:
            conversations.put_state(
                session,
                state,
                resident_id=resident.id,
                flow=turn.flow,
                step=turn.step,
                data=turn.data,
                now=now,
            )
        return replies, turn.effects

    # -- dispatch ---------------------------------------------------------------------------

    async def _dispatch(self, turn: Turn) -> list[Reply]:
        event, resident = turn.event, turn.resident
        if event.kind in _REACHABILITY_EVENTS:
            return self._reachability(turn)
        # They wrote to us, so the messenger can reach them again.
        mark_reachable(turn.account)

        # A six-digit message may be a /link code from the other messenger (handlers/linking.py);
        # before free text is anything else. Ticket forms keep their own input.
        if turn.flow not in TICKET_FLOWS:
            linked = await self.linking.typed_code(turn)
            if linked is not None:
                return linked
            # An organisation's code (``ORG-…``) typed by its representative.
            represented = await self.consultations.typed_code(turn)
            if represented is not None:
                return represented

        if event.kind is EventKind.OPENED:
            return self._opened(turn)
        if event.kind is EventKind.COMMAND:
            return await self._command(turn, (event.command or "").lower())
        if event.kind in media_answers.ANSWERED and resident.onboarded_at is not None:
            # A sticker, a file that could not be received: answered where the resident is.
            return [self._text_then_screen(turn, media_answers.answer(self.catalog, turn))]
        action = event.action if event.kind is EventKind.BUTTON else self._label_action(turn)
        try:
            replies = await self._button(turn, action) if action else None
        except ForgedAction as refused:
            return self._refuse(turn, refused)
        if replies is not None:
            return replies
        return await self._untaken(turn)

    def _reachability(self, turn: Turn) -> list[Reply]:
        """The messenger told us the resident blocked, unblocked or subscribed to the bot.
        Reachability belongs to the messenger account the event came from."""
        event, account = turn.event, turn.account
        if event.kind is EventKind.BLOCKED:
            record_blocked(turn.session, account, now=turn.now, actor=turn.actor)
            return []
        if not account.is_active:
            audit.record(turn.session, actor=turn.actor, action="resident.unblocked", now=turn.now)
        mark_reachable(account)
        if (
            event.kind is EventKind.SUBSCRIBED
            and turn.resident.onboarded_at is None
            and turn.flow == FLOW_IDLE
        ):
            # Subscribed without writing: now we may send, so start the onboarding.
            return self._begin_onboarding(turn)
        return []

    async def _untaken(self, turn: Turn) -> list[Reply]:
        """What no button took: a stale button, a ticket form's input, free text, a file."""
        if turn.event.kind is EventKind.BUTTON:
            # A real button of ours that nothing takes now: it belongs to a message or a step
            # the resident has left (forged ones were refused above).
            if turn.resident.onboarded_at is None and turn.flow == FLOW_IDLE:
                return self._begin_onboarding(turn)
            return [self._text_then_screen(turn, self._text(turn, "stale"))]
        if turn.flow in TICKET_FLOWS:
            replies = await self.tickets.input(turn)
            if replies is not None:
                return replies
        consulted = await self.consultations.input(turn)
        if consulted is not None:
            return consulted
        # Free text, a file, a reply to a staff answer: kept and led somewhere useful.
        replies = await self.drafts.input(turn)
        if replies is not None:
            return replies
        return self._unexpected(turn)

    async def _button(self, turn: Turn, action: str) -> list[Reply] | None:
        """A pressed button (or a typed label); None when no handler takes it. Raises
        ``ForgedAction`` for an action no button of ours carries or one the resident may not
        take; the handlers raise it before they change anything."""
        if turn.event.kind is EventKind.BUTTON:
            # Typed labels are our own buttons; a button's action comes from the client.
            forged.check(action)
            if self.polls.wants(action):
                # A vote leaves whatever flow the resident is in where it was.
                if turn.event.identity.channel not in KEYBOARD_CHANNELS:
                    return await self.polls.vote(turn, action, in_place=True)
                # Viber cannot edit the poll: a short answer, the options (to change the vote)
                # and, under them, the keyboard the resident had.
                answer = await self.polls.vote(turn, action, in_place=False)
                keyboard = self._keyboard(turn)
                return [with_keyboard(reply, keyboard) for reply in answer]
        if self.consultations.wants(action) and turn.resident.onboarded_at is not None:
            return await self.consultations.action(turn, action)
        if action == act.MENU_NEWS and turn.resident.onboarded_at is not None:
            return await self._news(turn)
        if turn.resident.onboarded_at is not None and action in _DATA_COMMANDS:
            return await self.tickets.command(turn, _DATA_COMMANDS[action])
        replies = await self.linking.action(turn, action)
        if replies is None:
            replies = await self.tickets.action(turn, action)
        if replies is None:
            replies = await self.drafts.action(turn, action)
        if replies is None:
            replies = self._action(turn, action)
        return replies

    def _refuse(self, turn: Turn, refused: ForgedAction) -> list[Reply]:
        """One answer for every refused action, one audit row; the flow stays where it was."""
        forged.record(turn, refused)
        return [self._text_then_screen(turn, self._text(turn, "action.refused"))]

    def _label_action(self, turn: Turn) -> str | None:
        """A typed text equal to a visible button's label counts as pressing it (Telegram's menu
        keyboard sends labels as text; residents also type them)."""
        text = (turn.event.text or "").strip().casefold()
        if turn.event.kind is not EventKind.TEXT or not text:
            return None
        screen = self._current_screen(turn)
        candidates: list[Button] = [b for row in screen.buttons for b in row] if screen else []
        for key, action in screens.MENU_ITEMS:
            candidates.extend(Button(label, action) for label in self.catalog.all_labels(key))
        for button in candidates:
            if button.label.strip().casefold() == text:
                return button.action
        return None

    def _current_screen(self, turn: Turn) -> Reply | None:
        """The screen the resident is looking at, rebuilt from their state."""
        c, r, lang = self.catalog, turn.resident, turn.lang
        if turn.flow in TICKET_FLOWS:
            return self.tickets.current_screen(turn)
        if turn.flow == FLOW_DRAFT:
            return self.drafts.current_screen(turn)
        if turn.flow not in (FLOW_ONBOARDING, FLOW_SETTINGS):
            return None
        return {
            STEP_CONSENT: lambda: screens.consent(c, lang, with_greeting=False),
            STEP_LANGUAGE: lambda: screens.language(c, lang),
            STEP_TOPICS: lambda: screens.topics(c, lang, r.topic_codes),
            STEP_DISTRICT: lambda: screens.district(c, lang),
            STEP_DIGEST: lambda: screens.digest(c, lang),
            STEP_MENU: lambda: screens.settings(c, r),
        }.get(turn.step, lambda: None)()

    def _keyboard(self, turn: Turn) -> Keyboard:
        """The buttons the resident should see now: their flow's current screen's, or the main
        menu (also in a flow whose step has no buttons, as Telegram's persistent menu stays
        under every step, and for anyone who consented); none before that. Built on a copy:
        ``turn`` is not changed."""
        probe = Turn(
            session=turn.session,
            resident=turn.resident,
            event=turn.event,
            now=turn.now,
            flow=turn.flow,
            step=turn.step,
            data=copy.deepcopy(turn.data),
        )
        screen = self._current_screen(probe)
        if screen is not None and screen.buttons:
            return self._with_home(probe, screen).buttons
        if turn.resident.onboarded_at is None and not turn.resident.has_consent:
            return ()
        return screens.main_menu(self.catalog, turn.resident).buttons

    def _with_home(self, turn: Turn, reply: Reply) -> Reply:
        """``reply`` with a button back to the main menu where its keyboard has none
        (``handlers.home``); ``turn``: the state the resident is in once it is sent."""
        after_consent = turn.flow == FLOW_ONBOARDING and turn.step != STEP_CONSENT
        channel = turn.event.identity.channel
        if not home.needs_button(turn.resident, channel, onboarding_after_consent=after_consent):
            return reply
        menu = screens.main_menu(self.catalog, turn.resident).buttons
        return home.reply_with_home(self.catalog, turn.lang, reply, menu=menu)

    def keyboard(
        self,
        session: AsyncSession,
        resident: Resident,
        state: ConversationState | None,
        *,
        now: datetime,
    ) -> Keyboard:
        """The buttons ``resident`` should see now (``state``: their conversation state), for
        messages no event of theirs caused: broadcasts, staff answers, notices."""
        turn = Turn(
            session=session,
            resident=resident,
            # No event caused this; the screens read only the resident and the state.
            event=Incoming(
                identity=Identity(channel=resident.channel, external_id=resident.external_id),
                kind=EventKind.TEXT,
                update_key="",
            ),
            now=now,
        )
        if state is not None:
            turn.flow, turn.step, turn.data = state.flow, state.step, copy.deepcopy(state.data)
        return self._keyboard(turn)

    def _text(self, turn: Turn, key: str, **params: Any) -> Markup:
        return self.catalog.text(turn.lang, key, **params)

    def _menu(self, turn: Turn, key: str | None = None, **params: Any) -> Reply:
        text = self._text(turn, key, **params) if key else None
        return screens.main_menu(self.catalog, turn.resident, text)

    # -- entry points -----------------------------------------------------------------------

    def _begin_onboarding(self, turn: Turn) -> list[Reply]:
        turn.go(FLOW_ONBOARDING, STEP_CONSENT)
        return [screens.consent(self.catalog, turn.lang, with_greeting=True)]

    def _opened(self, turn: Turn) -> list[Reply]:
        if turn.resident.onboarded_at is None:
            return self._begin_onboarding(turn)
        turn.go(FLOW_IDLE)
        return [self._menu(turn, "start.welcome_back")]

    async def _command(self, turn: Turn, command: str) -> list[Reply]:
        resident = turn.resident
        if command == act.CMD_START:
            if resident.onboarded_at is None:
                return self._begin_onboarding(turn)
            turn.go(FLOW_IDLE)
            if not resident.subscribed:
                self._set_subscribed(turn, True)
                return [self._menu(turn, "subscribe.done")]
            return [self._menu(turn, "start.welcome_back")]
        if command == act.CMD_HELP:
            return [self._help(turn)]
        if command == act.CMD_SETTINGS:
            turn.go(FLOW_SETTINGS, STEP_MENU)
            return [screens.settings(self.catalog, resident)]
        if command == act.CMD_STOP:
            self._set_subscribed(turn, False)
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "stop.done")]
        if command == act.CMD_NEWS:
            return await self._news(turn)
        if command == act.CMD_LINK:
            return await self.linking.command(turn)
        if command == act.CMD_CONSULTATIONS and resident.onboarded_at is not None:
            return await self.consultations.listing(turn)
        if command == act.CMD_MENU and resident.onboarded_at is not None:
            turn.go(FLOW_IDLE)
            return [self._menu(turn)]
        replies = await self.tickets.command(turn, command)
        if replies is not None:
            return replies
        return [self._help(turn, prefix=self._text(turn, "unknown.command"))]

    def _help(self, turn: Turn, *, prefix: Markup | None = None) -> Reply:
        """Help: its own screen once the resident has the menu; before that (onboarding), its
        text over the step the resident is at."""
        resident, channel = turn.resident, turn.event.identity.channel
        if resident.onboarded_at is None:
            text = self._text(turn, help_screen.text_key(channel))
            return self._text_then_screen(turn, Markup(prefix + "\n\n" + text) if prefix else text)
        turn.go(FLOW_IDLE)
        return help_screen.screen(self.catalog, resident, channel, prefix=prefix)

    async def _news(self, turn: Turn) -> list[Reply]:
        """The latest news for this resident (readable before onboarding and without consent;
        an onboarding in progress is left where it was)."""
        if turn.resident.onboarded_at is not None:
            turn.go(FLOW_IDLE)
        return await latest_screen(
            turn.session,
            catalog=self.catalog,
            resident=turn.resident,
            zone=self.tickets.policy.zone,
            channel=turn.account.channel,
        )

    def _unexpected(self, turn: Turn) -> list[Reply]:
        """Anything that is not a known command or button: a helpful answer, never silence."""
        kind = turn.event.kind
        if turn.resident.onboarded_at is None and turn.flow == FLOW_IDLE:
            # First contact without /start (Viber residents often just write).
            return self._begin_onboarding(turn)
        if kind is EventKind.UNSUPPORTED:
            key = "unsupported.media"
        elif kind in FILE_KINDS or kind in (EventKind.CONTACT, EventKind.LOCATION):
            key = "attachment.not_expected"
        elif self._current_screen(turn) is not None:
            key = "use_buttons"
        else:
            key = "unknown.text"
        return [self._text_then_screen(turn, self._text(turn, key))]

    def _text_then_screen(self, turn: Turn, text: Markup) -> Reply:
        """``text`` with the buttons of the current step, or the main menu when idle."""
        screen = self._current_screen(turn)
        if screen is None:
            if turn.resident.onboarded_at is None:
                return Reply(text=text)
            return screens.main_menu(self.catalog, turn.resident, text)
        return Reply(text=Markup(text + "\n\n" + screen.text), buttons=screen.buttons)

    # -- actions ----------------------------------------------------------------------------

    def _action(self, turn: Turn, action: str) -> list[Reply] | None:
        """Handle a button action; None when the action is unknown or its argument invalid."""
        if action in (act.CONSENT_YES, act.CONSENT_NO, act.CONSENT_POLICY):
            return self._consent_action(turn, action)
        replies = self._preference_action(turn, action)
        if replies is not None:
            return replies
        return self._menu_action(turn, action)

    def _consent_action(self, turn: Turn, action: str) -> list[Reply] | None:
        """The answers to the consent question, and the policy it links to."""
        if action == act.CONSENT_YES:
            if turn.resident.has_consent and turn.step != STEP_CONSENT:
                return None  # an old consent question, already answered: stale
            self._give_consent(turn)
            head = Reply(text=self._text(turn, "consent.given", version=POLICY_VERSION))
            return [head, *self._after_consent(turn)]
        if action == act.CONSENT_NO:
            if turn.flow != FLOW_ONBOARDING:
                return self._back_to_settings_or_menu(turn)
            return [Reply(text=self._text(turn, "consent.declined")), *self._after_consent(turn)]
        screen = self._current_screen(turn)
        return [screens.policy(self.catalog, turn.lang), screen or self._menu(turn)]

    def _preference_action(self, turn: Turn, action: str) -> list[Reply] | None:
        """A choice on a settings screen (also during onboarding): language, topics, district,
        digest. None when ``action`` is none of them or its argument is invalid."""
        c, resident = self.catalog, turn.resident
        verb, arg = act.split(action)
        onboarding = turn.flow == FLOW_ONBOARDING
        if verb == act.LANGUAGE and arg in LANGUAGES:
            resident.language = arg
            if onboarding:
                turn.go(FLOW_ONBOARDING, STEP_TOPICS)
                return [screens.topics(c, arg, resident.topic_codes)]
            return [
                Reply(text=self._text(turn, "language.set")),
                *self._back_to_settings_or_menu(turn),
            ]
        if verb == act.TOPIC_TOGGLE and arg in _TOPICS:
            set_topics(resident, resident.topic_codes ^ {arg})
            return [screens.topics(c, turn.lang, resident.topic_codes, replace=True)]
        if action == act.TOPICS_DONE:
            notes = [] if resident.topic_codes else [Reply(text=self._text(turn, "topics.none"))]
            if onboarding:
                turn.go(FLOW_ONBOARDING, STEP_DISTRICT)
                return [*notes, screens.district(c, turn.lang)]
            return [*notes, *self._saved(turn)]
        if verb == act.DISTRICT and arg in _DISTRICTS:
            resident.district = arg
            if onboarding:
                return self._finish_onboarding(turn)
            return self._saved(turn)
        if verb == act.DIGEST and arg in _DIGESTS:
            resident.digest = arg
            return self._saved(turn)
        return None

    def _menu_action(self, turn: Turn, action: str) -> list[Reply] | None:
        c, resident = self.catalog, turn.resident
        settings_steps: dict[str, tuple[str, Callable[[], Reply]]] = {
            act.SETTINGS_LANGUAGE: (STEP_LANGUAGE, lambda: screens.language(c, turn.lang)),
            act.SETTINGS_TOPICS: (
                STEP_TOPICS,
                lambda: screens.topics(c, turn.lang, resident.topic_codes),
            ),
            act.SETTINGS_DISTRICT: (STEP_DISTRICT, lambda: screens.district(c, turn.lang)),
            act.SETTINGS_DIGEST: (STEP_DIGEST, lambda: screens.digest(c, turn.lang)),
        }
        if action in settings_steps:
            step, render = settings_steps[action]
            turn.go(FLOW_SETTINGS, step)
            return [render()]
        if action == act.SETTINGS_CONSENT:
            if resident.has_consent:
                resident.consent_at = None
                resident.policy_version = None
                audit.record(
                    turn.session, actor=turn.actor, action="consent.withdrawn", now=turn.now
                )
                turn.go(FLOW_SETTINGS, STEP_MENU)
                return [
                    Reply(text=self._text(turn, "consent.withdrawn")),
                    screens.settings(c, resident),
                ]
            turn.go(FLOW_SETTINGS, STEP_CONSENT)
            return [screens.consent(c, turn.lang, with_greeting=False)]
        if action == act.SETTINGS_BACK:
            turn.go(FLOW_IDLE)
            return [self._menu(turn)]
        if action == act.MENU:
            return self._home(turn)
        if resident.onboarded_at is None:
            # Menu buttons mean nothing before onboarding is finished.
            return None
        if action == act.MENU_SETTINGS:
            turn.go(FLOW_SETTINGS, STEP_MENU)
            return [screens.settings(c, resident)]
        if action == act.MENU_HELP:
            return [self._help(turn)]
        if action == act.MENU_POLICY:
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "consent.policy", version=POLICY_VERSION)]
        if action == act.MENU_STOP:
            self._set_subscribed(turn, False)
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "stop.done")]
        if action == act.MENU_SUBSCRIBE:
            self._set_subscribed(turn, True)
            turn.go(FLOW_IDLE)
            return [self._menu(turn, "subscribe.done")]
        return None

    def _home(self, turn: Turn) -> list[Reply] | None:
        """The home button: the main menu; during onboarding (past the consent question) it
        finishes the onboarding with the choices made so far."""
        if turn.resident.onboarded_at is not None:
            turn.go(FLOW_IDLE)
            return [self._menu(turn)]
        if turn.flow == FLOW_ONBOARDING and turn.step != STEP_CONSENT:
            return self._finish_onboarding(turn)
        return None

    # -- state changes ----------------------------------------------------------------------

    def _after_consent(self, turn: Turn) -> list[Reply]:
        resumed = self.tickets.after_consent(turn)
        if resumed is not None:
            return resumed
        if turn.flow == FLOW_ONBOARDING:
            turn.go(FLOW_ONBOARDING, STEP_LANGUAGE)
            return [screens.language(self.catalog, turn.lang)]
        return self._back_to_settings_or_menu(turn)

    def _saved(self, turn: Turn) -> list[Reply]:
        return [
            Reply(text=self._text(turn, "settings.saved")),
            *self._back_to_settings_or_menu(turn),
        ]

    def _back_to_settings_or_menu(self, turn: Turn) -> list[Reply]:
        if turn.flow == FLOW_SETTINGS:
            turn.go(FLOW_SETTINGS, STEP_MENU)
            return [screens.settings(self.catalog, turn.resident)]
        if turn.resident.onboarded_at is None:
            return []
        turn.go(FLOW_IDLE)
        return [self._menu(turn)]

    def _finish_onboarding(self, turn: Turn) -> list[Reply]:
        resident = turn.resident
        resident.onboarded_at = turn.now
        turn.go(FLOW_IDLE)
        audit.record(turn.session, actor=turn.actor, action="resident.onboarded", now=turn.now)
        text = self._text(turn, "onboarding.done", summary=screens.summary(self.catalog, resident))
        return [screens.main_menu(self.catalog, resident, text)]

    def _give_consent(self, turn: Turn) -> None:
        turn.resident.consent_at = turn.now
        turn.resident.policy_version = POLICY_VERSION
        audit.record(
            turn.session,
            actor=turn.actor,
            action="consent.given",
            now=turn.now,
            details={"policy_version": POLICY_VERSION},
        )

    def _set_subscribed(self, turn: Turn, subscribed: bool) -> None:
        if turn.resident.subscribed != subscribed:
            turn.resident.subscribed = subscribed
            action = "resident.subscribed" if subscribed else "resident.unsubscribed"
            audit.record(turn.session, actor=turn.actor, action=action, now=turn.now)
