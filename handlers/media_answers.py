"""Answers to what a resident sends that is not kept as a file: a sticker (a kind word), and a
file the bot could not receive (``FILE_FAILED``: too big, or the messenger's download failed),
which is answered with what went wrong and recorded in the audit log, so nothing a resident
sent disappears without a trace."""

from __future__ import annotations

from handlers.turn import Turn
from messaging import labels
from messaging.contract import TOO_BIG, EventKind
from messaging.i18n import Catalog, Markup
from storage import audit, kept_files

ANSWERED = frozenset({EventKind.STICKER, EventKind.FILE_FAILED})
_MB = 1024 * 1024


def answer(catalog: Catalog, turn: Turn) -> Markup:
    """The answer to a sticker or a file that could not be received (recorded here)."""
    event, lang = turn.event, turn.lang
    attachment = event.attachment
    if event.kind is EventKind.STICKER or attachment is None:
        return catalog.text(lang, "media.sticker")
    audit.record(
        turn.session,
        actor=turn.actor,
        action="resident.file_failed",
        now=turn.now,
        details={
            "kind": attachment.kind,
            "problem": attachment.problem,
            "size": attachment.size,
            "update": event.update_key[:128],
            "caption": bool(event.text),
        },
    )
    file = (
        f"«{attachment.file_name}»"
        if attachment.file_name
        else catalog.text(lang, labels.MEDIA_FILE[attachment.kind])
    )
    if attachment.problem == TOO_BIG:
        return catalog.text(
            lang,
            "media.too_big",
            file=file,
            size=catalog.decimal(lang, (attachment.size or 0) / _MB),
            limit=kept_files.MAX_BYTES // _MB,
        )
    return catalog.text(lang, "media.download_failed", file=file)
