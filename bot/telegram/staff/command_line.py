"""The staff chat's commands as typed: which exist, which act on one ticket, and how a line is
read (``/ban@citybot extra``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

CMD_TICKET: Final = "ticket"
CMD_FIND: Final = "find"
CMD_TEMPLATES: Final = "templates"
CMD_TEMPLATE: Final = "t"
CMD_TEMPLATE_ADD: Final = "template_add"
CMD_TEMPLATE_DEL: Final = "template_del"
CMD_BAN: Final = "ban"
CMD_UNBAN: Final = "unban"
CMD_NOTE: Final = "note"
CMD_HELP: Final = "help"
# Correct a media item's topic and tone (media monitoring).
CMD_MEDIA: Final = "media"
COMMANDS: Final = frozenset(
    {
        CMD_TICKET,
        CMD_FIND,
        CMD_TEMPLATES,
        CMD_TEMPLATE,
        CMD_TEMPLATE_ADD,
        CMD_TEMPLATE_DEL,
        CMD_BAN,
        CMD_UNBAN,
        CMD_NOTE,
        CMD_HELP,
        CMD_MEDIA,
    }
)
# Commands that act on one ticket: used in its topic or as a reply in its thread.
THREAD_COMMANDS: Final = frozenset({CMD_TEMPLATE, CMD_BAN, CMD_UNBAN, CMD_NOTE})


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    args: str


_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]+))?(?:\s+(.*))?$", re.DOTALL)


def parse_command(text: str, bot_username: str) -> Command | None:
    """``/ban@citybot extra`` -> Command("ban", "extra"); None for plain text (``/path/x`` too)
    or for a command addressed to another bot. Arguments keep their line breaks (templates)."""
    match = _COMMAND.match(text)
    if match is None:
        return None
    name, addressee, args = match.groups()
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return Command(name=name.lower(), args=(args or "").strip())
