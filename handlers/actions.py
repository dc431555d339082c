"""Button actions and commands: named constants, so adapters and flows agree on one spelling.

An action is ``<verb>`` or ``<verb>:<argument>``; it fits Telegram's 64-byte callback_data.
"""

from __future__ import annotations

from typing import Final

from messaging.i18n import N_

CONSENT_YES: Final = "consent:yes"
CONSENT_NO: Final = "consent:no"
CONSENT_POLICY: Final = "consent:policy"
CONSENT_WITHDRAW: Final = "consent:withdraw"
LANGUAGE: Final = "lang"  # lang:uk, lang:en
TOPIC_TOGGLE: Final = "topic"  # topic:<code>
TOPICS_DONE: Final = "topics:done"
DISTRICT: Final = "district"  # district:<code>
DIGEST: Final = "digest"  # digest:<code>
MENU_SETTINGS: Final = "menu:settings"
MENU_HELP: Final = "menu:help"
MENU_POLICY: Final = "menu:policy"
MENU_STOP: Final = "menu:stop"
MENU_SUBSCRIBE: Final = "menu:subscribe"
MENU_NEWS: Final = "menu:news"
# Back to the main menu from any screen (during onboarding: finish it with the choices so far).
MENU: Final = "menu:main"
SETTINGS_LANGUAGE: Final = "settings:language"
SETTINGS_TOPICS: Final = "settings:topics"
SETTINGS_DISTRICT: Final = "settings:district"
SETTINGS_DIGEST: Final = "settings:digest"
SETTINGS_CONSENT: Final = "settings:consent"
SETTINGS_BACK: Final = "settings:back"

# Tickets (resident side).
FILE: Final = "file"  # file (choose a kind) or file:<kind>
FORM_BACK: Final = "form:back"
FORM_CANCEL: Final = "form:cancel"
FORM_NEXT: Final = "form:next"
FORM_SUBMIT: Final = "form:submit"
CHOOSE: Final = "choose"  # choose:<value>
MY_LIST: Final = "my:list"
MY_OPEN: Final = "myopen"  # myopen:<ticket id>
MY_WRITE: Final = "mywrite"  # mywrite:<ticket id>
RATE: Final = "rate"  # rate:<ticket id>:<stars>
# After closing: "Питання вирішено?" (round: the closing it asks about, handlers.tickets.closure).
RESOLVED: Final = "solved"  # solved:<ticket id>:<round>:<yes|no>
REFILE: Final = "refile"  # refile:<ticket id>:<repeated|complaint|new_request>
FORGET_YES: Final = "forget:yes"
# Free text kept as a draft (handlers.tickets.drafts): draft:<what> sends it as a kind of ticket
# or manages it, draftcat:<category> sets its category, draftto:<ticket id> adds it to a ticket.
DRAFT: Final = "draft"
DRAFT_CATEGORY: Final = "draftcat"
DRAFT_TO: Final = "draftto"
DRAFT_DISCARD: Final = "draft:discard"
DRAFT_CATEGORIES: Final = "draft:categories"  # the list of categories to choose from
DRAFT_BACK: Final = "draft:back"  # from that list back to the choice
DRAFT_NEW: Final = "draft:new"  # not a follow-up: a new ticket
# draft:<kind>: the kinds of ticket free text may become.
DRAFT_KINDS: Final = ("feedback", "appeal", "info_request")
DRAFT_ARGUMENTS: Final = frozenset(
    {*DRAFT_KINDS, *(a.partition(":")[2] for a in (DRAFT_DISCARD, DRAFT_CATEGORIES, DRAFT_BACK))}
    | {DRAFT_NEW.partition(":")[2]}
)
# The buttons of /mydata and /forget (Viber residents cannot tap commands).
MY_DATA: Final = "my:data"
FORGET_ASK: Final = "forget:ask"

# Incidents (handlers/tickets/incidents.py): at the match prompt, follow the incident instead of
# filing (incfollow:<incident id>) or file anyway (incfile:<incident id>); after it is resolved,
# "resolved for you?" (incsolved:<incident id>:<yes|no>).
INCIDENT_FOLLOW: Final = "incfollow"
INCIDENT_FILE: Final = "incfile"
INCIDENT_SOLVED: Final = "incsolved"

# Polls: pv:<poll id>:<option> chooses an option, pv:<poll id>:<option>:- unchooses it.
POLL_VOTE: Final = "pv"

# Public consultations (handlers/consultations/): the list, one consultation (csopen:<id>), take
# part in it (cspart:<id>[:<organisation id>]), an option of the current question
# (cschoice:<id>:<question position>:<option>), skip the comment or the file (csskip:<id>),
# consent and send (cssend:<id>), an invitation's answer (csinvite:<invitation id>:<yes|no>).
# Their arguments are checked by handlers.consultations.actions, which raises ForgedAction.
CONSULT_LIST: Final = "cslist"
CONSULT_OPEN: Final = "csopen"
CONSULT_PART: Final = "cspart"
CONSULT_CHOICE: Final = "cschoice"
CONSULT_SKIP: Final = "csskip"
CONSULT_SEND: Final = "cssend"
CONSULT_INVITE: Final = "csinvite"
CONSULT_VERBS: Final = frozenset(
    {CONSULT_OPEN, CONSULT_PART, CONSULT_CHOICE, CONSULT_SKIP, CONSULT_SEND, CONSULT_INVITE}
)
CMD_CONSULTATIONS: Final = "consultations"

# One resident across Telegram and Viber (handlers/linking.py): a code, or the linked screen.
LINK: Final = "link"
LINK_PREFER: Final = "linkvia"  # linkvia:<channel>: news and answers through that messenger
LINK_UNLINK: Final = "unlink"
LINK_UNLINK_YES: Final = "unlink:yes"
CMD_LINK: Final = "link"

CMD_START: Final = "start"
CMD_HELP: Final = "help"
CMD_SETTINGS: Final = "settings"
CMD_STOP: Final = "stop"
CMD_MENU: Final = "menu"
CMD_NEWS: Final = "news"

# The command menu the Telegram adapter publishes (setMyCommands): command -> catalog key.
PUBLIC_COMMANDS: Final = (
    (CMD_START, N_("command.start")),
    (CMD_NEWS, N_("command.news")),
    ("appeal", N_("command.appeal")),
    ("inforequest", N_("command.inforequest")),
    ("legalaid", N_("command.legalaid")),
    ("feedback", N_("command.feedback")),
    ("mytickets", N_("command.mytickets")),
    (CMD_CONSULTATIONS, N_("command.consultations")),
    (CMD_SETTINGS, N_("command.settings")),
    (CMD_HELP, N_("command.help")),
    (CMD_STOP, N_("command.stop")),
    ("mydata", N_("command.mydata")),
    ("forget", N_("command.forget")),
    (CMD_LINK, N_("command.link")),
)


def split(action: str) -> tuple[str, str]:
    """``"district:pokrovskyi"`` -> ``("district", "pokrovskyi")``; no argument -> ``""``."""
    verb, _, argument = action.partition(":")
    return verb, argument


def with_arg(verb: str, argument: str) -> str:
    return f"{verb}:{argument}"
