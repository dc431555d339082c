"""Texts shown in Viber never tell the resident to type a slash command: Viber residents cannot
tap one, and a typed command is easy to get wrong. Every catalog text that can reach a resident
is rendered (both languages) and checked; texts only staff read, and texts only Telegram shows
(its help, its command menu), are named here, so a new resident text is checked by default.

(The crawl in ``test_dead_ends`` checks the texts of every screen as Viber actually sent them.)
"""

from __future__ import annotations

import string

import pytest

from handlers import help as help_screen
from messaging.i18n import Catalog
from messaging.text import markup_to_plain
from storage.vocabulary import Channel
from tests.test_dead_ends import SLASH_COMMAND

CATALOG = Catalog.load()

# Read by staff only (their chats run in Telegram).
STAFF_ONLY = (
    "staff.",
    "news.",
    "stats.",
    "sla.",
    "spike.",
    "summary.title.",
    "summary.total",
    "summary.by_",
    "summary.line",
    "summary.overdue",
    "summary.words",
    "summary.phrases",
    "summary.term",
    "summary.poll",
    "summary.reach",
    "summary.chart",
    "poll.close.",
    "poll.compose.",
    "poll.progress.",
    "poll.prompt.",
    "poll.results.usage",
    "poll.results.staff",
    "poll.sending",
    "poll.denied",
)
# Shown in Telegram only: its help (Viber's is ``help.viber``) and its command menu.
TELEGRAM_ONLY = (help_screen.TEXT_KEYS[Channel.TELEGRAM.value], "command.")


def reaches_viber(key: str) -> bool:
    return not key.startswith(STAFF_ONLY + TELEGRAM_ONLY)


def render(language: str, key: str) -> str:
    template = CATALOG.raw(language, key)
    fields = {name for _, name, _, _ in string.Formatter().parse(template) if name}
    params: dict[str, object] = dict.fromkeys(fields, "7")
    if "count" in params:
        params["count"] = 7  # a plural message takes its form from a number
    return markup_to_plain(CATALOG.text(language, key, **params))


@pytest.mark.parametrize("language", CATALOG.languages)
def test_no_viber_text_names_a_slash_command(language: str) -> None:
    keys = sorted(k for k in CATALOG.keys(language) if reaches_viber(k))
    for resident_text in ("help.viber", "mydata.summary", "notice.appeal_how.feedback"):
        assert resident_text in keys
    found = {key: SLASH_COMMAND.findall(render(language, key)) for key in keys}
    assert {key: commands for key, commands in found.items() if commands} == {}


def test_the_check_sees_commands() -> None:
    assert SLASH_COMMAND.findall("Змінити: /settings, або (/stop).") == ["/settings", "/stop"]
    assert SLASH_COMMAND.findall("https://kr.gov.ua/news </b> 1/2 і/або") == []
    # Telegram's help names the commands, so it must stay out of Viber.
    assert SLASH_COMMAND.findall(render("uk", "help.telegram"))
    assert help_screen.text_key(Channel.VIBER.value) == "help.viber"
